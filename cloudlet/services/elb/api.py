"""Classic load balancer operations: listeners that really listen, instances really probed.

A classic load balancer is one document (its listeners, instances, health
check and attributes inside) in ``elb``'s own SQLite, its own loopback
address as DNSName (from a ``127.<b>.0.0/16`` block claimed like EC2's), an
HTTP ``ListenerServer`` or a ``TcpListenerServer`` per listener, and one
``TargetPool`` of its instances probed as ``ConfigureHealthCheck`` says
(``HTTP:80/path`` checks the status is 200, ``TCP:80`` only connects;
``HTTPS:`` and ``SSL:`` do the same over TLS). A listener whose
``InstanceProtocol`` is HTTPS or SSL reaches its instances over TLS. Unlike an ALB, a classic load balancer does not fail open: with no instance
``InService`` it answers 503. Stickiness policies are in ``policies``.
"""

from __future__ import annotations

import errno
import logging
import re
import ssl
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.elb.policies import PolicyOps, policies, stickiness_of
from cloudlet.services.elb.policies import error as _error
from cloudlet.services.elbv2 import metrics, tls
from cloudlet.services.elbv2.health import HealthCheck, TargetPool
from cloudlet.services.elbv2.proxy import Forward, ListenerServer
from cloudlet.services.elbv2.runtime import BalancerRuntime, Batch
from cloudlet.services.elbv2.store import Store
from cloudlet.services.elbv2.tcp import TcpListenerServer

log = logging.getLogger(__name__)
Doc = dict[str, Any]
HOSTED_ZONE = "Z35SXDOTRQ7X7K"
TARGET = re.compile(r"^(HTTP|HTTPS|TCP|SSL):(\d{1,5})(/.*)?$")
PLAIN = {"HTTP": "HTTP", "HTTPS": "HTTP", "TCP": "TCP", "SSL": "TCP"}
"""A listener protocol's protocol towards instances (TLS ends at the load balancer)."""


def _not_found(name: str) -> ServiceError:
    return _error(
        "AccessPointNotFoundException", f"There is no ACTIVE Load Balancer named '{name}'"
    )


def _validation(message: str) -> ServiceError:
    return _error("ValidationError", message)


def _check_of(doc: Doc) -> HealthCheck:
    hc = doc["HealthCheck"]
    protocol, port, path = TARGET.match(hc["Target"]).groups()  # type: ignore[union-attr]
    return HealthCheck(
        path=path or "/",
        port=port,
        interval=float(hc["Interval"]),
        timeout=float(hc["Timeout"]),
        healthy=int(hc["HealthyThreshold"]),
        unhealthy=int(hc["UnhealthyThreshold"]),
        matcher="200",
        protocol=protocol,
    )


