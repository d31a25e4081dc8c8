"""Runtime versions and runtime management: which runtime build a function runs on.

Why: on AWS a runtime (``python3.12``) is a series of runtime versions, each an ARN
(``arn:aws:lambda:<region>::runtime:<hash>``) shown as the function's
``RuntimeVersionConfig``. PutRuntimeManagementConfig says when a function moves to a new
one: ``Auto`` (as soon as there is one), ``FunctionUpdate`` (at its next update) or
``Manual`` (never: it stays on the ``RuntimeVersionArn`` given).

What a runtime version is here: cloudlet runs every Python runtime on the host's own
interpreter with its bundled runtime client (``bootstrap/``), and ``provided`` runtimes
on the host's operating system, so a version is that build: the runtime's name, the
interpreter (implementation and version) and the runtime client's code for Python; the
OS release and C library for ``provided``; and the machine. Its ARN is the SHA-256 of
that description, stable for as long as the host does not change; a new interpreter or
a cloudlet upgrade that changes the runtime client is a new runtime version, as a new
build is on AWS.

Cloudlet cannot keep an old build to run, so ``Auto`` and ``FunctionUpdate`` both run
(and show) the host's current version; ``Manual`` accepts only the ARN the host runs
(``InvalidParameterValueException`` names the one it has), and a function pinned to a
version the host no longer has (the interpreter changed, or the function's runtime
did) fails its invocations with ``InvalidRuntimeException`` until it is pinned again
or set to ``Auto``. The configuration belongs to a version (``$LATEST`` or a published
one, which takes ``$LATEST``'s when it is published) and is kept with the function.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from cloudlet.services.awslambda import errors
from cloudlet.services.awslambda.functions import function_arn

Result = dict[str, Any]
Doc = dict[str, Any]
_BOOTSTRAP = Path(__file__).parent / "bootstrap"


@cache
def _client_digest() -> str:
    """The bundled Python runtime client's code, as part of what a version is."""
    digest = hashlib.sha256()
    for path in sorted(_BOOTSTRAP.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@cache
def describe(runtime: str) -> str:
    """What runs a function of ``runtime`` on this host, in words."""
    machine = platform.machine()
    if runtime.startswith("python"):
        return (
            f"{runtime} on {platform.python_implementation()} {platform.python_version()} "
            f"({machine}), runtime client {_client_digest()[:12]}"
        )
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        os_name = platform.system()
    libc = " ".join(platform.libc_ver())
    return f"{runtime} on {os_name} ({libc}, {machine})"


def version_arn(region: str, runtime: str) -> str:
    """The ARN of the runtime version functions of ``runtime`` run on here."""
    digest = hashlib.sha256(describe(runtime).encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


class RuntimeManagementMixin:
    """Get/PutRuntimeManagementConfig and the function's ``RuntimeVersionConfig``."""

    store: Any
    _function: Callable[..., Doc]
    _qualifier: Callable[[dict[str, Any]], str | None]
    """Provided by ``FunctionsMixin``."""

    @staticmethod
    def _management(doc: Doc, version: str) -> Doc:
        return (doc.get("runtime_management") or {}).get(version) or {"UpdateRuntimeOn": "Auto"}

    def _stamp_runtime(self, doc: Doc) -> None:
        """Show each version's runtime version in its configuration (its pin, or what the
        host runs now)."""
        configs = [("$LATEST", doc["latest"])]
        configs += [(number, v["config"]) for number, v in doc["versions"].items()]
        for version, config in configs:
            pinned = self._management(doc, version).get("RuntimeVersionArn")
            arn = pinned or version_arn(doc["region"], config["Runtime"])
            config["RuntimeVersionConfig"] = {"RuntimeVersionArn": arn}

    def _runtime_target(self, ctx: Any, doc: Doc, params: dict[str, Any]) -> str:
        qualifier = self._qualifier(params)
        if qualifier in (None, "$LATEST"):
            return "$LATEST"
        if qualifier not in doc["versions"]:
            raise errors.function_not_found(function_arn(ctx, doc["name"], qualifier))
        return qualifier

    def _management_out(self, ctx: Any, doc: Doc, version: str) -> Result:
        cfg = self._management(doc, version)
        out: Result = {
            "UpdateRuntimeOn": cfg["UpdateRuntimeOn"],
            "FunctionArn": function_arn(
                ctx, doc["name"], None if version == "$LATEST" else version
            ),
        }
        if cfg.get("RuntimeVersionArn"):
            out["RuntimeVersionArn"] = cfg["RuntimeVersionArn"]
        return out

    def get_runtime_management_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        doc = self._function(ctx, params["FunctionName"])
        return self._management_out(ctx, doc, self._runtime_target(ctx, doc, params))

    def put_runtime_management_config(self, ctx: Any, params: dict[str, Any]) -> Result:
        errors.check_model("PutRuntimeManagementConfig", params)
        doc = self._function(ctx, params["FunctionName"])
        version = self._runtime_target(ctx, doc, params)
        mode, arn = params["UpdateRuntimeOn"], params.get("RuntimeVersionArn")
        config = doc["latest"] if version == "$LATEST" else doc["versions"][version]["config"]
        if mode == "Manual":
            if not arn:
                raise errors.invalid(
                    "RuntimeVersionArn is required when UpdateRuntimeOn is Manual."
                )
            have = version_arn(doc["region"], config["Runtime"])
            if arn != have:
                raise errors.invalid(
                    f"The runtime version {arn} is not available for {config['Runtime']}: this "
                    f"host runs {describe(config['Runtime'])}, runtime version {have}."
                )
        elif arn:
            raise errors.invalid(
                f"RuntimeVersionArn can be specified only when UpdateRuntimeOn is Manual, not {mode}."
            )
        cfg: Doc = {"UpdateRuntimeOn": mode}
        if mode == "Manual":
            cfg["RuntimeVersionArn"] = arn
        doc.setdefault("runtime_management", {})[version] = cfg
        self._stamp_runtime(doc)
        self.store.save_function(doc)
        return self._management_out(ctx, doc, version)

    def _check_runtime_version(self, ctx: Any, doc: Doc, version: str, config: Doc) -> None:
        """Refuse to run a version pinned (Manual) to a runtime version the host does not
        run: cloudlet has no other build to run it on."""
        pinned = self._management(doc, version).get("RuntimeVersionArn")
        if not pinned:
            return
        have = version_arn(doc["region"], config["Runtime"])
        if pinned != have:
            raise errors.invalid_runtime(
                f"The runtime version {pinned} this function is pinned to is not available: "
                f"this host runs {describe(config['Runtime'])}, runtime version {have}. Pin "
                "that version or set UpdateRuntimeOn to Auto."
            )
