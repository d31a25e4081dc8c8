"""Each instance has its own view of the network, as on EC2.

Servers in user data that bind ``0.0.0.0`` (or ``::``, or ``127.0.0.1``) land
on the instance's own loopback address, so two instances serve the same port;
``localhost`` inside an instance reaches the instance's own services; calls to
cloudlet's endpoint still reach cloudlet. Python programs are steered by the
Python shim (always there), every dynamically linked program by the
``LD_PRELOAD`` shim where a C compiler exists (tests needing it skip
otherwise). Each server has its own address block; most tests still take
ports from ``free_port``, and one uses 8080 itself.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import urllib.error

import pytest

from cloudlet.runtime import shim
from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import console, eventually, free_port, http_get, launch, wait

HAS_PRELOAD = shim.preload_library() is not None
needs_preload = pytest.mark.skipif(not HAS_PRELOAD, reason="no C compiler: no LD_PRELOAD shim")


def _ips(ec2, ids: list[str]) -> dict[str, str]:
    res = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["PrivateIpAddress"] for r in res for i in r["Instances"]}


def _terminate(ec2, ids: list[str]) -> None:
    ec2.terminate_instances(InstanceIds=ids)
    wait(ec2, "instance_terminated", ids)


def _refused(url: str) -> bool:
    try:
        http_get(url)
    except (urllib.error.URLError, ConnectionError):
        return True
    return False


def _server_user_data(port: int, bind: str = "") -> str:
    flag = f" --bind {bind}" if bind else ""
    return f"""#!/bin/bash
mkdir -p www && echo "served by $CLOUDLET_INSTANCE_ID" > www/index.html
cd www && exec python3 -m http.server {port}{flag}
"""


def test_wildcard_server_is_reachable_at_the_instance_address(aws_client):
    ec2 = aws_client("ec2")
    port = free_port()
    (iid,) = launch(ec2, _server_user_data(port))
    try:
        wait(ec2, "instance_running", [iid])
        ip = _ips(ec2, [iid])[iid]
        body = eventually(lambda: http_get(f"http://{ip}:{port}/"))
        assert body.strip() == f"served by {iid}"
        # Steered onto the instance's address, not bound to every address.
        assert _refused(f"http://127.0.0.1:{port}/")
    finally:
        _terminate(ec2, [iid])


def _host_port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_two_instances_serve_the_same_wildcard_port(aws_client):
    """The issue's case literally: both bind 0.0.0.0:8080. Each server has its own
    address block, so parallel workers' instances do not collide on 8080."""
    ec2 = aws_client("ec2")
    port = 8080
    if not _host_port_free(port):
        pytest.skip("something on this machine holds 0.0.0.0:8080 or 127.0.0.1:8080")
    ids = launch(ec2, _server_user_data(port), count=2)
    try:
        wait(ec2, "instance_running", ids)
        ips = _ips(ec2, ids)
        assert len(set(ips.values())) == 2
        for iid, ip in ips.items():
            body = eventually(lambda ip=ip: http_get(f"http://{ip}:{port}/"))
            assert body.strip() == f"served by {iid}"
    finally:
        _terminate(ec2, ids)


@pytest.mark.parametrize("bind", ["::", "127.0.0.1", "localhost"])
def test_ipv6_wildcard_and_localhost_binds_land_on_the_instance_address(aws_client, bind):
    ec2 = aws_client("ec2")
    port = free_port()
    ids = launch(ec2, _server_user_data(port, bind), count=2)
    try:
        wait(ec2, "instance_running", ids)
        for iid, ip in _ips(ec2, ids).items():
            body = eventually(lambda ip=ip: http_get(f"http://{ip}:{port}/"))
            assert body.strip() == f"served by {iid}"
    finally:
        _terminate(ec2, ids)


PERL_SERVER = r"""#!/usr/bin/perl
use strict;
use IO::Socket::INET;
$| = 1;
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => PORT, Listen => 5,
                              ReuseAddr => 1) or die "listen: $!";
print "perl listening on ", $s->sockhost, ":", $s->sockport, "\n";
while (my $c = $s->accept) {
    while (my $line = <$c>) { last if $line =~ /^\r?\n$/; }
    print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nperl on $ENV{CLOUDLET_INSTANCE_ID}\n";
    close $c;
}
"""


@needs_preload
@pytest.mark.skipif(shutil.which("perl") is None, reason="no perl")
def test_non_python_wildcard_server_is_steered_by_the_preload_shim(aws_client):
    ec2 = aws_client("ec2")
    port = free_port()
    ids = launch(ec2, PERL_SERVER.replace("PORT", str(port)), count=2)
    try:
        wait(ec2, "instance_running", ids)
        for iid, ip in _ips(ec2, ids).items():
            body = eventually(lambda ip=ip: http_get(f"http://{ip}:{port}/"))
            assert body.strip() == f"perl on {iid}"
            assert f"perl listening on {ip}:{port}" in console(ec2, iid)
    finally:
        _terminate(ec2, ids)


