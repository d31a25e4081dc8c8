"""Target group operations: groups, their targets and attributes, target health.

A mixin of ``Elbv2Service`` so the API stays split by operation group. Each
target group document keeps its registered targets (with the address an
instance target resolved to when it was registered); the live health lives
in the group's ``TargetPool``.
"""

from __future__ import annotations

import re
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import arn, token_hex
from cloudlet.services.elbv2 import errors, sticky
from cloudlet.services.elbv2.health import HealthCheck, TargetPool

Doc = dict[str, Any]
TG_ATTRIBUTES = {
    "deregistration_delay.timeout_seconds": "300",
    "stickiness.enabled": "false",
    "stickiness.type": "lb_cookie",
    "stickiness.lb_cookie.duration_seconds": "86400",
    "stickiness.app_cookie.cookie_name": "",
    "stickiness.app_cookie.duration_seconds": "86400",
    "load_balancing.algorithm.type": "round_robin",
    "load_balancing.algorithm.anomaly_mitigation": "off",
    "slow_start.duration_seconds": "0",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
}
HC_FIELDS = {
    "HealthCheckIntervalSeconds": (5, 300, 30),
    "HealthCheckTimeoutSeconds": (2, 120, 5),
    "HealthyThresholdCount": (2, 10, 5),
    "UnhealthyThresholdCount": (2, 10, 2),
}
TG_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP")
"""Target group protocols served: HTTPS and TLS groups are reached over TLS; UDP and
TCP_UDP groups are health-checked over TCP (on the traffic port by default), HTTP
or HTTPS, since UDP is no health check protocol."""
NETWORK_GROUPS = ("TCP", "TLS", "UDP", "TCP_UDP")
NO_HEALTH_CHECKS = ("TLS", "UDP", "TCP_UDP", "GENEVE", "QUIC", "TCP_QUIC")
"""Protocols AWS refuses as health check protocols."""
STICKY_TYPES = {"HTTP": ("lb_cookie", "app_cookie"), "HTTPS": ("lb_cookie", "app_cookie")}
"""Stickiness types per target group protocol (TCP and TLS groups: ``source_ip``)."""
WEEK = 604800
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")


def health_check(doc: Doc) -> HealthCheck:
    return HealthCheck(
        path=doc.get("HealthCheckPath") or "/",
        port=str(doc.get("HealthCheckPort") or "traffic-port"),
        interval=float(doc["HealthCheckIntervalSeconds"]),
        timeout=float(doc["HealthCheckTimeoutSeconds"]),
        healthy=int(doc["HealthyThresholdCount"]),
        unhealthy=int(doc["UnhealthyThresholdCount"]),
        matcher=(doc.get("Matcher") or {}).get("HttpCode") or "200",
        enabled=bool(doc.get("HealthCheckEnabled", True)),
        protocol=doc.get("HealthCheckProtocol") or "HTTP",
    )


def _apply_health_settings(doc: Doc, params: Doc) -> None:
    for key, (low, high, default) in HC_FIELDS.items():
        value = int(params.get(key, doc.get(key, default)))
        if not low <= value <= high:
            raise errors.validation(f"{key} must be between {low} and {high}")
        doc[key] = value
    if doc["HealthCheckTimeoutSeconds"] >= doc["HealthCheckIntervalSeconds"]:
        raise errors.validation("Health check timeout must be smaller than the interval")
    for key in ("HealthCheckPath", "HealthCheckPort", "HealthCheckProtocol", "HealthCheckEnabled"):
        if key in params:
            doc[key] = params[key]
    if doc["HealthCheckProtocol"] in NO_HEALTH_CHECKS:
        raise errors.validation(
            f"Health check protocol '{doc['HealthCheckProtocol']}' is not supported;"
            " use TCP, HTTP or HTTPS"
        )
    if doc["HealthCheckProtocol"] not in ("HTTP", "HTTPS", "TCP"):
        raise errors.validation(
            f"Health check protocol '{doc['HealthCheckProtocol']}' is not supported by cloudlet"
            " yet (HTTP, HTTPS and TCP are)"
        )
    if "Matcher" in params:
        code = params["Matcher"].get("HttpCode", "200")
        if not re.fullmatch(r"\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*", code):
            raise errors.validation(f"Invalid HTTP code '{code}'")
        doc["Matcher"] = {"HttpCode": code}


