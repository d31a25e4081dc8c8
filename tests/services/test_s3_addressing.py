"""Path-style and virtual-hosted-style S3 addressing.

``*.localhost`` names resolve to loopback where the resolver supports it
(systemd-resolved, glibc's nss-myhostname); where it does not (CI containers
often lack both), the test process resolves them itself, which is exactly
what such a resolver would do. The server only ever sees the Host header.
"""

from __future__ import annotations

import http.client
import socket
import urllib.request

import boto3
import pytest
from botocore.config import Config

from cloudlet.gateway.detect import bucket_from_host
from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname


@pytest.mark.parametrize(
    "host,bucket",
    [
        ("mybucket.s3.localhost:4566", "mybucket"),
        ("mybucket.s3.eu-west-1.localhost", "mybucket"),
        ("my.dotted.bucket.s3.localhost:4566", "my.dotted.bucket"),
        ("mybucket.s3.amazonaws.com", "mybucket"),
        ("mybucket.s3.us-west-2.amazonaws.com", "mybucket"),
        ("mybucket.s3-us-west-2.amazonaws.com", "mybucket"),
        ("mybucket.s3.dualstack.us-east-1.amazonaws.com", "mybucket"),
        ("mybucket.localhost:4566", "mybucket"),
        ("s3.localhost:4566", None),
        ("s3.eu-west-1.localhost", None),
        ("s3.amazonaws.com", None),
        ("localhost:4566", None),
        ("127.0.0.1:4566", None),
        ("[::1]:4566", None),
        ("", None),
    ],
)
def test_bucket_from_host(host, bucket):
    assert bucket_from_host(host) == bucket


def _raw(endpoint_port: int, method: str, path: str, host: str, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint_port)
    conn.request(method, path, body=body, headers={"Host": host})
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_host_header_styles(cloudlet_server, aws_client):
    s3 = aws_client("s3", config=NO_RETRIES)
    name = bname()
    s3.create_bucket(Bucket=name)
    port = cloudlet_server.port
    hosts = [
        f"{name}.s3.localhost:{port}",
        f"{name}.s3.us-east-1.localhost:{port}",
        f"{name}.s3.amazonaws.com",
        f"{name}.s3.us-east-1.amazonaws.com",
        f"{name}.localhost:{port}",
    ]
    for i, host in enumerate(hosts):
        status, _ = _raw(port, "PUT", f"/dir/key{i}.txt", host, f"via {host}".encode())
        assert status == 200, host
        status, body = _raw(port, "GET", f"/dir/key{i}.txt", host)
        assert (status, body) == (200, f"via {host}".encode()), host
        status, body = _raw(port, "GET", "/?list-type=2&prefix=dir/", host)
        assert status == 200 and b"<Key>dir/key0.txt</Key>" in body, host
    # Path style still works alongside, and sees the same objects.
    assert len(s3.list_objects_v2(Bucket=name)["Contents"]) == len(hosts)
    status, body = _raw(port, "GET", f"/{name}/dir/key0.txt", f"s3.localhost:{port}")
    assert status == 200


