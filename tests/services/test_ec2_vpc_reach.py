"""Instances reach each other at their VPC addresses and names, as inside a real VPC.

With boto3 against a real server, instances being real processes: one instance
serves HTTP in its user data, others probe it from theirs and print what they
got to their console (GetConsoleOutput). Inside its VPC the server answers at
its private address and, while the VPC resolves them, at its private DNS name;
an address of the VPC that no running instance holds fails at once with
``ETIMEDOUT`` (AWS's answer is a timeout, after the wait); another VPC does not
reach it, nor does the host. The map follows the instance when it stops and
starts, and after a server restart. The last tests drive the shims directly
(the ``LD_PRELOAD`` library where a compiler exists, and the Python one) with
a map file: translation, UDP, names, and files that change or are malformed.

Each test works in an account of its own (a 12-digit access key names it).
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from cloudlet.runtime import shim
from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import IMAGE, console, eventually, free_port, wait

HAS_CURL = shim.preload_library() is not None and shutil.which("curl") is not None
"""Whether a C program (curl) can show the ``LD_PRELOAD`` shim at work in instances."""
PROBE = r"""
import errno, socket, sys, time

def probe(host, port):
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        return "ok " + data.split(b"\r\n\r\n", 1)[-1].decode().strip()
    except socket.gaierror:
        return "no-such-host"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError as exc:
        return "timeout-now" if exc.errno == errno.ETIMEDOUT else "timeout-waited"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))

deadline = time.monotonic() + float(sys.argv[1])
targets = [arg.split("=", 1) for arg in sys.argv[2:]]
last = {}
while time.monotonic() < deadline:
    for label, target in targets:
        host, port = target.rsplit(":", 1)
        got = probe(host, int(port))
        if last.get(label) != got:
            print(f"{label}: {got}", flush=True)
            last[label] = got
    time.sleep(0.2)
"""


def _account() -> str:
    return str(random.randint(10**11, 10**12 - 1))


def _server_user_data(port: int) -> str:
    return f"""#!/bin/bash
mkdir -p www && echo "served by $CLOUDLET_INSTANCE_ID" > www/index.html
cd www && exec python3 -m http.server {port}
"""


def _probe_user_data(seconds: float, curl: str = "", **targets: str) -> str:
    """Python probes of ``targets`` for ``seconds``; with ``curl``, a URL that curl (a C
    program: the ``LD_PRELOAD`` shim's getaddrinfo and connect) fetches once it answers."""
    args = " ".join(f"{label}={target}" for label, target in targets.items())
    fetch = ""
    if curl:
        fetch = (
            "for i in $(seq 50); do out=$(curl -s --max-time 2 "
            f'{curl}) && {{ echo "curl: $out"; break; }}; sleep 0.2; done &\n'
        )
    return (
        f"#!/bin/bash\n{fetch}cat > probe.py <<'EOF'\n{PROBE}\nEOF\n"
        f"python3 probe.py {seconds} {args}\n"
    )


def _run(ec2: Any, subnet: str, user_data: str | None = None) -> dict:
    kwargs: dict[str, Any] = {"UserData": user_data} if user_data else {}
    res = ec2.run_instances(
        ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t2.micro", SubnetId=subnet, **kwargs
    )
    return res["Instances"][0]


def _vpc(ec2: Any, cidr: str, subnets: list[str], dns_names: bool) -> tuple[str, list[str]]:
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": dns_names})
    ids = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=c)["Subnet"]["SubnetId"] for c in subnets]
    return vpc_id, ids


def _saw(ec2: Any, instance_id: str, line: str, after: int = 0) -> bool:
    return line in console(ec2, instance_id).splitlines()[after:]


def _lines(ec2: Any, instance_id: str) -> int:
    return len(console(ec2, instance_id).splitlines())