def _check_stickiness(protocol: str, attrs: dict[str, str], type_given: bool) -> None:
    """The stickiness attributes as AWS accepts them (checked once all are applied)."""
    if attrs["stickiness.enabled"] not in ("true", "false"):
        raise errors.validation("Target group attribute 'stickiness.enabled' must be true or false")
    kind = attrs["stickiness.type"]
    allowed = STICKY_TYPES.get(protocol, ("source_ip",))
    if kind not in allowed and (type_given or attrs["stickiness.enabled"] == "true"):
        raise errors.validation(
            f"Stickiness type '{kind}' is not supported for target groups with the"
            f" {protocol} protocol"
        )
    for key in ("stickiness.lb_cookie.duration_seconds", "stickiness.app_cookie.duration_seconds"):
        value = attrs.get(key, "86400")
        if not (value.isdigit() and 1 <= int(value) <= WEEK):
            raise errors.validation(
                f"Target group attribute '{key}' must be between 1 and {WEEK} seconds"
            )
    name = attrs.get("stickiness.app_cookie.cookie_name", "")
    if name.upper().startswith(sticky.RESERVED):
        raise errors.validation(
            f"Application cookie name '{name}' cannot start with AWSALB, AWSALBAPP or AWSALBTG"
        )
    if attrs["stickiness.enabled"] == "true" and kind == "app_cookie" and not name:
        raise errors.validation(
            "Target group attribute 'stickiness.app_cookie.cookie_name' must be specified"
            " for app_cookie stickiness"
        )


