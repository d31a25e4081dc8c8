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
  service), which keep reaching the host;
- inside a VPC (``CLOUDLET_VPC_ADDRESSES``, the VPC's address map described in
  ``vpcmap.c``): connect/connect_ex/sendto/sendmsg to a private address of a
  running instance of the VPC go to that instance's loopback address; a stream
  connect to an address of the VPC's blocks that no instance holds fails with
  ``ETIMEDOUT`` at once; ``getaddrinfo``/``gethostbyname``/``gethostbyname_ex``
  and connect answer the region's private DNS names (``ip-10-20-0-4.ec2.internal``,
  domain in ``CLOUDLET_VPC_DOMAIN``) and those of the map's ``domain`` lines with
  their address while the VPC resolves them and no ``nodns`` block holds it (a
  peered VPC whose names this VPC may not resolve), and "no such host" otherwise;
- a mapped address the map's ``guard`` line restricts (security groups) is
  reached only on what its ``allow`` lines name (``tcp`` for stream sockets,
  ``udp`` for datagram ones, by port): otherwise a stream connect fails with
  ``ETIMEDOUT`` at once, a datagram is dropped (``sendto``/``sendmsg`` report it
  sent) and a datagram socket's connect is left untranslated.
"""

from __future__ import annotations

import errno
import importlib.machinery
import importlib.util
import os
import socket
import sys

_MAX_MAP, _MAX_MAPS, _MAX_CIDRS, _MAX_DOMAINS, _DOMAIN_LEN = 1 << 20, 4096, 64, 4, 96
"""Bytes, addresses, blocks (of each keyword), domains and domain length of the VPC's
address map read at most (as ``vpcmap.c``)."""
_MAX_GUARDS, _MAX_ALLOWS = 4096, 8192
"""Guarded addresses and allow lines read at most (as ``vpcmap.c``): guards beyond are
ignored (open), an allow line beyond opens every guarded address."""
_DROP = object()
"""``route``'s answer for a datagram the security groups drop."""
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def _quad(text: str, sep: str = ".") -> int | None:
    """An IPv4 address as exactly four decimal numbers 0-255, as ``vpcmap.c`` reads them."""
    parts = text.split(sep)
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (1 <= len(part) <= 3 and part.isascii() and part.isdigit()) or int(part) > 255:
            return None
        value = value << 8 | int(part)
    return value


def _dotted(value: int) -> str:
    return ".".join(str(value >> shift & 255) for shift in (24, 16, 8, 0))


def _block(text: str) -> tuple[int, int] | None:
    """``a.b.c.d/n`` as (masked network, mask), as ``vpcmap.c`` reads it."""
    if text.count("/") != 1:
        return None
    net, bits = text.split("/")
    base = _quad(net)
    if base is None or not (bits.isascii() and bits.isdigit() and int(bits) <= 32):
        return None
    mask = (0xFFFFFFFF << (32 - int(bits))) & 0xFFFFFFFF
    return base & mask, mask


class _Reading:
    """One reading of the map file (replaced whole, so that threads never see half of
    one reading and half of another)."""

    __slots__ = (
        "key",
        "maps",
        "cidrs",
        "dns",
        "nodns",
        "domains",
        "guards",
        "allows",
        "allow_count",
        "lost",
    )

    def __init__(self, key: object = ()) -> None:
        self.key = key
        self.maps: dict[int, int] = {}
        self.cidrs: list[tuple[int, int]] = []
        self.nodns: list[tuple[int, int]] = []
        self.domains: list[str] = []
        self.dns = False
        self.guards: set[int] = set()
        self.allows: dict[int, list[tuple[bool, int, int]]] = {}
        self.allow_count = 0
        self.lost = False

    def permits(self, value: int, udp: bool, port: int) -> bool:
        """Whether the security groups let this through to the mapped address ``value``."""
        if self.lost or value not in self.guards:
            return True
        return any(u == udp and low <= port <= high for u, low, high in self.allows.get(value, ()))

    def _guard(self, words: list[str]) -> None:
        if words[0] == "guard" and len(words) == 2:
            value = _quad(words[1])
            if value is not None and len(self.guards) < _MAX_GUARDS:
                self.guards.add(value)
            return
        if len(words) != 5 or words[2] not in ("tcp", "udp"):
            return
        value = _quad(words[1])
        ports = [int(w) for w in words[3:] if w.isascii() and w.isdigit() and len(w) <= 5]
        if value is None or len(ports) != 2 or not ports[0] <= ports[1] <= 65535:
            return
        if self.allow_count >= _MAX_ALLOWS:
            self.lost = True
            return
        self.allow_count += 1
        self.allows.setdefault(value, []).append((words[2] == "udp", ports[0], ports[1]))

    def parse(self, words: list[str]) -> None:
        if words and words[0] in ("guard", "allow"):
            self._guard(words)
        elif len(words) == 3 and words[0] == "map":
            private, loopback = _quad(words[1]), _quad(words[2])
            if private is not None and loopback is not None and len(self.maps) < _MAX_MAPS:
                self.maps.setdefault(private, loopback)
        elif len(words) == 2 and words[0] in ("cidr", "nodns"):
            found = _block(words[1])
            blocks = self.cidrs if words[0] == "cidr" else self.nodns
            if found is not None and len(blocks) < _MAX_CIDRS:
                blocks.append(found)
        elif len(words) == 2 and words[0] == "domain":
            name = words[1].lower()
            if len(name) < _DOMAIN_LEN and set(name) <= _DOMAIN_CHARS:
                name = name.rstrip(".")
                if name and len(self.domains) < _MAX_DOMAINS:
                    self.domains.append(name)
        elif len(words) == 2 and words[0] == "dns" and words[1] in ("0", "1"):
            self.dns = words[1] == "1"


