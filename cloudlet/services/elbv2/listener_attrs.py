"""Listener attributes (DescribeListenerAttributes, ModifyListenerAttributes), mixed into
``Elbv2Service``.

Why a module of its own: a network load balancer's TCP listener has one attribute,
``tcp.idle_timeout.seconds`` (60 to 6,000, default 350), which the TCP relay
(``tcp.py``) enforces on every flow: one that carries no data either way for that long
is reset. TLS listeners have a fixed 350-second idle timeout AWS does not let you change,
UDP flows their own 120 seconds (``udp.py``); a TCP_UDP listener's TCP half takes the
attribute. ``CLOUDLET_ELB_TCP_IDLE_SCALE`` multiplies every TCP and TLS idle timeout (0.01
makes the 60-second minimum 0.6 s) so tests need not wait minutes; the attribute shown
stays the value set.

Application Load Balancer listeners' attributes (the ``routing.http.*`` header names and
response headers) are not built: setting one answers ``501``, and DescribeListenerAttributes
lists none for HTTP and HTTPS listeners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.core.environ import seconds_setting
from cloudlet.core.errors import NotImplementedOperation
from cloudlet.services.elbv2 import errors

Doc = dict[str, Any]
TCP_IDLE = "tcp.idle_timeout.seconds"
DEFAULT_TCP_IDLE = 350
TLS_IDLE = 350
"""A TLS listener's idle timeout: fixed on AWS."""
IDLE_RANGE = (60, 6000)
TCP_PROTOCOLS = ("TCP", "TCP_UDP")
SCALE_ENV = "CLOUDLET_ELB_TCP_IDLE_SCALE"
ALB_PREFIXES = ("routing.http.request.", "routing.http.response.")
"""Application Load Balancer listener attributes, which cloudlet does not apply."""


def idle_scale() -> float:
    """``CLOUDLET_ELB_TCP_IDLE_SCALE`` (default 1): the factor on TCP and TLS idle timeouts."""
    return seconds_setting(SCALE_ENV, 1.0, low=0.0001)


def _shown(listener: Doc) -> list[Doc]:
    if listener["Protocol"] not in TCP_PROTOCOLS:
        return []
    value = (listener.get("Attributes") or {}).get(TCP_IDLE, str(DEFAULT_TCP_IDLE))
    return [{"Key": TCP_IDLE, "Value": value}]


class ListenerAttributeOps:
    store: Any
    _listener: Callable[[Any, str], Doc]

    def describe_listener_attributes(self, ctx: Any, params: Doc) -> Doc:
        return {"Attributes": _shown(self._listener(ctx, params["ListenerArn"]))}

    def modify_listener_attributes(self, ctx: Any, params: Doc) -> Doc:
        listener = self._listener(ctx, params["ListenerArn"])
        protocol = listener["Protocol"]
        changes: dict[str, str] = {}
        for attr in params.get("Attributes") or []:
            key, value = attr.get("Key") or "", attr.get("Value")
            if key.startswith(ALB_PREFIXES):
                if protocol in ("HTTP", "HTTPS"):
                    raise NotImplementedOperation(
                        "elbv2",
                        f"ModifyListenerAttributes of the Application Load Balancer listener "
                        f"attribute '{key}' (header names and response headers are not "
                        "applied by cloudlet's proxy)",
                    )
                raise errors.invalid_config(
                    f"Listener attribute '{key}' is not supported for {protocol} listeners"
                )
            if key != TCP_IDLE:
                raise errors.validation(f"Listener attribute key '{key}' is not recognized")
            if protocol not in TCP_PROTOCOLS:
                fixed = f"; a TLS listener's is {TLS_IDLE} seconds" if protocol == "TLS" else ""
                raise errors.invalid_config(
                    f"Listener attribute '{TCP_IDLE}' is not supported for {protocol} "
                    f"listeners{fixed}"
                )
            low, high = IDLE_RANGE
            text = str(value if value is not None else "").strip()
            if not text.isdigit() or not low <= int(text) <= high:
                raise errors.validation(
                    f"Listener attribute '{TCP_IDLE}' must be an integer between {low} and "
                    f"{high}, not '{value}'"
                )
            changes[key] = str(int(text))
        if changes:
            listener["Attributes"] = {**(listener.get("Attributes") or {}), **changes}
            self.store.put("listener", listener)
        return {"Attributes": _shown(listener)}

    def _tcp_idle(self, listener_arn: str) -> float | None:
        """The idle timeout (seconds, scaled) of a new TCP flow through the listener."""
        listener = self.store.get("listener", listener_arn)
        if listener is None:
            return None
        if listener["Protocol"] == "TLS":
            seconds = TLS_IDLE
        elif listener["Protocol"] in TCP_PROTOCOLS:
            attrs = listener.get("Attributes") or {}
            seconds = int(attrs.get(TCP_IDLE, DEFAULT_TCP_IDLE))
        else:
            return None
        return seconds * idle_scale()
