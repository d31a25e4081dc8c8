"""Layers: versioned zips merged into a function's ``/opt``.

A real ``/opt`` is not writable here, so each function version's layers are
extracted in order into one directory of their own (``store.opt_dir``) that
the worker sees as ``CLOUDLET_LAMBDA_OPT``; its ``python/`` and
``python/lib/python3.x/site-packages/`` are on ``PYTHONPATH`` and ``bin/`` on
``PATH``, which is what Lambda arranges for ``/opt``. Layer permissions are
not built (501).
"""

from __future__ import annotations

import re
from typing import Any

from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import page, timestamp

Result = dict[str, Any]
_LAYER_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>\d+))?$"
)


class LayersMixin:
    def _layer_doc(self, ctx: Any, name_or_arn: str) -> tuple[str, dict[str, Any] | None]:
        m = _LAYER_ARN.match(name_or_arn)
        if m is not None:
            key = (m.group("account"), m.group("region"), m.group("name"))
        else:
            key = (ctx.account_id, ctx.region, name_or_arn)
        return key[2], self.store.layers.get(key)

    def _layer_version_by_arn(self, ctx: Any, arn: str) -> dict[str, Any] | None:
        m = _LAYER_ARN.match(arn)
        if m is None or m.group("version") is None:
            return None
        doc = self.store.layers.get((m.group("account"), m.group("region"), m.group("name")))
        if doc is None:
            return None
        return doc["versions"].get(m.group("version"))

    def _layer_out(self, version: dict[str, Any]) -> Result:
        out = {k: v for k, v in version.items() if k != "_code"}
        out["Content"] = dict(out["Content"], Location=self._code_location(version["_code"]))
        return out

    async def publish_layer_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        name, doc = self._layer_doc(ctx, params["LayerName"])
        data = await self._code_bytes(ctx, params.get("Content") or {})
        hexsha, sha_b64, size = self.store.put_code(data)
        if doc is None:
            doc = {
                "account": ctx.account_id,
                "region": ctx.region,
                "name": name,
                "versions": {},
                "next": 1,
            }
        number = doc["next"]
        doc["next"] += 1
        layer_arn = f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:layer:{name}"
        version: dict[str, Any] = {
            "Content": {"CodeSha256": sha_b64, "CodeSize": size},
            "LayerArn": layer_arn,
            "LayerVersionArn": f"{layer_arn}:{number}",
            "Description": params.get("Description", ""),
            "CreatedDate": timestamp(),
            "Version": number,
            "_code": hexsha,
        }
        for key in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if params.get(key):
                version[key] = params[key]
        doc["versions"][str(number)] = version
        self.store.save_layer(doc)
        return self._layer_out(version)

    def get_layer_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        _, doc = self._layer_doc(ctx, params["LayerName"])
        version = doc["versions"].get(str(params["VersionNumber"])) if doc else None
        if version is None:
            raise errors.not_found("The resource you requested does not exist.")
        return self._layer_out(version)

    def get_layer_version_by_arn(self, ctx: Any, params: dict[str, Any]) -> Result:
        version = self._layer_version_by_arn(ctx, params["Arn"])
        if version is None:
            raise errors.not_found("The resource you requested does not exist.")
        return self._layer_out(version)

    def list_layer_versions(self, ctx: Any, params: dict[str, Any]) -> Result:
        _, doc = self._layer_doc(ctx, params["LayerName"])
        versions = []
        for _, v in sorted(
            (doc or {"versions": {}})["versions"].items(), key=lambda kv: -int(kv[0])
        ):
            if not _compatible(v, params):
                continue
            versions.append(
                {k: x for k, x in v.items() if k not in ("_code", "Content", "LayerArn")}
            )
        return page(versions, "LayerVersions", params.get("Marker"), params.get("MaxItems"))

    def list_layers(self, ctx: Any, params: dict[str, Any]) -> Result:
        layers = []
        for (account, region, name), doc in sorted(self.store.layers.items()):
            if account != ctx.account_id or region != ctx.region or not doc["versions"]:
                continue
            matching = [v for v in doc["versions"].values() if _compatible(v, params)]
            if not matching:
                continue
            latest = max(matching, key=lambda v: v["Version"])
            layers.append(
                {
                    "LayerName": name,
                    "LayerArn": latest["LayerArn"],
                    "LatestMatchingVersion": {
                        k: x for k, x in latest.items() if k not in ("_code", "Content", "LayerArn")
                    },
                }
            )
        return page(layers, "Layers", params.get("Marker"), params.get("MaxItems"))

    def delete_layer_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        _, doc = self._layer_doc(ctx, params["LayerName"])
        if doc is not None and doc["versions"].pop(str(params["VersionNumber"]), None) is not None:
            self.store.save_layer(doc)
        return {}


def _compatible(version: dict[str, Any], params: dict[str, Any]) -> bool:
    runtime = params.get("CompatibleRuntime")
    arch = params.get("CompatibleArchitecture")
    if runtime and runtime not in version.get("CompatibleRuntimes", []):
        return False
    return not (arch and arch not in version.get("CompatibleArchitectures", []))