def _health(endpoint: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(endpoint + "/_cloudlet/health", timeout=5) as resp:
        return json.loads(resp.read())["services"]["ec2"]


def _finish(ec2: Any, endpoint: str, ids: list[str]) -> None:
    ec2.terminate_instances(InstanceIds=ids)
    wait(ec2, "instance_terminated", ids)
    groups = _health(endpoint)["process_groups"]
    assert not [i for i in ids if i in groups]


def test_instances_of_a_vpc_reach_each_other_and_no_one_else_does(cloudlet_server, aws_client):
    ec2 = aws_client("ec2", aws_access_key_id=_account())
    port = free_port()
    vpc_id, (web_subnet, app_subnet) = _vpc(
        ec2, "10.20.0.0/16", ["10.20.0.0/24", "10.20.1.0/24"], dns_names=True
    )
    # Another VPC over the same block: 10.20.0.x means its own instances there.
    _, (other_subnet,) = _vpc(ec2, "10.20.0.0/16", ["10.20.2.0/24"], dns_names=False)
    launched: list[str] = []
    try:
        web = _run(ec2, web_subnet, _server_user_data(port))
        launched.append(web["InstanceId"])
        address, name = web["PrivateIpAddress"], web["PrivateDnsName"]
        assert (
            address.startswith("10.20.0.")
            and name == f"ip-{address.replace('.', '-')}.ec2.internal"
        )
        targets = {"addr": f"{address}:{port}", "name": f"{name}:{port}"}
        curl = f"http://{name}:{port}/" if HAS_CURL else ""
        probe = _probe_user_data(40, curl, vacant=f"10.20.1.250:{port}", **targets)
        app = _run(ec2, app_subnet, probe)
        other = _run(ec2, other_subnet, _probe_user_data(20, **targets))
        launched += [app["InstanceId"], other["InstanceId"]]
        wait(ec2, "instance_running", launched)
        served = f"ok served by {web['InstanceId']}"
        # Same VPC, another subnet: by address and by name (the VPC resolves names).
        eventually(lambda: _saw(ec2, app["InstanceId"], f"addr: {served}"), timeout=20)
        eventually(lambda: _saw(ec2, app["InstanceId"], f"name: {served}"))
        if HAS_CURL:
            eventually(lambda: _saw(ec2, app["InstanceId"], f"curl: served by {web['InstanceId']}"))
        # An address of the VPC that no instance holds: AWS's timeout, answered at once.
        eventually(lambda: _saw(ec2, app["InstanceId"], "vacant: timeout-now"))
        # The other VPC: the address is not one of its instances', and its names do not
        # resolve (enableDnsHostnames is off there).
        eventually(lambda: _saw(ec2, other["InstanceId"], "addr: timeout-now"))
        eventually(lambda: _saw(ec2, other["InstanceId"], "name: no-such-host"))
        assert served not in console(ec2, other["InstanceId"])
        # The host is outside every VPC: the private address is not this machine's.
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=0.5):
            pass

        # Names stop resolving once the VPC turns DNS hostnames off.
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": False})
        eventually(lambda: _saw(ec2, app["InstanceId"], "name: no-such-host"))
        # The map follows the server: gone while stopped, back (its user data, which ran
        # once, is not serving any more) when started again.
        before = _lines(ec2, app["InstanceId"])
        ec2.stop_instances(InstanceIds=[web["InstanceId"]])
        eventually(lambda: _saw(ec2, app["InstanceId"], "addr: timeout-now", before))
        wait(ec2, "instance_stopped", [web["InstanceId"]])
        ec2.start_instances(InstanceIds=[web["InstanceId"]])
        eventually(lambda: _saw(ec2, app["InstanceId"], "addr: refused", before))
    finally:
        if launched:
            _finish(ec2, cloudlet_server.endpoint, launched)


def test_the_address_map_survives_a_restart(tmp_path):
    account = _account()
    port = free_port()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        _, (subnet,) = _vpc(ec2, "10.30.0.0/16", ["10.30.0.0/24"], dns_names=True)
        web = _run(ec2, subnet, _server_user_data(port))
        wait(ec2, "instance_running", [web["InstanceId"]])
        address = web["PrivateIpAddress"]
    finally:
        server.stop()

    server = CloudletServer.start(data_dir=tmp_path / "data")
    launched = [web["InstanceId"]]
    try:
        ec2 = server.client("ec2", aws_access_key_id=account)
        # The instance came back (its user data does not run again, so nothing serves):
        # at its private address a connection is refused by it, while a vacant address
        # of the VPC times out.
        probe = _probe_user_data(20, addr=f"{address}:{port}", vacant=f"10.30.0.200:{port}")
        app = _run(ec2, subnet, probe)
        launched.append(app["InstanceId"])
        eventually(lambda: _saw(ec2, app["InstanceId"], "addr: refused"), timeout=20)
        eventually(lambda: _saw(ec2, app["InstanceId"], "vacant: timeout-now"))
        _finish(ec2, server.endpoint, launched)
    finally:
        server.stop()


