"""CreateFunction, Get/List/Update/Delete and the code behind them.

A function is one document (``store.py``): ``latest`` is the ``$LATEST``
configuration exactly as ``FunctionConfiguration`` has it on the wire, with
its code hash beside it; published versions are frozen copies. Code arrives
inline (``ZipFile``) or from our S3 through the internal client, is stored
once per hash and extracted synchronously, so the function reports
``Pending`` on creation and is ``Active`` by the time anyone asks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.errors import NotImplementedOperation, ServiceError
from cloudlet.core.ids import fast_uuid
from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.layer_policy import LAYER_ARN
from cloudlet.services.awslambda.validation import ValidationMixin

Result = dict[str, Any]

_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:)?"
    r"(?:(?P<acct2>\d{12}):function:)?(?P<name>[a-zA-Z0-9-_.]+)(?::(?P<qual>[a-zA-Z0-9-_$.]+))?$"
)
_CONFIG_KEYS = (
    "Role",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "Runtime",
    "TracingConfig",
    "EphemeralStorage",
    "Layers",
    "DeadLetterConfig",
    "LoggingConfig",
)


def timestamp() -> str:
    """Lambda's ``LastModified`` form: ``2024-01-01T12:00:00.000+0000``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def function_arn(ctx: Any, name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def parse_name(value: str) -> tuple[str, str | None]:
    """A function name, partial or full ARN -> (name, qualifier in the ARN or None)."""
    m = _ARN.match(value or "")
    if m is None:
        raise errors.invalid(
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint"
        )
    return m.group("name"), m.group("qual")


def _updating(config: dict[str, Any]) -> dict[str, Any]:
    """An update's answer: the new configuration, its update still in progress (as
    Lambda answers, with Lambda's own wording)."""
    return dict(
        config,
        LastUpdateStatus="InProgress",
        LastUpdateStatusReason="The function is being created.",
        LastUpdateStatusReasonCode="Creating",
    )


