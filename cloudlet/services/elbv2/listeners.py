"""Listener and rule operations (mixed into ``Elbv2Service``).

A listener's default actions are kept as its default rule (``IsDefault``,
priority ``default``) so DescribeRules and routing see one ordered list.
Actions and conditions are normalised to the full form AWS returns
(``ForwardConfig`` beside ``TargetGroupArn``, ``PathPatternConfig`` beside
``Values``). Which target groups are in use (and so health-checked) follows
from the stored listeners and rules after every change.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.ids import token_hex
from cloudlet.services.elbv2 import errors, rules, tls

Doc = dict[str, Any]
CONFIG_OF = {
    "path-pattern": "PathPatternConfig",
    "host-header": "HostHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "source-ip": "SourceIpConfig",
}
ACTIONS = ("forward", "redirect", "fixed-response")
PROTOCOLS = {"application": ("HTTP", "HTTPS"), "network": ("TCP", "TLS", "UDP", "TCP_UDP")}
"""Listener protocols per load balancer type (the first the default)."""
AWS_PROTOCOLS = {"application": "HTTPS, HTTP", "network": "TCP_UDP, TLS, UDP, TCP"}
SECURE = ("HTTPS", "TLS")
GROUP_PROTOCOLS = {
    "HTTP": ("HTTP", "HTTPS"),
    "HTTPS": ("HTTP", "HTTPS"),
    "TCP": ("TCP", "TCP_UDP"),
    "TLS": ("TCP", "TLS"),
    "UDP": ("UDP", "TCP_UDP"),
    "TCP_UDP": ("TCP_UDP",),
}
"""Listener protocol -> the target group protocols it may forward to."""


class ListenerOps:
    store: Any
    servers: dict[str, Any]
    pools: dict[str, Any]

    # provided by the service / target group mixin
    def _lb(self, ctx: Any, lb_arn: str) -> Doc: ...
    def _tg(self, ctx: Any, tg_arn: str) -> Doc: ...
    def _pool(self, doc: Doc) -> Any: ...
    async def _open(self, listener: Doc) -> None: ...
    async def _reopen(self, listener: Doc) -> None: ...

    def _listener(self, ctx: Any, listener_arn: str) -> Doc:
        doc = self.store.get("listener", listener_arn)
        if doc is None or doc["account"] != ctx.account_id or doc["region"] != ctx.region:
            raise errors.listener_not_found()
        return doc

    _rule_order: tuple[int, dict[str, list[Doc]]] | None = None

    def _rules_in_order(self, listener_arn: str) -> list[Doc]:
        """A listener's rules by priority, default last; worked out once per change
        of the stored documents, not on every request the proxy routes."""
        cached = self._rule_order
        if cached is None or cached[0] != self.store.version:
            by_listener: dict[str, list[Doc]] = {}
            for rule in self.store.all("rule"):
                by_listener.setdefault(rule["ListenerArn"], []).append(rule)
            for rules_ in by_listener.values():
                rules_.sort(key=lambda r: (1, 0) if r.get("IsDefault") else (0, int(r["Priority"])))
            cached = self._rule_order = (self.store.version, by_listener)
        return cached[1].get(listener_arn, [])

    def _lbs_of_group(self, tg_arn: str) -> list[str]:
        lbs = []
        for rule in self.store.all("rule"):
            for action in rule["Actions"]:
                if action["Type"] == "forward" and tg_arn in dict(rules.forward_groups(action)):
                    listener = self.store.get("listener", rule["ListenerArn"])
                    if listener and listener["LoadBalancerArn"] not in lbs:
                        lbs.append(listener["LoadBalancerArn"])
        return lbs

    def _refresh_usage(self) -> None:
        used = set()
        for rule in self.store.all("rule"):
            for action in rule["Actions"]:
                if action["Type"] == "forward":
                    used.update(a for a, _ in rules.forward_groups(action))
        for doc in self.store.all("tg"):
            self._pool(doc).use(doc["Arn"] in used)

    def _actions(self, ctx: Any, actions: list[Doc]) -> list[Doc]:
        if not actions:
            raise errors.validation("At least one action must be specified")
        out = []
        for i, action in enumerate(actions, 1):
            kind = action.get("Type")
            if kind not in ACTIONS:
                raise errors.validation(f"Action type '{kind}' is not supported by cloudlet")
            action = dict(action)
            action.setdefault("Order", i)
            if kind == "forward":
                groups = rules.forward_groups(action)
                if not groups:
                    raise errors.validation("A target group ARN must be specified")
                for tg_arn, _ in groups:
                    self._tg(ctx, tg_arn)
                config = dict(action.get("ForwardConfig") or {})
                config["TargetGroups"] = [{"TargetGroupArn": a, "Weight": w} for a, w in groups]
                config.setdefault("TargetGroupStickinessConfig", {"Enabled": False})
                stick = config["TargetGroupStickinessConfig"]
                if stick.get("Enabled") and not 1 <= int(stick.get("DurationSeconds") or 0) <= (
                    604800
                ):
                    raise errors.validation(
                        "Target group stickiness duration must be between 1 and 604800 seconds"
                    )
                action["ForwardConfig"] = config
                if len(groups) == 1:
                    action["TargetGroupArn"] = groups[0][0]
            elif kind == "redirect":
                config = action.get("RedirectConfig")
                if not config or config.get("StatusCode") not in ("HTTP_301", "HTTP_302"):
                    raise errors.validation(
                        "A redirect action needs a StatusCode of HTTP_301 or HTTP_302"
                    )
                action["RedirectConfig"] = {
                    "Protocol": "#{protocol}",
                    "Port": "#{port}",
                    "Host": "#{host}",
                    "Path": "/#{path}",
                    "Query": "#{query}",
                    **config,
                }
            else:
                config = action.get("FixedResponseConfig")
                if not config or not str(config.get("StatusCode", "")).isdigit():
                    raise errors.validation("A fixed-response action needs a StatusCode")
            out.append(action)
        return out

    def _conditions(self, conditions: list[Doc]) -> list[Doc]:
        out = []
        for cond in conditions:
            cond = dict(cond)
            field = cond.get("Field")
            if field not in (*CONFIG_OF, "http-header", "query-string"):
                raise errors.validation(f"Condition field '{field}' is not valid")
            config = CONFIG_OF.get(field)
            if config:
                values = (cond.get(config) or {}).get("Values") or cond.get("Values") or []
                cond[config] = {"Values": values}
                if field in ("path-pattern", "host-header"):
                    cond["Values"] = values
            out.append(cond)
        return out

    def _protocol(self, lb: Doc, protocol: str) -> str:
        allowed = PROTOCOLS[lb["Type"]]
        if protocol not in allowed:
            raise errors.validation(
                f"Listener protocol '{protocol}' must be one of '{AWS_PROTOCOLS[lb['Type']]}'"
            )
        return protocol

    def _check_groups(self, protocol: str, actions: list[Doc]) -> None:
        """HTTP(S) listeners forward to HTTP(S) groups; TCP listeners to TCP or TCP_UDP
        groups, TLS listeners to TCP or TLS groups, UDP listeners to UDP or TCP_UDP
        groups and TCP_UDP listeners to TCP_UDP groups."""
        want = GROUP_PROTOCOLS[protocol]
        for action in actions:
            if action["Type"] != "forward":
                if protocol not in ("HTTP", "HTTPS"):
                    raise errors.validation(
                        f"Action type '{action['Type']}' is not supported for {protocol} listeners"
                    )
                continue
            for tg_arn, _ in rules.forward_groups(action):
                group = self.store.get("tg", tg_arn)
                if group is not None and group["Protocol"] not in want:
                    raise errors.incompatible_protocols(group["Protocol"], protocol)

    @staticmethod
    def _tls_settings(listener: Doc, params: Doc) -> None:
        """Certificates and SslPolicy of a secure listener (cleared on a plain one)."""
        if listener["Protocol"] not in SECURE:
            listener.pop("Certificates", None), listener.pop("SslPolicy", None)
            return
        if "Certificates" in params:
            arns = [c["CertificateArn"] for c in params["Certificates"] or []]
            extra = [c for c in listener.get("Certificates", [])[1:] if c not in arns]
            listener["Certificates"] = arns[:1] + extra
        if not listener.get("Certificates"):
            raise errors.validation(
                f"A certificate must be specified for {listener['Protocol']} listeners"
            )
        policy = params.get("SslPolicy") or listener.get("SslPolicy") or tls.DEFAULT_POLICY
        tls.check_policy(policy)
        listener["SslPolicy"] = policy

    async def create_listener(self, ctx: Any, params: Doc) -> Doc:
        lb = self._lb(ctx, params["LoadBalancerArn"])
        port = int(params["Port"])
        protocol = self._protocol(lb, params.get("Protocol") or PROTOCOLS[lb["Type"]][0])
        if not 1 <= port <= 65535:
            raise errors.validation(f"Port '{port}' must be between 1 and 65535")
        for other in self.store.all("listener"):
            if other["LoadBalancerArn"] == lb["Arn"] and other["Port"] == port:
                raise errors.duplicate_listener()
        actions = self._actions(ctx, params["DefaultActions"])
        self._check_groups(protocol, actions)
        listener = {
            "Arn": lb["Arn"].replace(":loadbalancer/", ":listener/") + f"/{token_hex(8)}",
            "account": ctx.account_id,
            "region": ctx.region,
            "LoadBalancerArn": lb["Arn"],
            "Port": port,
            "Protocol": protocol,
            "Tags": params.get("Tags") or [],
        }
        self._tls_settings(listener, params)
        await self._open(listener)
        self.store.put("listener", listener)
        self.store.put("rule", self._default_rule(listener, actions))
        self._refresh_usage()
        return {"Listeners": [self._listener_out(listener)]}

    def _default_rule(self, listener: Doc, actions: list[Doc]) -> Doc:
        return {
            "Arn": listener["Arn"].replace(":listener/", ":listener-rule/") + f"/{token_hex(8)}",
            "ListenerArn": listener["Arn"],
            "account": listener["account"],
            "region": listener["region"],
            "Priority": "default",
            "IsDefault": True,
            "Conditions": [],
            "Actions": actions,
        }

    def _listener_out(self, listener: Doc) -> Doc:
        default = next(r for r in self._rules_in_order(listener["Arn"]) if r.get("IsDefault"))
        out = {
            "ListenerArn": listener["Arn"],
            "LoadBalancerArn": listener["LoadBalancerArn"],
            "Port": listener["Port"],
            "Protocol": listener["Protocol"],
            "DefaultActions": default["Actions"],
        }
        if listener["Protocol"] in SECURE:
            out["Certificates"] = [{"CertificateArn": listener["Certificates"][0]}]
            out["SslPolicy"] = listener["SslPolicy"]
        return out

    def describe_listeners(self, ctx: Any, params: Doc) -> Doc:
        if arns := params.get("ListenerArns"):
            docs = [self._listener(ctx, a) for a in arns]
        elif lb_arn := params.get("LoadBalancerArn"):
            self._lb(ctx, lb_arn)
            docs = [d for d in self.store.all("listener") if d["LoadBalancerArn"] == lb_arn]
        else:
            raise errors.validation("You must specify either listener ARNs or a load balancer ARN")
        return {"Listeners": [self._listener_out(d) for d in docs]}

    async def modify_listener(self, ctx: Any, params: Doc) -> Doc:
        listener = self._listener(ctx, params["ListenerArn"])
        default = next(r for r in self._rules_in_order(listener["Arn"]) if r.get("IsDefault"))
        actions = default["Actions"]
        if "DefaultActions" in params:
            actions = self._actions(ctx, params["DefaultActions"])
        changed = dict(listener)
        if "Port" in params:
            changed["Port"] = int(params["Port"])
        if params.get("Protocol"):
            lb = self.store.get("lb", listener["LoadBalancerArn"])
            changed["Protocol"] = self._protocol(lb, params["Protocol"])
        self._check_groups(changed["Protocol"], actions)
        self._tls_settings(changed, params)
        if "DefaultActions" in params:
            default["Actions"] = actions
            self.store.put("rule", default)
        if changed != listener:
            await self._reopen(changed)
            listener = changed
            self.store.put("listener", listener)
        self._refresh_usage()
        return {"Listeners": [self._listener_out(listener)]}

    async def _drop_listener(self, listener: Doc) -> None:
        server = self.servers.pop(listener["Arn"], None)
        if server is not None:
            await server.close()
        for rule in self._rules_in_order(listener["Arn"]):
            self.store.delete("rule", rule["Arn"])
        self.store.delete("listener", listener["Arn"])

    async def delete_listener(self, ctx: Any, params: Doc) -> Doc:
        listener = self._listener(ctx, params["ListenerArn"])
        await self._drop_listener(listener)
        self._refresh_usage()
        return {}

    # -- certificates ---------------------------------------------------------

    async def add_listener_certificates(self, ctx: Any, params: Doc) -> Doc:
        listener = self._listener(ctx, params["ListenerArn"])
        if listener["Protocol"] not in SECURE:
            raise errors.validation("Certificates can only be added to HTTPS or TLS listeners")
        changed = dict(listener)
        arns = [c["CertificateArn"] for c in params["Certificates"]]
        changed["Certificates"] = list(dict.fromkeys(listener["Certificates"] + arns))
        await self._reopen(changed)
        self.store.put("listener", changed)
        return {"Certificates": [{"CertificateArn": a, "IsDefault": False} for a in arns]}

    async def remove_listener_certificates(self, ctx: Any, params: Doc) -> Doc:
        listener = self._listener(ctx, params["ListenerArn"])
        arns = [c["CertificateArn"] for c in params["Certificates"]]
        if listener.get("Certificates") and listener["Certificates"][0] in arns:
            raise errors.validation("The default certificate cannot be removed")
        changed = dict(listener)
        changed["Certificates"] = [a for a in listener.get("Certificates", []) if a not in arns]
        if changed != listener:
            await self._reopen(changed)
            self.store.put("listener", changed)
        return {}

    def describe_listener_certificates(self, ctx: Any, params: Doc) -> Doc:
        listener = self._listener(ctx, params["ListenerArn"])
        arns = listener.get("Certificates", [])
        return {
            "Certificates": [{"CertificateArn": a, "IsDefault": i == 0} for i, a in enumerate(arns)]
        }

    def describe_ssl_policies(self, ctx: Any, params: Doc) -> Doc:
        return {"SslPolicies": tls.describe_policies(params.get("Names"))}

    # -- rules ----------------------------------------------------------------

    def _rule(self, ctx: Any, rule_arn: str) -> Doc:
        doc = self.store.get("rule", rule_arn)
        if doc is None or doc["account"] != ctx.account_id or doc["region"] != ctx.region:
            raise errors.rule_not_found()
        return doc

    def _check_priority(self, listener_arn: str, priority: int, skip: str = "") -> None:
        if not 1 <= priority <= 50000:
            raise errors.validation("Priority must be between 1 and 50000")
        for rule in self._rules_in_order(listener_arn):
            if rule["Arn"] != skip and rule["Priority"] == str(priority):
                raise errors.priority_in_use(priority)

    def _rule_out(self, rule: Doc) -> Doc:
        return {
            "RuleArn": rule["Arn"],
            "Priority": rule["Priority"],
            "Conditions": rule["Conditions"],
            "Actions": rule["Actions"],
            "IsDefault": bool(rule.get("IsDefault")),
        }

    def create_rule(self, ctx: Any, params: Doc) -> Doc:
        listener = self._listener(ctx, params["ListenerArn"])
        priority = int(params["Priority"])
        self._check_priority(listener["Arn"], priority)
        if not params.get("Conditions"):
            raise errors.validation("A rule must have at least one condition")
        rule = {
            "Arn": listener["Arn"].replace(":listener/", ":listener-rule/") + f"/{token_hex(8)}",
            "ListenerArn": listener["Arn"],
            "account": ctx.account_id,
            "region": ctx.region,
            "Priority": str(priority),
            "IsDefault": False,
            "Conditions": self._conditions(params["Conditions"]),
            "Actions": self._actions(ctx, params["Actions"]),
            "Tags": params.get("Tags") or [],
        }
        self.store.put("rule", rule)
        self._refresh_usage()
        return {"Rules": [self._rule_out(rule)]}

    def describe_rules(self, ctx: Any, params: Doc) -> Doc:
        if arns := params.get("RuleArns"):
            docs = [self._rule(ctx, a) for a in arns]
        elif listener_arn := params.get("ListenerArn"):
            self._listener(ctx, listener_arn)
            docs = self._rules_in_order(listener_arn)
        else:
            raise errors.validation("You must specify either listener or rule ARNs")
        return {"Rules": [self._rule_out(d) for d in docs]}

    def modify_rule(self, ctx: Any, params: Doc) -> Doc:
        rule = self._rule(ctx, params["RuleArn"])
        if "Conditions" in params and not rule.get("IsDefault"):
            rule["Conditions"] = self._conditions(params["Conditions"])
        if "Actions" in params:
            rule["Actions"] = self._actions(ctx, params["Actions"])
        self.store.put("rule", rule)
        self._refresh_usage()
        return {"Rules": [self._rule_out(rule)]}

    def set_rule_priorities(self, ctx: Any, params: Doc) -> Doc:
        changed = []
        for item in params["RulePriorities"]:
            rule = self._rule(ctx, item["RuleArn"])
            if rule.get("IsDefault"):
                raise errors.invalid_config("The default rule's priority cannot be changed")
            self._check_priority(rule["ListenerArn"], int(item["Priority"]), skip=rule["Arn"])
            rule["Priority"] = str(int(item["Priority"]))
            self.store.put("rule", rule)
            changed.append(self._rule_out(rule))
        return {"Rules": changed}

    def delete_rule(self, ctx: Any, params: Doc) -> Doc:
        rule = self._rule(ctx, params["RuleArn"])
        if rule.get("IsDefault"):
            raise errors.invalid_config("The default rule cannot be deleted")
        self.store.delete("rule", rule["Arn"])
        self._refresh_usage()
        return {}
