"""cloudlet's Python-level bind/connect shim, imported by every Python inside an instance.

Why: instances share this machine's network stack, but their programs are
written for EC2, where each instance has its own addresses. Where no C
compiler exists there is no ``LD_PRELOAD`` library (``bindshim.c``), so
Python programs get the same rules here, at the ``socket`` level; where the
library exists both apply and agree (a steered address is not steered again).
This directory is first on the instance's ``PYTHONPATH``, so Python imports
this module at start-up; it then runs the host's own ``sitecustomize`` (the
next one on ``sys.path``), if there is one.

Rules (kept in step with ``bindshim.c``), for the instance address
``CLOUDLET_BIND_ADDR``:

- bind ``0.0.0.0``/``""`` (port not 0), ``127.0.0.1`` and ``localhost`` go to
  the instance address; on a dual-stack IPv6 socket ``::`` (port not 0),
  ``::1`` and the v4-mapped forms go to ``::ffff:<instance address>``;
- connect/connect_ex to ``127.0.0.1``, ``0.0.0.0``, ``localhost`` (and the
  IPv6 forms on dual-stack sockets) go to the instance address, except ports
  listed in ``CLOUDLET_ENDPOINT_PORT`` (cloudlet's endpoint, the metadata
  service), which keep reaching the host.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import socket
import sys


def _install() -> None:
    addr = os.environ.get("CLOUDLET_BIND_ADDR", "")
    try:
        socket.inet_aton(addr)
    except OSError:
        return
    if getattr(socket.socket, "_cloudlet_shim", False):
        return
    exempt = set()
    for part in os.environ.get("CLOUDLET_ENDPOINT_PORT", "").split(","):
        if part.strip().isdigit():
            exempt.add(int(part))
    mapped = "::ffff:" + addr
    v4_any = ("", "0.0.0.0")
    v4_local = ("127.0.0.1", "localhost")
    v6_any = ("", "::", "::ffff:0.0.0.0")
    v6_local = ("::1", "localhost", "::ffff:127.0.0.1")

    def steer(sock: socket.socket, address: object, is_bind: bool) -> object:
        if not isinstance(address, tuple) or len(address) < 2:
            return address
        host, port = address[0], address[1]
        if not isinstance(host, str) or not isinstance(port, int):
            return address
        host = host.lower()
        if sock.family == socket.AF_INET:
            wildcard, local, target = host in v4_any, host in v4_local, addr
        elif sock.family == socket.AF_INET6:
            wildcard, local, target = host in v6_any, host in v6_local, mapped
        else:
            return address
        if is_bind:
            hit = local or (wildcard and port != 0)
        else:
            hit = (local or wildcard) and port not in exempt
        if not hit:
            return address
        if sock.family == socket.AF_INET6:
            try:
                if sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY):
                    return address
            except OSError:
                return address
        return (target, *address[1:])

    base_bind = socket.socket.bind
    base_connect = socket.socket.connect
    base_connect_ex = socket.socket.connect_ex

    def bind(self: socket.socket, address: object) -> None:
        return base_bind(self, steer(self, address, True))

    def connect(self: socket.socket, address: object) -> None:
        return base_connect(self, steer(self, address, False))

    def connect_ex(self: socket.socket, address: object) -> int:
        return base_connect_ex(self, steer(self, address, False))

    socket.socket.bind = bind  # type: ignore[method-assign]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket._cloudlet_shim = True  # type: ignore[attr-defined]


def _chain() -> None:
    """Run the next ``sitecustomize`` on ``sys.path`` (the host's), as Python would have."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or spec.origin == __file__:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["_cloudlet_host_sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - as Python itself does for sitecustomize
        print(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{exc!r}", file=sys.stderr)


_install()
_chain()
