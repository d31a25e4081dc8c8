"""Layers: versioned zips merged into a function's ``/opt``.

A real ``/opt`` is not writable here, so each function version's layers are
extracted in order into one directory of their own (``store.opt_dir``) that
the worker sees as ``CLOUDLET_LAMBDA_OPT``; its ``python/`` and
``python/lib/python3.x/site-packages/`` are on ``PYTHONPATH`` and ``bin/`` on
``PATH``, which is what Lambda arranges for ``/opt``. Another account reads a
version only as far as its policy grants (``layer_policy.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import page, timestamp
from cloudlet.services.awslambda.layer_policy import LAYER_ARN, denied, layer_key

Result = dict[str, Any]


def _public(version: dict[str, Any], *hidden: str) -> Result:
    """A version as the API shows it: without its code hash and policy (``_`` keys)."""
    return {k: v for k, v in version.items() if not k.startswith("_") and k not in hidden}


class LayersMixin:
    _check_layer_access: Callable[[Any, str, dict[str, Any] | None, str], None]
    """Provided by ``LayerPermissionsMixin``."""

    def _own_layer(self, ctx: Any, name_or_arn: str, action: str) -> dict[str, Any] | None:
        """The caller's own layer a LayerName names (another account's is refused:
        a layer's policy grants only ``lambda:GetLayerVersion``)."""
        account, region, name = layer_key(ctx, name_or_arn)
        if account != ctx.account_id:
            raise denied(ctx, action, f"arn:aws:lambda:{region}:{account}:layer:{name}")
        return self.store.layers.get((account, region, name))

    def _layer_version_by_arn(self, ctx: Any, arn: str) -> dict[str, Any] | None:
        m = LAYER_ARN.match(arn)
        if m is None or m.group("version") is None:
            return None
        doc = self.store.layers.get((m.group("account"), m.group("region"), m.group("name")))
        if doc is None:
            return None
        return doc["versions"].get(m.group("version"))

    def _layer_out(self, version: dict[str, Any]) -> Result:
        out = _public(version)
        out["Content"] = dict(out["Content"], Location=self._code_location(version["_code"]))
        return out

    async def publish_layer_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = layer_key(ctx, params["LayerName"])[2]
        doc = self._own_layer(ctx, params["LayerName"], "lambda:PublishLayerVersion")
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
        account, region, name = layer_key(ctx, params["LayerName"])
        doc = self.store.layers.get((account, region, name))
        number = params["VersionNumber"]
        version = doc["versions"].get(str(number)) if doc else None
        arn = f"arn:aws:lambda:{region}:{account}:layer:{name}:{number}"
        self._check_layer_access(ctx, account, version, arn)
        if version is None:
            raise errors.not_found("The resource you requested does not exist.")
        return self._layer_out(version)

    def get_layer_version_by_arn(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["Arn"]
        version = self._layer_version_by_arn(ctx, arn)
        m = LAYER_ARN.match(arn)
        if m is not None:
            self._check_layer_access(ctx, m.group("account"), version, arn)
        if version is None:
            raise errors.not_found("The resource you requested does not exist.")
        return self._layer_out(version)

    def list_layer_versions(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._own_layer(ctx, params["LayerName"], "lambda:ListLayerVersions")
        versions = []
        for _, v in sorted(
            (doc or {"versions": {}})["versions"].items(), key=lambda kv: -int(kv[0])
        ):
            if not _compatible(v, params):
                continue
            versions.append(_public(v, "Content", "LayerArn"))
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
                    "LatestMatchingVersion": _public(latest, "Content", "LayerArn"),
                }
            )
        return page(layers, "Layers", params.get("Marker"), params.get("MaxItems"))

    def delete_layer_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._own_layer(ctx, params["LayerName"], "lambda:DeleteLayerVersion")
        if doc is not None and doc["versions"].pop(str(params["VersionNumber"]), None) is not None:
            self.store.save_layer(doc)
        return {}


def _compatible(version: dict[str, Any], params: dict[str, Any]) -> bool:
    runtime = params.get("CompatibleRuntime")
    arch = params.get("CompatibleArchitecture")
    if runtime and runtime not in version.get("CompatibleRuntimes", []):
        return False
    return not (arch and arch not in version.get("CompatibleArchitectures", []))