def _inside_user_data(port: int) -> str:
    return f"""#!/bin/bash
mkdir -p www && echo "own $CLOUDLET_INSTANCE_ID" > www/index.html
(cd www && exec python3 -m http.server {port} >/dev/null 2>&1) &
get() {{ python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())' "$1"; }}
for i in $(seq 100); do get http://127.0.0.1:{port}/ >/dev/null 2>&1 && break; sleep 0.1; done
echo "python-127: $(get http://127.0.0.1:{port}/)"
echo "python-localhost: $(get http://localhost:{port}/)"
if command -v curl >/dev/null; then
  echo "curl-127: $(curl -s --max-time 5 http://127.0.0.1:{port}/)"
  echo "curl-localhost: $(curl -s --max-time 5 http://localhost:{port}/)"
  echo "curl-cloudlet: $(curl -s --max-time 5 -o /dev/null -w '%{{http_code}}' "$AWS_ENDPOINT_URL/_cloudlet/health")"
fi
python3 - <<'EOF'
import os, boto3
me = os.environ["CLOUDLET_INSTANCE_ID"]
res = boto3.client("ec2").describe_instances(InstanceIds=[me])["Reservations"]
print("boto3:", res[0]["Instances"][0]["InstanceId"])
EOF
echo "done-inside"
"""


def test_localhost_inside_an_instance_is_its_own_and_cloudlet_stays_reachable(aws_client):
    ec2 = aws_client("ec2")
    port = free_port()
    ids = launch(ec2, _inside_user_data(port), count=2)
    try:
        for iid in ids:
            out = eventually(
                lambda iid=iid: "done-inside" in console(ec2, iid) and console(ec2, iid),
                timeout=45,
            )
            assert f"python-127: own {iid}" in out, out
            assert f"python-localhost: own {iid}" in out, out
            assert f"boto3: {iid}" in out, out
            if HAS_PRELOAD and shutil.which("curl"):
                assert f"curl-127: own {iid}" in out, out
                assert f"curl-localhost: own {iid}" in out, out
                assert "curl-cloudlet: 200" in out, out
    finally:
        _terminate(ec2, ids)


def test_python_shim_alone_when_there_is_no_compiler():
    """A server whose instances get no LD_PRELOAD library (as on a machine without a
    C compiler): Python servers are still steered, and boto3 still reaches cloudlet."""
    port = free_port()
    user_data = f"""#!/bin/bash
echo "preload=[$LD_PRELOAD]"
python3 -c 'import boto3; boto3.client("ec2").describe_regions(); print("boto3 ok")'
mkdir -p www && echo "served by $CLOUDLET_INSTANCE_ID" > www/index.html
cd www && exec python3 -m http.server {port}
"""
    env = {"CLOUDLET_NO_PRELOAD_SHIM": "1"}
    with CloudletServer.start(env=env) as server:
        ec2 = server.client("ec2")
        ids = launch(ec2, user_data, count=2)
        try:
            wait(ec2, "instance_running", ids)
            for iid, ip in _ips(ec2, ids).items():
                body = eventually(lambda ip=ip: http_get(f"http://{ip}:{port}/"))
                assert body.strip() == f"served by {iid}"
                out = eventually(
                    lambda iid=iid: "boto3 ok" in console(ec2, iid) and console(ec2, iid)
                )
                assert "bindshim" not in out.split("preload=[", 1)[1].split("]", 1)[0]
        finally:
            _terminate(ec2, ids)


# -- the shims on their own, without a server ---------------------------------------

PROBE = r"""
import socket, sys
exempt = int(sys.argv[1])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 0))
ephemeral = srv.getsockname()[0]
srv.close()
srv = socket.socket()
srv.bind(("", int(sys.argv[2])))
srv.listen()
print("bound", srv.getsockname()[0], "ephemeral", ephemeral)
c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
print("connected", c.getpeername()[0])
c = socket.create_connection(("localhost", int(sys.argv[2])))
print("localhost", c.getpeername()[0].removeprefix("::ffff:"))
six = socket.socket(socket.AF_INET6)
six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
six.bind(("::", int(sys.argv[3])))
print("six", six.getsockname()[0])
e = socket.socket()
print("exempt", e.connect_ex(("127.0.0.1", exempt)), e.getpeername()[0])
"""


@pytest.mark.parametrize("layer", ["python", pytest.param("preload", marks=needs_preload)])
def test_each_shim_layer_applies_the_rules(layer, tmp_path):
    address = f"127.0.{random.randint(200, 250)}.{random.randint(1, 254)}"
    # The host's own sitecustomize (here: one on PYTHONPATH) still runs after ours.
    host = tmp_path / "host"
    host.mkdir()
    (host / "sitecustomize.py").write_text("print('host sitecustomize ran')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PYTHONPATH")}
    env.update(CLOUDLET_BIND_ADDR=address)
    if layer == "python":
        env["PYTHONPATH"] = os.pathsep.join([str(shim.PYTHON_DIR), str(host)])
    else:
        env["LD_PRELOAD"] = str(shim.preload_library())
    with socket.socket() as cloudlet:  # stands for cloudlet's endpoint on 127.0.0.1
        cloudlet.bind(("127.0.0.1", 0))
        cloudlet.listen()
        exempt = cloudlet.getsockname()[1]
        env["CLOUDLET_ENDPOINT_PORT"] = f"1,{exempt}"
        ports = [str(free_port()), str(free_port())]
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(exempt), *ports],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"bound {address} ephemeral 0.0.0.0" in lines
    assert f"connected {address}" in lines
    assert f"localhost {address}" in lines
    assert f"six ::ffff:{address}" in lines
    assert "exempt 0 127.0.0.1" in lines
    if layer == "python":
        assert "host sitecustomize ran" in lines


def test_preload_library_is_built_once_and_absent_without_a_compiler(tmp_path):
    assert shim.preload_library(tmp_path / "none", compiler="/nonexistent/cc") is None
    if shim.find_compiler() is None:
        pytest.skip("no C compiler")
    built = shim.preload_library(tmp_path / "cache")
    assert built is not None and built.parent == tmp_path / "cache" and built.exists()
    assert shim.preload_library(tmp_path / "cache") == built
