"""Elastic Load Balancing v2 operations: application load balancers that carry traffic.

Each load balancer gets its own loopback address from a ``127.<b>.0.0/16``
block this server claims machine-wide (the claim mechanism EC2 uses, so the
block never overlaps an EC2 block); its ``DNSName`` is that address, which
resolves everywhere without set-up. Each listener is a server really
listening on that address and the listener's port (``serving``); rules and default
actions are read from the stored documents on every request, so changes act
at once. Target groups are in ``groups``; health checks in ``health``.

Listener ports below 1024 are bound when the process may (root, or
``CAP_NET_BIND_SERVICE``); otherwise CreateListener answers a
``ValidationError`` saying so, and nothing is stored.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.ids import arn, token_hex
from cloudlet.services.base import Service, ServiceEnv
from cloudlet.services.elbv2 import errors, metrics, rules, tls
from cloudlet.services.elbv2.groups import NAME, TargetGroupOps
from cloudlet.services.elbv2.listener_attrs import ListenerAttributeOps
from cloudlet.services.elbv2.listeners import ListenerOps
from cloudlet.services.elbv2.proxy import Forward, error_reply
from cloudlet.services.elbv2.runtime import BalancerRuntime, Batch
from cloudlet.services.elbv2.serving import ListenerServing
from cloudlet.services.elbv2.store import Store

log = logging.getLogger(__name__)
Doc = dict[str, Any]
LB_ATTRIBUTES = {
    "idle_timeout.timeout_seconds": "60",
    "deletion_protection.enabled": "false",
    "routing.http2.enabled": "true",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http.preserve_host_header.enabled": "false",
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "load_balancing.cross_zone.enabled": "true",
    "client_keep_alive.seconds": "3600",
}
HOSTED_ZONE = "Z35SXDOTRQ7X7K"
RENEWAL_CHECK_SECONDS = 5.0
"""How often listeners look for renewed ACM certificates (``tls.refresh_renewed``)."""


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Elbv2Service(
    BalancerRuntime, ListenerServing, TargetGroupOps, ListenerOps, ListenerAttributeOps, Service
):
    address_key = "Ip"
    name = "elbv2"
    dialect = metrics.APPLICATION

    def __init__(self, env: ServiceEnv) -> None:
        super().__init__(env)
        self.store = Store(env.database("elbv2"))
        self._init_runtime()

    async def start(self) -> None:
        self._claim_addresses()
        for doc in self.store.all("tg"):
            self._pool(doc)
        for listener in self.store.all("listener"):
            try:
                await self._open(listener)
            except Exception:  # noqa: BLE001 - one port taken must not stop the server
                log.exception("listener %s not reopened", listener["Arn"])
        self._refresh_usage()
        self._start_metrics()
        # renewed ACM certificates, for classic and v2 listeners alike (``tls``)
        self.env.every(RENEWAL_CHECK_SECONDS, lambda: tls.refresh_renewed(self.env), "elb-renewals")

    async def stop(self) -> None:
        await self._stop_runtime()

    # -- load balancers -------------------------------------------------------

    def _lb(self, ctx: Any, lb_arn: str) -> Doc:
        doc = self.store.get("lb", lb_arn)
        if doc is None or doc["account"] != ctx.account_id or doc["region"] != ctx.region:
            raise errors.lb_not_found()
        return doc

    def _lb_out(self, doc: Doc) -> Doc:
        return {
            "LoadBalancerArn": doc["Arn"],
            "DNSName": doc["DNSName"],
            "CanonicalHostedZoneId": HOSTED_ZONE,
            "CreatedTime": _when(doc["created"]),
            "LoadBalancerName": doc["LoadBalancerName"],
            "Scheme": doc["Scheme"],
            "VpcId": doc["VpcId"],
            "State": {"Code": "active"},
            "Type": doc["Type"],
            "AvailabilityZones": doc["AvailabilityZones"],
            "SecurityGroups": doc["SecurityGroups"],
            "IpAddressType": doc["IpAddressType"],
        }

    async def _zones(self, ctx: Any, subnets: list[str]) -> tuple[list[Doc], str]:
        params: Doc = (
            {"SubnetIds": subnets}
            if subnets
            else {"Filters": [{"Name": "default-for-az", "Values": ["true"]}]}
        )
        try:
            res = await self.env.call(
                "ec2", "DescribeSubnets", params, account=ctx.account_id, region=ctx.region
            )
        except Exception:  # noqa: BLE001 - unknown subnets, or EC2 unable to answer
            if subnets:
                raise errors.subnet_not_found(subnets[0]) from None
            return [], "vpc-00000000"
        found = res.get("Subnets", [])
        zones = [
            {
                "ZoneName": s["AvailabilityZone"],
                "SubnetId": s["SubnetId"],
                "LoadBalancerAddresses": [],
            }
            for s in found
        ]
        return zones, found[0]["VpcId"] if found else "vpc-00000000"

    async def create_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        name = params["Name"]
        if not NAME.match(name) or name.lower().startswith("internal-"):
            raise errors.validation(
                f"The load balancer name '{name}' must be at most 32 alphanumeric characters"
                " or hyphens, and must not begin or end with a hyphen"
            )
        lb_type = params.get("Type", "application")
        if lb_type not in ("application", "network"):
            raise errors.validation(f"Load balancer type '{lb_type}' is not supported by cloudlet")
        for doc in self.store.all("lb"):
            if (doc["account"], doc["region"], doc["LoadBalancerName"]) == (
                ctx.account_id,
                ctx.region,
                name,
            ):
                return {"LoadBalancers": [self._lb_out(doc)]}
        subnets = list(params.get("Subnets") or [])
        subnets += [m["SubnetId"] for m in params.get("SubnetMappings") or []]
        zones, vpc = await self._zones(ctx, subnets)
        resource_id = token_hex(8)
        ip = self._free_address()
        doc = {
            "Arn": arn(
                "elasticloadbalancing",
                ctx.region,
                ctx.account_id,
                f"loadbalancer/{lb_type[:3]}/{name}/{resource_id}",
            ),
            "account": ctx.account_id,
            "region": ctx.region,
            "LoadBalancerName": name,
            "Ip": ip,
            "DNSName": ip,
            "Scheme": params.get("Scheme", "internet-facing"),
            "VpcId": vpc,
            "Type": lb_type,
            "AvailabilityZones": zones,
            "SecurityGroups": params.get("SecurityGroups") or [],
            "IpAddressType": params.get("IpAddressType", "ipv4"),
            "Attributes": dict(LB_ATTRIBUTES),
            "Tags": params.get("Tags") or [],
            "created": clock.time(),
        }
        self.store.put("lb", doc)
        return {"LoadBalancers": [self._lb_out(doc)]}

    def describe_load_balancers(self, ctx: Any, params: Doc) -> Doc:
        docs = [
            d
            for d in self.store.all("lb")
            if d["account"] == ctx.account_id and d["region"] == ctx.region
        ]
        if arns := params.get("LoadBalancerArns"):
            docs = [self._lb(ctx, a) for a in arns]
        if names := params.get("Names"):
            docs = [d for d in docs if d["LoadBalancerName"] in names]
            if len(docs) != len(set(names)):
                raise errors.lb_not_found()
        return {"LoadBalancers": [self._lb_out(d) for d in docs]}

    async def delete_load_balancer(self, ctx: Any, params: Doc) -> Doc:
        doc = self.store.get("lb", params["LoadBalancerArn"])
        if doc is None:
            return {}
        self._lb(ctx, doc["Arn"])
        if doc["Attributes"].get("deletion_protection.enabled") == "true":
            raise errors.invalid_config(
                f"Load balancer '{doc['Arn']}' cannot be deleted because deletion protection"
                " is enabled"
            )
        for listener in self.store.all("listener"):
            if listener["LoadBalancerArn"] == doc["Arn"]:
                await self._drop_listener(listener)
        self.store.delete("lb", doc["Arn"])
        self.meter.forget(doc["Arn"])
        self._refresh_usage()
        return {}

    def describe_load_balancer_attributes(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerArn"])
        return {"Attributes": [{"Key": k, "Value": v} for k, v in doc["Attributes"].items()]}

    def modify_load_balancer_attributes(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerArn"])
        for attr in params["Attributes"]:
            key, value = attr["Key"], attr["Value"]
            if key not in LB_ATTRIBUTES:
                raise errors.validation(f"Load balancer attribute key '{key}' is not recognized")
            if key == "idle_timeout.timeout_seconds" and not (
                value.isdigit() and 1 <= int(value) <= 4000
            ):
                raise errors.validation(
                    "Load balancer attribute 'idle_timeout.timeout_seconds' must be between"
                    " 1 and 4000"
                )
            doc["Attributes"][key] = value
        self.store.put("lb", doc)
        return {"Attributes": [{"Key": k, "Value": v} for k, v in doc["Attributes"].items()]}

    def set_security_groups(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerArn"])
        doc["SecurityGroups"] = params["SecurityGroups"]
        self.store.put("lb", doc)
        return {"SecurityGroupIds": doc["SecurityGroups"]}

    # -- tags -----------------------------------------------------------------

    def _tagged(self, resource: str) -> tuple[str, Doc]:
        for kind in ("lb", "tg", "listener", "rule"):
            doc = self.store.get(kind, resource)
            if doc is not None:
                return kind, doc
        if ":targetgroup/" in resource:
            raise errors.tg_not_found()
        raise errors.lb_not_found()

    def add_tags(self, ctx: Any, params: Doc) -> Doc:
        for resource in params["ResourceArns"]:
            kind, doc = self._tagged(resource)
            tags = {t["Key"]: t.get("Value", "") for t in doc.get("Tags", [])}
            tags.update({t["Key"]: t.get("Value", "") for t in params["Tags"]})
            doc["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            self.store.put(kind, doc)
        return {}

    def remove_tags(self, ctx: Any, params: Doc) -> Doc:
        for resource in params["ResourceArns"]:
            kind, doc = self._tagged(resource)
            doc["Tags"] = [t for t in doc.get("Tags", []) if t["Key"] not in params["TagKeys"]]
            self.store.put(kind, doc)
        return {}

    def describe_tags(self, ctx: Any, params: Doc) -> Doc:
        out = []
        for resource in params["ResourceArns"]:
            _, doc = self._tagged(resource)
            out.append({"ResourceArn": resource, "Tags": doc.get("Tags", [])})
        return {"TagDescriptions": out}

    def _metric_batches(self, taken: dict[tuple[str, str | None], metrics.Tally]) -> list[Batch]:
        groups_of: dict[str, set[str]] = {}
        for rule in self.store.all("rule"):
            listener = self.store.get("listener", rule["ListenerArn"])
            for action in rule["Actions"]:
                if listener is not None and action["Type"] == "forward":
                    groups = groups_of.setdefault(listener["LoadBalancerArn"], set())
                    groups.update(a for a, _ in rules.forward_groups(action))
        out: list[Batch] = []
        for lb in self.store.all("lb"):
            lb_dim = ("LoadBalancer", lb["Arn"].split(":loadbalancer/", 1)[1])
            network = lb["Type"] == "network"
            zones = [[("AvailabilityZone", z["ZoneName"])] for z in lb["AvailabilityZones"][:1]]
            if network:
                data = self.meter.flow_datums(lb["Arn"], [[*dims, lb_dim] for dims in [[], *zones]])
            else:
                data = self.meter.datums([lb_dim], taken.get((lb["Arn"], None)), None, None)
            for tg_arn in sorted(groups_of.get(lb["Arn"], ())):
                pool = self.pools.get(tg_arn)
                if pool is None:
                    continue
                dims = [lb_dim, ("TargetGroup", tg_arn.split(":", 5)[5])]
                counts = metrics.host_counts(pool)
                data += self.meter.datums(dims, taken.get((lb["Arn"], tg_arn)), *counts)
                for zone in zones if network else []:
                    data += self.meter.datums([*zone, *dims], None, *counts)
            if data:
                namespace = metrics.NETWORK if network else self.dialect.namespace
                out.append((namespace, lb["account"], lb["region"], data))
        return out

    def _route(self, listener_arn: str, req: Any, port: int) -> Any:
        for rule in self._rules_in_order(listener_arn):
            if rule.get("IsDefault") or rules.rule_matches(rule, req):
                actions = sorted(rule["Actions"], key=lambda a: a.get("Order", 0))
                if not actions:
                    return error_reply(503)
                action = actions[-1]
                if action["Type"] == "redirect":
                    return rules.redirect(action["RedirectConfig"], req, port)
                if action["Type"] == "fixed-response":
                    return rules.fixed(action["FixedResponseConfig"])
                groups = []
                for tg_arn, weight in rules.forward_groups(action):
                    doc = self.store.get("tg", tg_arn)
                    if doc is not None:
                        groups.append((self._pool(doc), weight))
                ttl = rules.group_stickiness(action) if len(groups) > 1 else None
                return Forward(rule["Arn"], groups, group_ttl=ttl)
        return error_reply(503)