class FunctionsMixin(ValidationMixin):
    """Operations on functions and their code (a mixin of ``LambdaService``)."""

    # -- lookups ----------------------------------------------------------------

    def _function(self, ctx: Any, name_or_arn: str, qualifier: str | None = None) -> dict[str, Any]:
        name, qual = parse_name(name_or_arn)
        doc = self.store.functions.get((ctx.account_id, ctx.region, name))
        if doc is None:
            raise errors.function_not_found(function_arn(ctx, name, qualifier or qual))
        return doc

    def _qualifier(self, params: dict[str, Any]) -> str | None:
        _, qual = parse_name(params["FunctionName"])
        given = params.get("Qualifier")
        if qual and given and qual != given:
            raise errors.invalid(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
        return given or qual

    def _config(
        self, ctx: Any, doc: dict[str, Any], qualifier: str | None
    ) -> tuple[dict[str, Any], str, str]:
        """(configuration, code hash, executed version) for a qualifier (version or alias)."""
        if qualifier in (None, "$LATEST"):
            return doc["latest"], doc["code"], "$LATEST"
        version = doc["versions"].get(qualifier)
        if version is not None:
            return version["config"], version["code"], qualifier
        alias = doc["aliases"].get(qualifier)
        if alias is not None:
            target = alias["FunctionVersion"]
            config, code, _ = self._config(ctx, doc, target)
            return config, code, target
        raise errors.function_not_found(function_arn(ctx, doc["name"], qualifier))

    # -- code -------------------------------------------------------------------

    async def _code_bytes(self, ctx: Any, code: dict[str, Any]) -> bytes:
        if code.get("ImageUri"):
            raise errors.invalid(
                "Container images are not supported by cloudlet: use a .zip package (PackageType Zip)."
            )
        if code.get("ZipFile") is not None:
            data = code["ZipFile"]
            return data if isinstance(data, bytes) else base64.b64decode(data)
        bucket, key = code.get("S3Bucket"), code.get("S3Key")
        if bucket and key:
            params: dict[str, Any] = {"Bucket": bucket, "Key": key}
            if code.get("S3ObjectVersion"):
                params["VersionId"] = code["S3ObjectVersion"]
            try:
                out = await self.env.call(
                    "s3", "GetObject", params, account=ctx.account_id, region=ctx.region
                )
            except NotImplementedOperation:
                raise errors.invalid("S3 is not available to fetch the code from.") from None
            except ServiceError as err:
                raise errors.invalid(
                    f"Error occurred while GetObject. S3 Error Code: {err.code}. S3 Error Message: {err.message}"
                ) from None
            body = out.get("Body", b"")
            if isinstance(body, bytes | bytearray):
                return bytes(body)
            chunks = [chunk async for chunk in body]
            return b"".join(chunks)
        raise errors.invalid("Please provide a source for function code.")

    def _code_location(self, hexsha: str) -> str:
        token = hmac.new(self._url_secret, hexsha.encode(), hashlib.sha256).hexdigest()[:32]
        expires = int(time.time()) + 600
        return f"{self.env.endpoint}/_cloudlet/lambda/code/{hexsha}.zip?X-Amz-Expires=600&Expires={expires}&Signature={token}"

    def _code_token_ok(self, hexsha: str, token: str) -> bool:
        good = hmac.new(self._url_secret, hexsha.encode(), hashlib.sha256).hexdigest()[:32]
        return hmac.compare_digest(good, token)

    # -- validation -------------------------------------------------------------

    def _layers(self, ctx: Any, arns: list[str]) -> list[dict[str, Any]]:
        out = []
        for arn in arns:
            version = self._layer_version_by_arn(ctx, arn)
            m = LAYER_ARN.match(arn)
            if m is not None:  # another account's only as far as its policy grants
                self._check_layer_access(ctx, m.group("account"), version, arn)
            if version is None:
                raise errors.invalid(f"Layer version {arn} does not exist.")
            out.append({"Arn": arn, "CodeSize": version["Content"]["CodeSize"]})
        if len(out) > 5:
            raise errors.invalid("Cannot reference more than 5 layers.")
        return out

    # -- operations -------------------------------------------------------------

    async def create_function(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params["FunctionName"]
        if params.get("PackageType") == "Image":
            raise errors.invalid(
                "Container images are not supported by cloudlet: use a .zip package (PackageType Zip)."
            )
        name, _ = parse_name(name)
        if not _NAME.match(name):
            raise errors.invalid(
                f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint"
            )
        self._validate(ctx, params, creating=True)
        snap_start = self._snap_start_setting(params)
        if (ctx.account_id, ctx.region, name) in self.store.functions:
            raise errors.conflict(f"Function already exist: {name}")
        data = await self._code_bytes(ctx, params.get("Code") or {})
        hexsha, sha_b64, size = self.store.put_code(data)
        self.store.tree(hexsha)
        layers = self._layers(ctx, params.get("Layers") or [])
        arn = function_arn(ctx, name)
        config: dict[str, Any] = {
            "FunctionName": name,
            "FunctionArn": arn,
            "Runtime": params["Runtime"],
            "Role": params["Role"],
            "Handler": params.get("Handler", ""),
            "CodeSize": size,
            "Description": params.get("Description", ""),
            "Timeout": params.get("Timeout", 3),
            "MemorySize": params.get("MemorySize", 128),
            "LastModified": timestamp(),
            "CodeSha256": sha_b64,
            "Version": "$LATEST",
            "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
            "RevisionId": fast_uuid(),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": params.get("Architectures") or ["x86_64"],
            "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": snap_start,
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        }
        if params.get("Environment"):
            config["Environment"] = {
                "Variables": dict(params["Environment"].get("Variables") or {})
            }
        if layers:
            config["Layers"] = layers
        if (params.get("DeadLetterConfig") or {}).get("TargetArn"):
            config["DeadLetterConfig"] = {"TargetArn": params["DeadLetterConfig"]["TargetArn"]}
        if params.get("LoggingConfig"):
            config["LoggingConfig"] = {**config["LoggingConfig"], **params["LoggingConfig"]}
        doc = {
            "account": ctx.account_id,
            "region": ctx.region,
            "name": name,
            "latest": config,
            "code": hexsha,
            "versions": {},
            "next_version": 1,
            "aliases": {},
            "tags": dict(params.get("Tags") or {}),
            "policy": [],
            "reserved": None,
            "invoke_configs": {},
            "urls": {},
            "provisioned": {},
            "published_revision": None,
        }
        self._stamp_runtime(doc)
        self.store.save_function(doc)
        if params.get("Publish"):
            version = self._publish(ctx, doc, params.get("Description"))
            return dict(
                version["config"],
                State="Pending",
                StateReason="The function is being created.",
                StateReasonCode="Creating",
            )
        out = dict(config)
        out.pop("LastUpdateStatus", None)
        out.update(
            State="Pending",
            StateReason="The function is being created.",
            StateReasonCode="Creating",
        )
        return out

    def get_function(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._qualifier(params)
        config, code, _ = self._config(ctx, doc, qualifier)
        if qualifier and qualifier in doc["aliases"]:
            config = dict(config, FunctionArn=function_arn(ctx, doc["name"], qualifier))
        out: Result = {
            "Configuration": config,
            "Code": {"RepositoryType": "S3", "Location": self._code_location(code)},
        }
        if doc["tags"] and qualifier is None:
            out["Tags"] = doc["tags"]
        if doc["reserved"] is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": doc["reserved"]}
        return out

    def get_function_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        config, _, _ = self._config(ctx, doc, self._qualifier(params))
        return config

    def list_functions(self, ctx: Any, params: dict[str, Any]) -> Result:
        every = params.get("FunctionVersion") == "ALL"
        configs: list[dict[str, Any]] = []
        for (account, region, _), doc in sorted(self.store.functions.items()):
            if account != ctx.account_id or region != ctx.region:
                continue
            configs.append(doc["latest"])
            if every:
                configs.extend(
                    v["config"]
                    for _, v in sorted(doc["versions"].items(), key=lambda kv: int(kv[0]))
                )
        return _page(configs, "Functions", params.get("Marker"), params.get("MaxItems"))

    async def update_function_code(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        if params.get("ImageUri"):
            raise errors.invalid(
                "Container images are not supported by cloudlet: use a .zip package (PackageType Zip)."
            )
        self._check_revision(doc["latest"], params.get("RevisionId"))
        data = await self._code_bytes(ctx, params)
        if params.get("DryRun"):
            digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
            return dict(doc["latest"], CodeSha256=digest, CodeSize=len(data))
        hexsha, sha_b64, size = self.store.put_code(data)
        self.store.tree(hexsha)
        doc["code"] = hexsha
        config = doc["latest"]
        if params.get("Architectures"):
            config["Architectures"] = params["Architectures"]
        config.update(
            CodeSha256=sha_b64, CodeSize=size, LastModified=timestamp(), RevisionId=fast_uuid()
        )
        self.store.save_function(doc)
        await self._retire(doc, "$LATEST")
        if params.get("Publish"):
            return self._publish(ctx, doc, None)["config"]
        return _updating(config)

    async def update_function_configuration(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        self._validate(ctx, params, creating=False)
        config = doc["latest"]
        self._check_revision(config, params.get("RevisionId"))
        snap_start = self._snap_start_setting(params, config)
        for key in _CONFIG_KEYS:
            if key not in params:
                continue
            value = params[key]
            if key == "Layers":
                if value:
                    config["Layers"] = self._layers(ctx, value)
                else:
                    config.pop("Layers", None)
            elif key == "Environment":
                config["Environment"] = {"Variables": dict(value.get("Variables") or {})}
            elif key == "DeadLetterConfig":
                if value.get("TargetArn"):
                    config["DeadLetterConfig"] = {"TargetArn": value["TargetArn"]}
                else:
                    config.pop("DeadLetterConfig", None)
            elif key == "LoggingConfig":
                config["LoggingConfig"] = {**config.get("LoggingConfig", {}), **value}
            else:
                config[key] = value
        config["SnapStart"] = snap_start
        config.update(LastModified=timestamp(), RevisionId=fast_uuid())
        self._stamp_runtime(doc)
        self.store.save_function(doc)
        await self._retire(doc, "$LATEST")
        return _updating(config)

    async def delete_function(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        qualifier = self._qualifier(params)
        if qualifier in (None, ""):
            self.store.delete_function(doc)
            self._forget_urls(doc)
            await self._drop_snapshots(doc)
            await self._retire(doc, None)
            return {"StatusCode": 204}
        if qualifier == "$LATEST":
            raise errors.invalid("$LATEST version cannot be deleted without deleting the function.")
        if qualifier not in doc["versions"]:
            raise errors.function_not_found(function_arn(ctx, doc["name"], qualifier))
        users = [
            a
            for a, alias in doc["aliases"].items()
            if alias["FunctionVersion"] == qualifier
            or qualifier in (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})
        ]
        if users:
            raise errors.conflict(
                f"Unable to delete version because the following aliases reference it: {users}"
            )
        del doc["versions"][qualifier]
        doc["provisioned"].pop(qualifier, None)
        self.store.save_function(doc)
        await self._drop_snapshots(doc, qualifier)
        await self._retire(doc, qualifier)
        return {"StatusCode": 204}

    def _check_revision(self, config: dict[str, Any], revision: str | None) -> None:
        if revision and revision != config["RevisionId"]:
            raise errors.precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
                "to retrieve the latest Revision Id"
            )


def _page(items: list[Any], member: str, marker: str | None, max_items: int | None) -> Result:
    start = 0
    if marker:
        try:
            start = int(base64.b64decode(marker).decode())
        except (ValueError, UnicodeDecodeError):
            raise errors.invalid("Invalid marker.") from None
    size = min(max_items or 50, 50)
    out: Result = {member: items[start : start + size]}
    if start + size < len(items):
        out["NextMarker"] = base64.b64encode(str(start + size).encode()).decode()
    return out


page = _page