@pytest.fixture
def localhost_resolves(monkeypatch):
    """Resolve ``*.localhost`` to loopback in this process, as nss-myhostname would."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _virtual_client(port: int, **kwargs):
    return boto3.client(
        "s3",
        endpoint_url=f"http://s3.localhost:{port}",
        region_name="us-east-1",
        aws_access_key_id=kwargs.pop("key", "test"),
        aws_secret_access_key=kwargs.pop("secret", "test"),
        config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 0}),
    )


def test_boto3_virtual_addressing(cloudlet_server, localhost_resolves):
    s3 = _virtual_client(cloudlet_server.port)
    name = bname()
    s3.create_bucket(Bucket=name)
    seen_hosts = []
    s3.meta.events.register("before-send.s3", lambda request, **_: seen_hosts.append(request.url))
    s3.put_object(Bucket=name, Key="a b/ü+?.txt", Body=b"virtual")
    assert s3.get_object(Bucket=name, Key="a b/ü+?.txt")["Body"].read() == b"virtual"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["a b/ü+?.txt"]
    assert all(f"//{name}.s3.localhost:" in url for url in seen_hosts)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "a b/ü+?.txt"})
    assert f"//{name}.s3.localhost:" in url
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"virtual"


def test_virtual_addressing_in_strict_mode(tmp_path, localhost_resolves):
    """The signature covers the path the client sent, not the rewritten one."""
    server = CloudletServer.start(
        auth="strict", extra_args=["--root-access-key", "AKIDS3", "--root-secret-key", "sekrit"]
    )
    try:
        s3 = _virtual_client(server.port, key="AKIDS3", secret="sekrit")
        name = bname()
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="signed/key with space", Body=b"ok")
        assert s3.get_object(Bucket=name, Key="signed/key with space")["Body"].read() == b"ok"
        bad = _virtual_client(server.port, key="AKIDS3", secret="wrong")
        with pytest.raises(Exception) as exc:
            bad.get_object(Bucket=name, Key="signed/key with space")
        assert "SignatureDoesNotMatch" in str(exc.value)
    finally:
        server.stop()


def test_urls_handed_back_follow_the_addressing(cloudlet_server, aws_client, localhost_resolves):
    """CompleteMultipartUpload's Location is the object's URL as the client addressed
    the server (found by the AWS SDK for JavaScript, whose Upload hands it on): under a
    virtual host the bucket is not repeated in the path, and S3 reads the key's '+'
    back as the space it stands for. CreateBucket outside us-east-1
    names the bucket's regional address on the server's port."""
    port = cloudlet_server.port
    virtual, path_style = _virtual_client(port), aws_client("s3", config=NO_RETRIES)
    name = bname()
    virtual.create_bucket(Bucket=name)
    locations = []
    for s3, key in ((virtual, "v dir/ü.txt"), (path_style, "p dir/ü.txt")):
        upload = s3.create_multipart_upload(Bucket=name, Key=key)["UploadId"]
        part = s3.upload_part(Bucket=name, Key=key, UploadId=upload, PartNumber=1, Body=b"x")
        location = s3.complete_multipart_upload(
            Bucket=name,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )["Location"]
        with urllib.request.urlopen(location) as r:  # the URL reaches the object
            assert r.read() == b"x"
        locations.append(location)
    # Form-encoded, as S3 writes it (aws-sdk-js#811): '/' as %2F, a space as '+'.
    assert locations[0] == f"http://{name}.s3.localhost:{port}/v+dir%2F%C3%BC.txt"
    assert locations[1] == f"http://127.0.0.1:{port}/{name}/p+dir%2F%C3%BC.txt"
    regional = bname()
    out = path_style.create_bucket(
        Bucket=regional, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert out["Location"] == f"http://{regional}.s3.eu-west-1.localhost:{port}/"


def test_a_plus_in_the_key_path_is_a_space(cloudlet_server, aws_client):
    """S3 reads a '+' in a request's key as a space (s3cmd#554: ``GET /hello+world.html``
    is ``hello world.html``); a key's own '+' travels as %2B, as the SDKs send it."""
    s3 = aws_client("s3", config=NO_RETRIES)
    name = bname()
    s3.create_bucket(Bucket=name)
    put = urllib.request.Request(
        f"{cloudlet_server.endpoint}/{name}/hello+world.txt", data=b"spaced", method="PUT"
    )
    with urllib.request.urlopen(put) as r:
        assert r.status == 200
    s3.put_object(Bucket=name, Key="c++.txt", Body=b"plus")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]]
    assert listed == ["c++.txt", "hello world.txt"]
    with urllib.request.urlopen(f"{cloudlet_server.endpoint}/{name}/c%2B%2B.txt") as r:
        assert r.read() == b"plus"
