"""Classic load balancer stickiness policies, applied to listeners.

Why: programs written for classic ELB make sessions sticky with
``CreateLBCookieStickinessPolicy`` (the ``AWSELB`` cookie with an optional
``CookieExpirationPeriod``) or ``CreateAppCookieStickinessPolicy`` (``AWSELB``
following the application's own cookie), switched on per listener with
``SetLoadBalancerPoliciesOfListener``. A mixin of ``ElbService``: the policies
live in the load balancer's document, and each HTTP/HTTPS listener's server
carries the stickiness its policies say (the proxy does the cookie work, see
``elbv2/sticky.py``), so a change acts on the next request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.elbv2.sticky import Stickiness

Doc = dict[str, Any]
POLICY_NAME = re.compile(r"^[A-Za-z0-9-]{1,255}$")
LB_TYPE, APP_TYPE = "LBCookieStickinessPolicyType", "AppCookieStickinessPolicyType"
KINDS = {"LBCookieStickinessPolicies": LB_TYPE, "AppCookieStickinessPolicies": APP_TYPE}


def error(code: str, message: str) -> ServiceError:
    """A classic ELB error (``InvalidConfiguration*`` ones are 409s, as AWS's)."""
    return ServiceError(code, message, 409 if code.startswith("InvalidConfiguration") else 400)


def policies(doc: Doc) -> Doc:
    """The load balancer's policies, as DescribeLoadBalancers shows them."""
    stored = doc.get("Policies") or {}
    return {
        "AppCookieStickinessPolicies": stored.get("AppCookieStickinessPolicies", []),
        "LBCookieStickinessPolicies": stored.get("LBCookieStickinessPolicies", []),
        "OtherPolicies": [],
    }


def stickiness_of(doc: Doc, listener: Doc) -> Stickiness | None:
    """The stickiness a listener's policies ask for (None: not sticky)."""
    names = set(listener.get("PolicyNames") or [])
    found = policies(doc)
    for policy in found["LBCookieStickinessPolicies"]:
        if policy["PolicyName"] in names:
            period = int(policy.get("CookieExpirationPeriod") or 0)
            return Stickiness("lb_cookie", period, classic=True)
    for policy in found["AppCookieStickinessPolicies"]:
        if policy["PolicyName"] in names:
            return Stickiness("app_cookie", app_cookie=policy["CookieName"], classic=True)
    return None


class PolicyOps:
    """Stickiness policy operations (mixed into ``ElbService``)."""

    store: Any
    servers: dict[Any, Any]
    _lb: Callable[[Any, str], Doc]

    def _add_policy(self, ctx: Any, params: Doc, kind: str, policy: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        name = params["PolicyName"]
        if not POLICY_NAME.match(name):
            raise error(
                "ValidationError", "Policy names must consist of alphanumeric characters and dashes"
            )
        found = policies(doc)
        if any(p["PolicyName"] == name for kind_ in KINDS for p in found[kind_]):
            raise error(
                "DuplicatePolicyNameException",
                "Policy with the same name exists for this LoadBalancer. Please choose another"
                " name.",
            )
        found[kind].append({"PolicyName": name, **policy})
        doc["Policies"] = {k: found[k] for k in KINDS}
        self.store.put("lb", doc)
        return {}

    def create_lb_cookie_stickiness_policy(self, ctx: Any, params: Doc) -> Doc:
        period = params.get("CookieExpirationPeriod")
        if period is not None and int(period) <= 0:
            raise error("ValidationError", "CookieExpirationPeriod must be positive")
        policy = {} if period is None else {"CookieExpirationPeriod": int(period)}
        return self._add_policy(ctx, params, "LBCookieStickinessPolicies", policy)

    def create_app_cookie_stickiness_policy(self, ctx: Any, params: Doc) -> Doc:
        policy = {"CookieName": params["CookieName"]}
        return self._add_policy(ctx, params, "AppCookieStickinessPolicies", policy)

    def set_load_balancer_policies_of_listener(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        port = int(params["LoadBalancerPort"])
        listener = next((x for x in doc["Listeners"] if x["LoadBalancerPort"] == port), None)
        if listener is None:
            raise error(
                "ListenerNotFoundException",
                f"LoadBalancer does not have a listener configured at port {port}.",
            )
        names = list(params.get("PolicyNames") or [])
        found = policies(doc)
        known = {p["PolicyName"] for kind in KINDS for p in found[kind]}
        for name in names:
            if name not in known:
                raise error(
                    "PolicyNotFoundException",
                    f"There is no policy with name {name} for load balancer"
                    f" {doc['LoadBalancerName']}",
                )
        if names and listener["Protocol"] not in ("HTTP", "HTTPS"):
            raise error(
                "InvalidConfigurationRequestException",
                "Stickiness policies can only be set on HTTP or HTTPS listeners",
            )
        if len(names) > 1:
            raise error(
                "InvalidConfigurationRequestException",
                "Only one stickiness policy can be set on a listener",
            )
        listener["PolicyNames"] = names
        self.store.put("lb", doc)
        server = self.servers.get((doc["Arn"], port))
        if server is not None and hasattr(server, "sticky"):
            server.sticky = stickiness_of(doc, listener)
        return {}

    def describe_load_balancer_policies(self, ctx: Any, params: Doc) -> Doc:
        wanted = params.get("PolicyNames") or []
        out = []
        if params.get("LoadBalancerName"):
            found = policies(self._lb(ctx, params["LoadBalancerName"]))
            for kind, type_name in KINDS.items():
                for policy in found[kind]:
                    attrs = [
                        {"AttributeName": k, "AttributeValue": str(v)}
                        for k, v in policy.items()
                        if k != "PolicyName"
                    ]
                    out.append(
                        {
                            "PolicyName": policy["PolicyName"],
                            "PolicyTypeName": type_name,
                            "PolicyAttributeDescriptions": attrs,
                        }
                    )
        missing = set(wanted) - {p["PolicyName"] for p in out}
        if missing:
            raise error(
                "PolicyNotFoundException", f"The specified policy does not exist: {min(missing)}"
            )
        if wanted:
            out = [p for p in out if p["PolicyName"] in wanted]
        return {"PolicyDescriptions": out}

    def delete_load_balancer_policy(self, ctx: Any, params: Doc) -> Doc:
        doc = self._lb(ctx, params["LoadBalancerName"])
        name = params["PolicyName"]
        for listener in doc["Listeners"]:
            if name in (listener.get("PolicyNames") or []):
                raise error(
                    "InvalidConfigurationRequestException",
                    f"Cannot delete policy {name}: it is enabled for the listener on port"
                    f" {listener['LoadBalancerPort']}",
                )
        found = policies(doc)
        doc["Policies"] = {k: [p for p in found[k] if p["PolicyName"] != name] for k in KINDS}
        self.store.put("lb", doc)
        return {}