class TargetGroupOps:
    """Operations on target groups (mixed into ``Elbv2Service``)."""

    store: Any
    pools: dict[str, TargetPool]
    env: Any

    def _tg(self, ctx: Any, tg_arn: str) -> Doc:
        doc = self.store.get("tg", tg_arn)
        if doc is None or doc["account"] != ctx.account_id or doc["region"] != ctx.region:
            raise errors.tg_not_found()
        return doc

    def _pool(self, doc: Doc) -> TargetPool:
        pool = self.pools.get(doc["Arn"])
        if pool is None:
            attrs = doc["Attributes"]
            pool = TargetPool(
                doc["Arn"],
                health_check(doc),
                lambda: attrs.get("load_balancing.algorithm.type", "round_robin"),
                tls=doc["Protocol"] in ("HTTPS", "TLS"),
            )
            pool.sticky = sticky.of_target_group(attrs)
            self.pools[doc["Arn"]] = pool
            for t in doc["Targets"]:
                pool.add(t["Id"], t["Port"], t["Ip"], t.get("AvailabilityZone", "all"))
        return pool

    def _tg_out(self, doc: Doc) -> Doc:
        out = {k: v for k, v in doc.items() if k not in ("Arn", "Targets", "Attributes", "Tags")}
        out.pop("account"), out.pop("region")
        out["TargetGroupArn"] = doc["Arn"]
        out["LoadBalancerArns"] = self._lbs_of_group(doc["Arn"])
        return out

    def create_target_group(self, ctx: Any, params: Doc) -> Doc:
        name = params["Name"]
        if not NAME.match(name):
            raise errors.validation(
                f"Target group name '{name}' can only contain characters that are alphanumeric"
                " characters or hyphens(-) and must be at most 32 characters"
            )
        target_type = params.get("TargetType", "instance")
        if target_type not in ("instance", "ip"):
            raise errors.validation(f"Target type '{target_type}' is not supported by cloudlet")
        protocol = params.get("Protocol", "HTTP")
        if protocol not in TG_PROTOCOLS:
            raise errors.validation(f"Protocol '{protocol}' is not supported by cloudlet yet")
        if "Port" not in params:
            raise errors.validation("A port must be specified")
        for doc in self.store.all("tg"):
            if (doc["account"], doc["region"], doc["TargetGroupName"]) == (
                ctx.account_id,
                ctx.region,
                name,
            ):
                if doc["Port"] == params["Port"] and doc["Protocol"] == protocol:
                    return {"TargetGroups": [self._tg_out(doc)]}
                raise errors.duplicate_tg()
        doc: Doc = {
            "Arn": arn(
                "elasticloadbalancing",
                ctx.region,
                ctx.account_id,
                f"targetgroup/{name}/{token_hex(8)}",
            ),
            "account": ctx.account_id,
            "region": ctx.region,
            "TargetGroupName": name,
            "Protocol": protocol,
            "Port": int(params["Port"]),
            "VpcId": params.get("VpcId", "vpc-00000000"),
            "HealthCheckProtocol": "TCP" if protocol in NETWORK_GROUPS else protocol,
            "HealthCheckPort": "traffic-port",
            "HealthCheckEnabled": True,
            "HealthCheckPath": "/",
            "Matcher": {"HttpCode": "200"},
            "TargetType": target_type,
            "ProtocolVersion": params.get("ProtocolVersion", "HTTP1"),
            "IpAddressType": params.get("IpAddressType", "ipv4"),
            "Targets": [],
            "Attributes": {
                **TG_ATTRIBUTES,
                "stickiness.type": STICKY_TYPES.get(protocol, ("source_ip",))[0],
            },
            "Tags": params.get("Tags") or [],
            "created": clock.time(),
        }
        _apply_health_settings(doc, params)
        self.store.put("tg", doc)
        self._pool(doc)
        return {"TargetGroups": [self._tg_out(doc)]}

    def describe_target_groups(self, ctx: Any, params: Doc) -> Doc:
        docs = [
            d
            for d in self.store.all("tg")
            if d["account"] == ctx.account_id and d["region"] == ctx.region
        ]
        if arns := params.get("TargetGroupArns"):
            docs = [self._tg(ctx, a) for a in arns]
        if names := params.get("Names"):
            docs = [d for d in docs if d["TargetGroupName"] in names]
            if len(docs) != len(set(names)):
                raise errors.tg_not_found()
        if lb_arn := params.get("LoadBalancerArn"):
            docs = [d for d in docs if lb_arn in self._lbs_of_group(d["Arn"])]
        return {"TargetGroups": [self._tg_out(d) for d in docs]}

    def modify_target_group(self, ctx: Any, params: Doc) -> Doc:
        doc = self._tg(ctx, params["TargetGroupArn"])
        _apply_health_settings(doc, params)
        self.store.put("tg", doc)
        pool = self._pool(doc)
        pool.check = health_check(doc)
        pool.restart_checks()
        return {"TargetGroups": [self._tg_out(doc)]}

    def delete_target_group(self, ctx: Any, params: Doc) -> Doc:
        doc = self.store.get("tg", params["TargetGroupArn"])
        if doc is None:
            return {}
        self._tg(ctx, doc["Arn"])
        if self._lbs_of_group(doc["Arn"]):
            raise errors.in_use(
                f"Target group '{doc['Arn']}' is currently in use by a listener or a rule"
            )
        pool = self.pools.pop(doc["Arn"], None)
        if pool is not None:
            pool.close()
        self.store.delete("tg", doc["Arn"])
        return {}

    async def _resolve(self, ctx: Any, doc: Doc, targets: list[Doc]) -> list[Doc]:
        out = []
        ips: dict[str, str] = {}
        if doc["TargetType"] == "instance":
            ids = [t["Id"] for t in targets]
            try:
                res = await self.env.call(
                    "ec2",
                    "DescribeInstances",
                    {"InstanceIds": ids},
                    account=ctx.account_id,
                    region=ctx.region,
                )
            except ServiceError as exc:
                raise errors.invalid_target(
                    "The following targets are not valid instances: " + exc.message
                ) from None
            for reservation in res.get("Reservations", []):
                for inst in reservation.get("Instances", []):
                    if inst["State"]["Name"] not in ("pending", "running"):
                        raise errors.invalid_target(
                            "The following targets are not in a running state and cannot be"
                            f" registered: '{inst['InstanceId']}'"
                        )
                    # EC2 hands in-process callers the address the instance listens on
                    # (its VPC address is only described); older answers lack it.
                    ips[inst["InstanceId"]] = (
                        inst.get("CloudletHostAddress") or inst["PrivateIpAddress"]
                    )
        else:
            ips = await self._instance_addresses(ctx, doc, [t["Id"] for t in targets])
        for t in targets:
            port = int(t.get("Port") or doc["Port"])
            if not 1 <= port <= 65535:
                raise errors.validation(f"Port '{port}' is not valid")
            if doc["TargetType"] == "instance":
                if t["Id"] not in ips:
                    raise errors.invalid_target(f"The following targets are not valid: {t['Id']}")
                ip = ips[t["Id"]]
            else:
                ip = t["Id"]
                if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", ip):
                    raise errors.validation(f"'{ip}' is not a valid IP address")
                ip = ips.get(ip, ip)
            out.append(
                {
                    "Id": t["Id"],
                    "Port": port,
                    "Ip": ip,
                    "AvailabilityZone": t.get("AvailabilityZone", "all"),
                }
            )
        return out

    async def _instance_addresses(self, ctx: Any, doc: Doc, wanted: list[str]) -> dict[str, str]:
        """IP targets that are instances' VPC addresses (EC2 only describes those), mapped
        to the addresses the instances listen on; other addresses are used as given."""
        wanted = [ip for ip in wanted if not ip.startswith("127.")]
        if not wanted or not doc.get("VpcId"):
            return {}
        filters = [
            {"Name": "vpc-id", "Values": [doc["VpcId"]]},
            {"Name": "private-ip-address", "Values": wanted},
        ]
        try:
            res = await self.env.call(
                "ec2",
                "DescribeInstances",
                {"Filters": filters},
                account=ctx.account_id,
                region=ctx.region,
            )
        except ServiceError:
            return {}
        return {
            inst["PrivateIpAddress"]: inst["CloudletHostAddress"]
            for reservation in res.get("Reservations", [])
            for inst in reservation.get("Instances", [])
            if inst.get("CloudletHostAddress") and inst.get("PrivateIpAddress")
        }

    async def register_targets(self, ctx: Any, params: Doc) -> Doc:
        doc = self._tg(ctx, params["TargetGroupArn"])
        targets = await self._resolve(ctx, doc, params["Targets"])
        pool = self._pool(doc)
        known = {(t["Id"], t["Port"]) for t in doc["Targets"]}
        for t in targets:
            if (t["Id"], t["Port"]) not in known:
                doc["Targets"].append(t)
                known.add((t["Id"], t["Port"]))
            pool.add(t["Id"], t["Port"], t["Ip"], t["AvailabilityZone"])
        self.store.put("tg", doc)
        return {}

    def deregister_targets(self, ctx: Any, params: Doc) -> Doc:
        doc = self._tg(ctx, params["TargetGroupArn"])
        pool = self._pool(doc)
        delay = float(doc["Attributes"]["deregistration_delay.timeout_seconds"])
        for t in params["Targets"]:
            port = int(t.get("Port") or doc["Port"])
            doc["Targets"] = [x for x in doc["Targets"] if (x["Id"], x["Port"]) != (t["Id"], port)]
            pool.remove(t["Id"], port, delay)
        self.store.put("tg", doc)
        return {}

    def describe_target_health(self, ctx: Any, params: Doc) -> Doc:
        doc = self._tg(ctx, params["TargetGroupArn"])
        pool = self._pool(doc)
        hc_port = str(doc.get("HealthCheckPort") or "traffic-port")
        out = []
        wanted = params.get("Targets")
        live = list(pool.targets.values())
        if wanted:
            keys = [(t["Id"], int(t.get("Port") or doc["Port"])) for t in wanted]
        else:
            keys = [(t.id, t.port) for t in live]
        for key in keys:
            target = pool.targets.get(key)
            port = key[1] if hc_port == "traffic-port" else int(hc_port)
            item: Doc = {
                "Target": {"Id": key[0], "Port": key[1]},
                "HealthCheckPort": str(port),
            }
            if target is None:
                item["TargetHealth"] = {
                    "State": "unused",
                    "Reason": "Target.NotRegistered",
                    "Description": "Target is not registered to the target group",
                }
            else:
                item["TargetHealth"] = target.describe(pool.in_use)
                if target.zone != "all":
                    item["Target"]["AvailabilityZone"] = target.zone
            out.append(item)
        return {"TargetHealthDescriptions": out}

    def describe_target_group_attributes(self, ctx: Any, params: Doc) -> Doc:
        doc = self._tg(ctx, params["TargetGroupArn"])
        return {"Attributes": [{"Key": k, "Value": v} for k, v in doc["Attributes"].items()]}

    def modify_target_group_attributes(self, ctx: Any, params: Doc) -> Doc:
        doc = self._tg(ctx, params["TargetGroupArn"])
        attrs = dict(doc["Attributes"])
        for attr in params["Attributes"]:
            key, value = attr["Key"], attr["Value"]
            if key not in TG_ATTRIBUTES:
                raise errors.validation(f"Target group attribute key '{key}' is not recognized")
            if key == "deregistration_delay.timeout_seconds" and not (
                value.isdigit() and 0 <= int(value) <= 3600
            ):
                raise errors.validation(
                    "Target group attribute 'deregistration_delay.timeout_seconds' must be"
                    " between 0 and 3600"
                )
            if key == "load_balancing.algorithm.type" and value not in (
                "round_robin",
                "least_outstanding_requests",
            ):
                raise errors.validation(f"Load balancing algorithm '{value}' is not valid")
            attrs[key] = value
        given = {a["Key"] for a in params["Attributes"]}
        _check_stickiness(doc["Protocol"], attrs, "stickiness.type" in given)
        doc["Attributes"].update(attrs)  # in place: the pool reads the algorithm from it
        self.store.put("tg", doc)
        self._pool(doc).sticky = sticky.of_target_group(doc["Attributes"])
        return {"Attributes": [{"Key": k, "Value": v} for k, v in doc["Attributes"].items()]}