# -- the shims themselves -------------------------------------------------------------

SHIM_SCRIPT = r"""
import json, os, socket, sys
port, udp_port, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = {}

def attempt(key, fn):
    try:
        out[key] = fn()
    except socket.gaierror:
        out[key] = "no-such-host"
    except OSError as exc:
        out[key] = exc.errno

def fetch(host):
    with socket.create_connection((host, port), timeout=2) as s:
        return s.recv(100).decode()

def replace(text):
    with open(path + ".new", "wb") as f:
        f.write(text)
    os.replace(path + ".new", path)

attempt("addr", lambda: fetch("10.20.0.4"))
attempt("name", lambda: fetch("IP-10-20-0-4.eu-west-1.compute.internal."))
attempt("resolve", lambda: socket.gethostbyname("ip-10-20-0-4.eu-west-1.compute.internal"))
attempt("vacant", lambda: fetch("10.20.0.9"))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"sendto", ("10.20.0.4", udp_port))
u.sendmsg([b"sendmsg"], [], 0, ("10.20.0.4", udp_port))
replace(b"dns 0\nmap 10.20.0.5 127.0.0.1\n")
attempt("name-off", lambda: fetch("ip-10-20-0-5.eu-west-1.compute.internal"))
attempt("moved", lambda: fetch("10.20.0.5"))
junk = bytes(range(256)) * 64 + b"map 10.20.0.6\nmap 10.20.0.6 127.0.0.1 x\ncidr 10.0.0.0/33\n"
replace(junk + b"x" * 3000 + b"\nmap 10.20.0.7 127.0.0.1\ncidr 10.20.0.0/16\n" + b"y" * (2 << 20))
attempt("after-junk", lambda: fetch("10.20.0.7"))
attempt("junk-line", lambda: fetch("10.20.0.6"))
os.unlink(path)
attempt("no-map", lambda: socket.gethostbyname("ip-10-20-0-7.eu-west-1.compute.internal"))
print(json.dumps(out))
"""


def _modes() -> list[Any]:
    preload = shim.preload_library()
    skip = pytest.mark.skipif(preload is None, reason="no C compiler: no LD_PRELOAD shim")
    return [pytest.param("preload", marks=skip), "python"]


@pytest.mark.parametrize("mode", _modes())
def test_the_shims_translate_what_the_map_says(mode: str, tmp_path: Path) -> None:
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    stop = threading.Event()

    tcp.settimeout(0.1)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    path = tmp_path / "vpc-map"
    path.write_text("# a VPC\ndns 1\ncidr 10.20.0.0/16\nmap 10.20.0.4 127.0.0.1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDLET_", "LD_PRELOAD"))}
    env.update(
        CLOUDLET_BIND_ADDR="127.0.0.1",
        CLOUDLET_VPC_ADDRESSES=str(path),
        CLOUDLET_VPC_DOMAIN="eu-west-1.compute.internal",
    )
    if mode == "preload":
        env["LD_PRELOAD"] = str(shim.preload_library())
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = str(shim.PYTHON_DIR)
    try:
        args = [sys.executable, "-c", SHIM_SCRIPT, str(tcp.getsockname()[1])]
        args += [str(udp.getsockname()[1]), str(path)]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        got = json.loads(done.stdout)
        datagrams = {udp.recv(100), udp.recv(100)}
    finally:
        stop.set()
        tcp.close()
        udp.close()
        thread.join(5)
    assert got == {
        "addr": "hello",
        "name": "hello",
        "resolve": "10.20.0.4",
        "vacant": errno.ETIMEDOUT,  # at once
        "name-off": "no-such-host",
        "moved": "hello",
        "after-junk": "hello",
        "junk-line": errno.ETIMEDOUT,  # a malformed line maps nothing: inside the VPC's block
        "no-map": "no-such-host",
    }
    assert datagrams == {b"sendto", b"sendmsg"}