class ElbService(BalancerRuntime, PolicyOps, Service):
    address_key = "DNSName"
    name = "elb"
    dialect = metrics.CLASSIC

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = Store(env.database("elb"))
        self._init_runtime()

    async def start(self) -> None:
        self._claim_addresses()
        for doc in self.store.all("lb"):
            self._pool(doc)
            for listener in doc["Listeners"]:
                try:
                    await self._open(doc, listener)
                except Exception:  # noqa: BLE001 - one port taken must not stop the server
                    log.exception("listener %s:%s not reopened", doc["DNSName"], listener)
        self._start_metrics()

    async def stop(self) -> None:
        await self._stop_runtime()

    # -- helpers ----------------------------------------------------------------

    def _key(self, ctx: Any, name: str) -> str:
        return f"{ctx.account_id}/{ctx.region}/{name}"

    def _lb(self, ctx: Any, name: str) -> Doc:
        doc = self.store.get("lb", self._key(ctx, name))
        if doc is None:
            raise _not_found(name)
        return doc

    def _pool(self, doc: Doc) -> TargetPool:
        pool = self.pools.get(doc["Arn"])
        if pool is None:
            pool = TargetPool(doc["Arn"], _check_of(doc), fail_open=False)
            self.pools[doc["Arn"]] = pool
            pool.use(True)
            for inst in doc["Instances"]:
                pool.add(inst["InstanceId"], 0, inst["Ip"])
        return pool

    def _metric_batches(self, taken: dict[tuple[str, str | None], metrics.Tally]) -> list[Batch]:
        out = []
        for doc in self.store.all("lb"):
            pool = self.pools.get(doc["Arn"])
            counts = metrics.host_counts(pool) if pool is not None else (None, None)
            dims = [("LoadBalancerName", doc["LoadBalancerName"])]
            data = self.meter.datums(dims, taken.get((doc["Arn"], None)), *counts)
            out.append((self.dialect.namespace, doc["account"], doc["region"], data))
        return out

    async def _context(self, listener: Doc) -> ssl.SSLContext | None:
        """The TLS context of an HTTPS/SSL listener (its certificate read from ACM)."""
        if not listener.get("SSLCertificateId"):
            return None
        return await tls.server_context(
            self.env, [listener["SSLCertificateId"]], tls.DEFAULT_POLICY
        )

    async def _open(self, doc: Doc, listener: Doc, context: ssl.SSLContext | None = None) -> None:
        """Serve ``listener``; ``context`` when its TLS context was read already."""
        pool = self._pool(doc)
        ip, port = doc["DNSName"], int(listener["LoadBalancerPort"])
        instance_port = int(listener["InstancePort"])
        secure = (listener.get("InstanceProtocol") or "").upper() in ("HTTPS", "SSL")
        attrs = doc["Attributes"]
        if context is None:
            context = await self._context(listener)
        if PLAIN[listener["Protocol"].upper()] == "TCP":

            def pick(source: str) -> tuple[str, int, bool] | None:
                target = pool.pick()
                return (target.ip, instance_port, secure) if target else None

            server: Any = TcpListenerServer(ip, port, pick, context)
        else:
            server = ListenerServer(
                ip,
                port,
                lambda req, p: Forward(doc["Arn"], [(pool, 1)], instance_port, secure),
                lambda: float(attrs["ConnectionSettings"]["IdleTimeout"]),
                self.backends,
                lambda req: self.meter.record(doc["Arn"], req),
                context,
                self._sealer(doc),
            )
            server.sticky = stickiness_of(doc, listener)
        try:
            await server.start()
        except PermissionError:
            raise _validation(
                f"cloudlet may not listen on port {port}: ports below 1024 need root or"
                " CAP_NET_BIND_SERVICE; use a LoadBalancerPort of 1024 or more"
            ) from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise _error(
                    "InvalidConfigurationRequestException",
                    f"Port {port} on {ip} is already in use on this machine",
                ) from None
            raise
        self.servers[(doc["Arn"], port)] = server

    def _listeners(self, listeners: list[Doc]) -> list[Doc]:
        out = []
        for listener in listeners:
            protocol = listener["Protocol"].upper()
            if protocol not in PLAIN:
                raise _validation(f"Listener protocol {protocol} is not valid")
            backend = (listener.get("InstanceProtocol") or PLAIN[protocol]).upper()
            if backend not in PLAIN:
                raise _validation(f"Instance protocol {backend} is not valid")
            if (PLAIN[backend] == "HTTP") != (PLAIN[protocol] == "HTTP"):
                raise _validation(
                    f"Instance protocol {backend} is not compatible with listener protocol"
                    f" {protocol}"
                )
            entry = {
                "Protocol": protocol,
                "LoadBalancerPort": int(listener["LoadBalancerPort"]),
                "InstanceProtocol": backend,
                "InstancePort": int(listener["InstancePort"]),
            }
            if protocol in ("HTTPS", "SSL"):
                if not listener.get("SSLCertificateId"):
                    raise _validation(f"SSLCertificateId is required for {protocol} listeners")
                entry["SSLCertificateId"] = listener["SSLCertificateId"]
            out.append(entry)
        return out

    async def _instances(self, ctx: Any, ids: list[str]) -> dict[str, str]:
        try:
            res = await self.env.call(
                "ec2",
                "DescribeInstances",
                {"InstanceIds": ids},
                account=ctx.account_id,
                region=ctx.region,
            )
        except ServiceError:
            raise _error(
                "InvalidEndPointException", "The specified EC2 Instance ID does not exist."
            ) from None
        found = {
            # The address the instance listens on (EC2 only describes its VPC address).
            i["InstanceId"]: i.get("CloudletHostAddress") or i.get("PrivateIpAddress", "")
            for r in res.get("Reservations", [])
            for i in r.get("Instances", [])
            if i["State"]["Name"] not in ("terminated", "shutting-down")
        }
        if set(ids) - set(found):
            raise _error(
                "InvalidEndPointException", "The specified EC2 Instance ID does not exist."
            )
        return found

    def _out(self, doc: Doc) -> Doc:
        return {
            "LoadBalancerName": doc["LoadBalancerName"],
            "DNSName": doc["DNSName"],
            "CanonicalHostedZoneName": doc["DNSName"],
            "CanonicalHostedZoneNameID": HOSTED_ZONE,
            "ListenerDescriptions": [
                {
                    "Listener": {k: v for k, v in lst.items() if k != "PolicyNames"},
                    "PolicyNames": lst.get("PolicyNames", []),
                }
                for lst in doc["Listeners"]
            ],
            "Policies": policies(doc),
            "BackendServerDescriptions": [],
            "AvailabilityZones": doc["AvailabilityZones"],
            "Subnets": doc["Subnets"],
            "VPCId": doc["VPCId"],
            "Instances": [{"InstanceId": i["InstanceId"]} for i in doc["Instances"]],
            "HealthCheck": doc["HealthCheck"],
            "SourceSecurityGroup": {"OwnerAlias": doc["account"], "GroupName": "default"},
            "SecurityGroups": doc["SecurityGroups"],
            "CreatedTime": datetime.fromtimestamp(doc["created"], UTC),
            "Scheme": doc["Scheme"],
        }

    # -- load balancers -------------------------------------------------------

    async def create_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        name = params["LoadBalancerName"]
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?", name):
            raise _validation(
                f"LoadBalancerName '{name}' must be at most 32 alphanumeric characters or hyphens"
            )
        key = self._key(ctx, name)
        if self.store.get("lb", key) is not None:
            raise _error(
                "DuplicateAccessPointNameException", f"Load Balancer named '{name}' already exists"
            )
        listeners = self._listeners(params["Listeners"])
        zones = list(params.get("AvailabilityZones") or [])
        if not zones and not params.get("Subnets"):
            raise _validation("Either AvailabilityZones or SubnetIds must be specified")
        first = listeners[0]["InstancePort"] if listeners else 80
        doc: Doc = {
            "Arn": key,
            "account": ctx.account_id,
            "region": ctx.region,
            "LoadBalancerName": name,
            "DNSName": self._free_address(),
            "Listeners": listeners,
            "AvailabilityZones": zones or [f"{ctx.region}a"],
            "Subnets": params.get("Subnets") or [],
            "VPCId": "vpc-00000000",
            "SecurityGroups": params.get("SecurityGroups") or [],
            "Scheme": params.get("Scheme", "internet-facing"),
            "Instances": [],
            "HealthCheck": {
                "Target": f"TCP:{first}",
                "Interval": 30,
                "Timeout": 5,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 10,
            },
            "Attributes": {
                "CrossZoneLoadBalancing": {"Enabled": False},
                "AccessLog": {"Enabled": False},
                "ConnectionDraining": {"Enabled": False, "Timeout": 300},
                "ConnectionSettings": {"IdleTimeout": 60},
            },
            "Tags": params.get("Tags") or [],
            "created": clock.time(),
        }
        opened = []
        try:
            for listener in listeners:
                await self._open(doc, listener)
                opened.append(listener["LoadBalancerPort"])
        except ServiceError:
            for port in opened:
                await self.servers.pop((key, port)).close()
            self.pools.pop(key).close()
            raise
        self.store.put("lb", doc)
        return {"DNSName": doc["DNSName"]}

    def describe_load_balancers(self, ctx: Any, params: Doc) -> Doc:
        names = params.get("LoadBalancerNames")
        if names:
            docs = [self._lb(ctx, n) for n in names]
        else:
            prefix = self._key(ctx, "")
            docs = [d for d in self.store.all("lb") if d["Arn"].startswith(prefix)]
        return {"LoadBalancerDescriptions": [self._out(d) for d in docs]}

    async def delete_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        doc = self.store.get("lb", self._key(ctx, params["LoadBalancerName"]))
        if doc is None:
            return {}
        for listener in doc["Listeners"]:
            server = self.servers.pop((doc["Arn"], listener["LoadBalancerPort"]), None)
            if server is not None:
                await server.close()
        pool = self.pools.pop(doc["Arn"], None)
        if pool is not None:
            pool.close()
        self.store.delete("lb", doc["Arn"])
        return {}

    async def create_load_balancer_listeners(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        ports = {lst["LoadBalancerPort"] for lst in doc["Listeners"]}
        for listener in self._listeners(params["Listeners"]):
            if listener["LoadBalancerPort"] in ports:
                raise _error(
                    "DuplicateListenerException",
                    f"A listener already exists for {doc['LoadBalancerName']} with"
                    f" LoadBalancerPort {listener['LoadBalancerPort']}",
                )
            await self._open(doc, listener)
            doc["Listeners"].append(listener)
        self.store.put("lb", doc)
        return {}

    async def delete_load_balancer_listeners(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        for port in params["LoadBalancerPorts"]:
            server = self.servers.pop((doc["Arn"], int(port)), None)
            if server is not None:
                await server.close()
        gone = {int(p) for p in params["LoadBalancerPorts"]}
        doc["Listeners"] = [lst for lst in doc["Listeners"] if lst["LoadBalancerPort"] not in gone]
        self.store.put("lb", doc)
        return {}

    async def set_load_balancer_listener_ssl_certificate(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        port = int(params["LoadBalancerPort"])
        listener = next((x for x in doc["Listeners"] if x["LoadBalancerPort"] == port), None)
        if listener is None:
            raise _error(
                "ListenerNotFoundException",
                f"LoadBalancer does not have a listener configured at port {port}.",
            )
        if listener["Protocol"] not in ("HTTPS", "SSL"):
            raise _error(
                "InvalidConfigurationRequestException",
                f"The listener on port {port} is not an HTTPS or SSL listener",
            )
        changed = {**listener, "SSLCertificateId": params["SSLCertificateId"]}
        context = await self._context(changed)  # a bad certificate leaves the old one serving
        server = self.servers.pop((doc["Arn"], port), None)
        if server is not None:
            await server.close()
        await self._open(doc, changed, context)
        doc["Listeners"] = [changed if x is listener else x for x in doc["Listeners"]]
        self.store.put("lb", doc)
        return {}

    # -- instances and health -------------------------------------------------

    async def register_instances_with_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        ids = [i["InstanceId"] for i in params["Instances"]]
        ips = await self._instances(ctx, ids)
        pool = self._pool(doc)
        known = {i["InstanceId"] for i in doc["Instances"]}
        for iid in ids:
            if iid not in known:
                doc["Instances"].append({"InstanceId": iid, "Ip": ips[iid]})
                known.add(iid)
            pool.add(iid, 0, ips[iid])
        self.store.put("lb", doc)
        return {"Instances": [{"InstanceId": i["InstanceId"]} for i in doc["Instances"]]}

    def deregister_instances_from_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        known = {i["InstanceId"] for i in doc["Instances"]}
        ids = [i["InstanceId"] for i in params["Instances"]]
        if set(ids) - known:
            raise _error(
                "InvalidEndPointException", "The specified EC2 Instance ID does not exist."
            )
        draining = doc["Attributes"]["ConnectionDraining"]
        delay = float(draining["Timeout"]) if draining["Enabled"] else 0.0
        pool = self._pool(doc)
        for iid in ids:
            pool.remove(iid, 0, delay)
        doc["Instances"] = [i for i in doc["Instances"] if i["InstanceId"] not in ids]
        self.store.put("lb", doc)
        return {"Instances": [{"InstanceId": i["InstanceId"]} for i in doc["Instances"]]}

    def describe_instance_health(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        pool = self._pool(doc)
        registered = [i["InstanceId"] for i in doc["Instances"]]
        wanted = [i["InstanceId"] for i in params.get("Instances") or []] or registered
        out = []
        for iid in wanted:
            target = pool.targets.get((iid, 0))
            if iid not in registered or target is None:
                raise _error(
                    "InvalidEndPointException", "The specified EC2 Instance ID does not exist."
                )
            if target.state == "healthy":
                state = {"State": "InService", "ReasonCode": "N/A", "Description": "N/A"}
            elif target.state == "unhealthy":
                state = {
                    "State": "OutOfService",
                    "ReasonCode": "Instance",
                    "Description": "Instance has failed at least the UnhealthyThreshold number"
                    " of health checks consecutively.",
                }
            else:
                state = {
                    "State": "OutOfService",
                    "ReasonCode": "ELB",
                    "Description": "Instance registration is still in progress.",
                }
            out.append({"InstanceId": iid, **state})
        return {"InstanceStates": out}

    def configure_health_check(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        hc = params["HealthCheck"]
        match = TARGET.match(hc["Target"])
        if match is None or (match.group(1) in ("HTTP", "HTTPS") and not match.group(3)):
            raise _validation(f"Invalid health check target '{hc['Target']}'")
        limits = {
            "Interval": (5, 300),
            "Timeout": (2, 60),
            "UnhealthyThreshold": (2, 10),
            "HealthyThreshold": (2, 10),
        }
        for key, (low, high) in limits.items():
            if not low <= int(hc[key]) <= high:
                raise _validation(f"HealthCheck {key} must be between {low} and {high}")
        if int(hc["Timeout"]) >= int(hc["Interval"]):
            raise _validation("HealthCheck Timeout must be less than Interval")
        doc["HealthCheck"] = {"Target": hc["Target"], **{k: int(hc[k]) for k in limits}}
        self.store.put("lb", doc)
        pool = self._pool(doc)
        pool.check = _check_of(doc)
        pool.restart_checks()
        return {"HealthCheck": doc["HealthCheck"]}

    # -- zones, attributes, tags ----------------------------------------------

    def enable_availability_zones_for_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        for zone in params["AvailabilityZones"]:
            if zone not in doc["AvailabilityZones"]:
                doc["AvailabilityZones"].append(zone)
        self.store.put("lb", doc)
        return {"AvailabilityZones": doc["AvailabilityZones"]}

    def disable_availability_zones_for_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        left = [z for z in doc["AvailabilityZones"] if z not in params["AvailabilityZones"]]
        if not left:
            raise _validation("Cannot remove all Availability Zones from a load balancer")
        doc["AvailabilityZones"] = left
        self.store.put("lb", doc)
        return {"AvailabilityZones": left}

    def describe_load_balancer_attributes(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        return {"LoadBalancerAttributes": doc["Attributes"]}

    def modify_load_balancer_attributes(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        for key, value in params["LoadBalancerAttributes"].items():
            if key in doc["Attributes"]:
                doc["Attributes"][key].update(value)
        idle = int(doc["Attributes"]["ConnectionSettings"]["IdleTimeout"])
        if not 1 <= idle <= 4000:
            raise _validation("IdleTimeout must be between 1 and 4000")
        self.store.put("lb", doc)
        return {
            "LoadBalancerName": doc["LoadBalancerName"],
            "LoadBalancerAttributes": doc["Attributes"],
        }

    def add_tags(self, ctx: Any, params: Doc) -> Doc:
        for name in params["LoadBalancerNames"]:
            doc = self._lb(ctx, name)
            tags = {t["Key"]: t.get("Value", "") for t in doc["Tags"]}
            tags.update({t["Key"]: t.get("Value", "") for t in params["Tags"]})
            doc["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            self.store.put("lb", doc)
        return {}

    def remove_tags(self, ctx: Any, params: Doc) -> Doc:
        for name in params["LoadBalancerNames"]:
            doc = self._lb(ctx, name)
            gone = {t["Key"] for t in params["Tags"]}
            doc["Tags"] = [t for t in doc["Tags"] if t["Key"] not in gone]
            self.store.put("lb", doc)
        return {}

    def describe_tags(self, ctx: Any, params: Doc) -> Doc:
        out = []
        for name in params["LoadBalancerNames"]:
            out.append({"LoadBalancerName": name, "Tags": self._lb(ctx, name)["Tags"]})
        return {"TagDescriptions": out}
