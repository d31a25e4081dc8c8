"""Published versions (immutable snapshots of code and configuration) and aliases.

A version copies ``$LATEST``'s configuration and code hash at publish time;
publishing again without a change returns the last version, as AWS does. An
alias points at a version and may send a weighted share of invocations to a
second one (``RoutingConfig.AdditionalVersionWeights``), chosen per invoke. A
function with SnapStart gets a snapshot of each version it publishes (``snapstart.py``).
"""

from __future__ import annotations

import random
import re
from typing import Any

from cloudlet.core.ids import fast_uuid
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn, page, timestamp

Result = dict[str, Any]
_ALIAS = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$")


class VersionsMixin:
    def _publish(self, ctx: Any, doc: dict[str, Any], description: str | None) -> dict[str, Any]:
        latest = doc["latest"]
        if doc["versions"]:
            last = (
                doc["versions"][str(doc["next_version"] - 1)]
                if str(doc["next_version"] - 1) in doc["versions"]
                else None
            )
            if last is not None and doc.get("published_revision") == latest["RevisionId"]:
                return last
        number = str(doc["next_version"])
        doc["next_version"] += 1
        config = dict(latest)
        config.update(
            Version=number,
            FunctionArn=function_arn(ctx, doc["name"], number),
            RevisionId=fast_uuid(),
            LastModified=timestamp(),
        )
        if description is not None:
            config["Description"] = description
        version = {"config": config, "code": doc["code"]}
        doc["versions"][number] = version
        self._snap_publish(doc, config)  # with SnapStart: Pending until its snapshot is made
        managed = doc.setdefault("runtime_management", {})
        if "$LATEST" in managed:  # a version takes $LATEST's runtime management config
            managed[number] = dict(managed["$LATEST"])
        doc["published_revision"] = latest["RevisionId"]
        self.store.save_function(doc)
        return version

    def publish_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        latest = doc["latest"]
        if params.get("CodeSha256") and params["CodeSha256"] != latest["CodeSha256"]:
            raise errors.invalid(
                f"CodeSHA256 ({params['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
                f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
            )
        self._check_revision(latest, params.get("RevisionId"))
        return self._publish(ctx, doc, params.get("Description"))["config"]

    def list_versions_by_function(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        configs = [doc["latest"]] + [
            v["config"] for _, v in sorted(doc["versions"].items(), key=lambda kv: int(kv[0]))
        ]
        return page(configs, "Versions", params.get("Marker"), params.get("MaxItems"))

    # -- aliases ------------------------------------------------------------------

    def _check_target(
        self, ctx: Any, doc: dict[str, Any], version: str, routing: dict[str, Any] | None
    ) -> None:
        if version != "$LATEST" and version not in doc["versions"]:
            raise errors.function_not_found(function_arn(ctx, doc["name"], version))
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if len(weights) > 1:
            raise errors.invalid(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        for extra, weight in weights.items():
            if extra not in doc["versions"]:
                raise errors.invalid(f"Function version {extra} does not exist")
            if extra == version:
                raise errors.invalid(
                    f"Invalid function version {extra}. Function version {extra} is already included in routing configuration."
                )
            if version == "$LATEST":
                raise errors.invalid(
                    "$LATEST is not supported for an alias pointing to more than 1 version"
                )
            if not 0.0 <= weight <= 1.0:
                raise errors.invalid("Invalid weight value. Weight must be between 0.0 and 1.0")

    def _alias_out(self, ctx: Any, doc: dict[str, Any], alias: dict[str, Any]) -> Result:
        out = {
            "AliasArn": function_arn(ctx, doc["name"], alias["Name"]),
            "Name": alias["Name"],
            "FunctionVersion": alias["FunctionVersion"],
            "Description": alias.get("Description", ""),
            "RevisionId": alias["RevisionId"],
        }
        if alias.get("RoutingConfig"):
            out["RoutingConfig"] = alias["RoutingConfig"]
        return out

    def _alias(self, ctx: Any, doc: dict[str, Any], name: str) -> dict[str, Any]:
        alias = doc["aliases"].get(name)
        if alias is None:
            raise errors.not_found(f"Alias not found: {function_arn(ctx, doc['name'], name)}")
        return alias

    def create_alias(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        name = params["Name"]
        if not _ALIAS.match(name):
            raise errors.invalid(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint"
            )
        if name in doc["aliases"]:
            raise errors.conflict(f"Alias already exists: {function_arn(ctx, doc['name'], name)}")
        self._check_target(ctx, doc, params["FunctionVersion"], params.get("RoutingConfig"))
        alias = {
            "Name": name,
            "FunctionVersion": params["FunctionVersion"],
            "Description": params.get("Description", ""),
            "RevisionId": fast_uuid(),
        }
        if (params.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            alias["RoutingConfig"] = params["RoutingConfig"]
        doc["aliases"][name] = alias
        self.store.save_function(doc)
        return self._alias_out(ctx, doc, alias)

    def get_alias(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        return self._alias_out(ctx, doc, self._alias(ctx, doc, params["Name"]))

    async def update_alias(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        alias = self._alias(ctx, doc, params["Name"])
        if params.get("RevisionId") and params["RevisionId"] != alias["RevisionId"]:
            raise errors.precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
                "to retrieve the latest Revision Id"
            )
        version = params.get("FunctionVersion", alias["FunctionVersion"])
        routing = (
            params["RoutingConfig"] if "RoutingConfig" in params else alias.get("RoutingConfig")
        )
        self._check_target(ctx, doc, version, routing)
        alias["FunctionVersion"] = version
        if "Description" in params:
            alias["Description"] = params["Description"]
        if (routing or {}).get("AdditionalVersionWeights"):
            alias["RoutingConfig"] = routing
        else:
            alias.pop("RoutingConfig", None)
        alias["RevisionId"] = fast_uuid()
        self.store.save_function(doc)
        return self._alias_out(ctx, doc, alias)

    async def delete_alias(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        name = params["Name"]
        if doc["aliases"].pop(name, None) is not None:
            doc["provisioned"].pop(name, None)
            doc["urls"].pop(name, None)
            self.store.save_function(doc)
            self._forget_urls(doc)
            await self._retire(doc, name)
        return {}

    def list_aliases(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        wanted = params.get("FunctionVersion")
        aliases = [
            self._alias_out(ctx, doc, a)
            for _, a in sorted(doc["aliases"].items())
            if wanted is None or a["FunctionVersion"] == wanted
        ]
        return page(aliases, "Aliases", params.get("Marker"), params.get("MaxItems"))

    def _route_alias(self, doc: dict[str, Any], qualifier: str | None) -> str | None:
        """The version an invocation of ``qualifier`` runs (weighted alias routing)."""
        alias = doc["aliases"].get(qualifier) if qualifier else None
        if alias is None:
            return qualifier
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        pick = random.random()
        for version, weight in weights.items():
            if pick < weight:
                return version
            pick -= weight
        return alias["FunctionVersion"]