class _VpcMap:
    """The instance's VPC address map, read again whenever the file changes."""

    def __init__(self, path: str, domain: str) -> None:
        self.path = path
        self.domain = domain.lower()
        self._map = _Reading()

    def _refresh(self) -> _Reading:
        try:
            st = os.stat(self.path)
            key: object = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if key == self._map.key:
            return self._map
        reading = _Reading(key)
        try:
            with open(self.path, "rb") as f:
                data = f.read(_MAX_MAP)
        except OSError:
            data = b""
        lines = data.split(b"\n")
        if len(data) >= _MAX_MAP:
            lines.pop()  # cut short: its last line may be too
        for raw in lines:
            reading.parse(raw.decode("ascii", "replace").split())
        self._map = reading
        return reading

    def route(self, host: str, kind: int, port: object) -> tuple[str, str | None] | None:
        """("mapped", loopback address), ("absent", None) or, for a mapped address the
        security groups do not let a socket of this ``kind`` through to on ``port``,
        ("dropped", None) for a VPC address, else None."""
        value = _quad(host)
        if value is None or value == 0 or value >> 24 == 127:
            return None
        reading = self._refresh()
        if value in reading.maps:
            udp = kind == socket.SOCK_DGRAM
            checked = kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM) and isinstance(port, int)
            if checked and not reading.permits(value, udp, int(port)):  # type: ignore[arg-type]
                return "dropped", None
            return "mapped", _dotted(reading.maps[value])
        if any(value & mask == net for net, mask in reading.cidrs):
            return "absent", None
        return None

    def resolve(self, name: object) -> str | None:
        """The address a private DNS name of the region (or of a ``domain`` of the map)
        stands for; None for other names; ``socket.gaierror`` when it does not resolve
        here."""
        if not isinstance(name, str) or not name[:3].lower() == "ip-":
            return None
        label, _, rest = name[3:].partition(".")
        value = _quad(label, "-")
        rest = rest.lower()
        if value is None:
            return None
        ours = bool(self.domain) and rest in (self.domain, self.domain + ".")
        reading = self._refresh()
        if not ours and not any(rest in (d, d + ".") for d in reading.domains):
            return None
        if not reading.dns or any(value & mask == net for net, mask in reading.nodns):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return _dotted(value)


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
    path = os.environ.get("CLOUDLET_VPC_ADDRESSES", "")
    if path:
        _install_vpc(_VpcMap(path, os.environ.get("CLOUDLET_VPC_DOMAIN", "")))


def _install_vpc(vpc: _VpcMap) -> None:
    """Private addresses and names of the VPC, on top of ``_install``'s rules."""

    def route(sock: socket.socket, address: object, stream: bool) -> object:
        if not isinstance(address, tuple) or len(address) < 2:
            return address
        host = address[0]
        named = vpc.resolve(host)
        if named is not None:
            host = named
        if not isinstance(host, str):
            return address
        mapped = sock.family == socket.AF_INET6 and host.lower().startswith("::ffff:")
        if sock.family != socket.AF_INET and not mapped:
            return (host, *address[1:])
        found = vpc.route(host[7:] if mapped else host, sock.type, address[1])
        if found is None:
            return (host, *address[1:])
        if found[0] in ("absent", "dropped"):
            if stream and sock.type == socket.SOCK_STREAM:
                raise TimeoutError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
            if found[0] == "dropped" and not stream:
                return _DROP
            return (host, *address[1:])
        return (("::ffff:" if mapped else "") + str(found[1]), *address[1:])

    base_connect = socket.socket.connect
    base_connect_ex = socket.socket.connect_ex
    base_sendto = socket.socket.sendto
    base_sendmsg = socket.socket.sendmsg
    base_getaddrinfo = socket.getaddrinfo
    base_gethostbyname = socket.gethostbyname
    base_gethostbyname_ex = socket.gethostbyname_ex

    def connect(self: socket.socket, address: object) -> None:
        return base_connect(self, route(self, address, True))

    def connect_ex(self: socket.socket, address: object) -> int:
        try:
            address = route(self, address, True)
        except TimeoutError:
            return errno.ETIMEDOUT
        return base_connect_ex(self, address)

    def sendto(self: socket.socket, data: object, *args: object) -> int:
        if args:
            target = route(self, args[-1], False)
            if target is _DROP:  # dropped on the way, as AWS does
                return memoryview(data).nbytes  # type: ignore[arg-type]
            args = (*args[:-1], target)
        return base_sendto(self, data, *args)

    def sendmsg(self: socket.socket, buffers: object, *args: object) -> int:
        if len(args) >= 3:
            target = route(self, args[2], False)
            if target is _DROP:
                return sum(memoryview(b).nbytes for b in buffers)  # type: ignore[attr-defined]
            args = (*args[:2], target, *args[3:])
        return base_sendmsg(self, buffers, *args)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        return base_getaddrinfo(vpc.resolve(host) or host, *args, **kwargs)

    def gethostbyname(name: str) -> str:
        return base_gethostbyname(vpc.resolve(name) or name)

    def gethostbyname_ex(name: str) -> tuple:
        return base_gethostbyname_ex(vpc.resolve(name) or name)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign]
    socket.socket.sendmsg = sendmsg  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex


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
