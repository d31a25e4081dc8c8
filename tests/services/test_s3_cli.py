"""The AWS CLI against S3: ``aws s3 mb/ls/cp/rm/rb`` and ``aws s3api`` object commands."""

from __future__ import annotations

import json

from tests.services.s3_helpers import bname


def test_s3_high_level_commands(aws, tmp_path):
    name = bname("cli")
    assert f"make_bucket: {name}" in aws("s3", "mb", f"s3://{name}").stdout
    assert name in aws("s3", "ls").stdout
    src = tmp_path / "hello.txt"
    src.write_text("hello from the cli\n")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "one.txt").write_text("1")
    (tmp_path / "tree" / "sub").mkdir()
    (tmp_path / "tree" / "sub" / "two.txt").write_text("22")
    aws("s3", "cp", str(src), f"s3://{name}/docs/hello world.txt")
    aws("s3", "cp", str(tmp_path / "tree"), f"s3://{name}/tree/", "--recursive")
    listing = aws("s3", "ls", f"s3://{name}/").stdout
    assert "PRE docs/" in listing and "PRE tree/" in listing
    recursive = aws("s3", "ls", f"s3://{name}", "--recursive").stdout
    for key in ("docs/hello world.txt", "tree/one.txt", "tree/sub/two.txt"):
        assert key in recursive
    back = tmp_path / "back.txt"
    aws("s3", "cp", f"s3://{name}/docs/hello world.txt", str(back))
    assert back.read_text() == "hello from the cli\n"
    aws("s3", "cp", f"s3://{name}/docs/hello world.txt", f"s3://{name}/copied.txt")
    assert "copied.txt" in aws("s3", "ls", f"s3://{name}/").stdout
    failed = aws("s3", "rb", f"s3://{name}", check=False)
    assert failed.returncode != 0 and "BucketNotEmpty" in failed.stderr
    aws("s3", "rm", f"s3://{name}/copied.txt")
    aws("s3", "rm", f"s3://{name}", "--recursive")
    assert aws("s3", "ls", f"s3://{name}", "--recursive").stdout == ""
    aws("s3", "rb", f"s3://{name}")
    assert name not in aws("s3", "ls").stdout


def test_s3api_object_commands(aws, tmp_path):
    name = bname("api")
    aws("s3api", "create-bucket", "--bucket", name)
    body = tmp_path / "body.bin"
    body.write_bytes(b"\x00\x01binary\xff" * 100)
    put = json.loads(
        aws(
            "s3api",
            "put-object",
            "--bucket",
            name,
            "--key",
            "bin/obj",
            "--body",
            str(body),
            "--content-type",
            "application/x-test",
            "--metadata",
            "k=v",
            "--output",
            "json",
        ).stdout
    )
    assert put["ETag"].startswith('"')
    head = json.loads(
        aws("s3api", "head-object", "--bucket", name, "--key", "bin/obj", "--output", "json").stdout
    )
    assert head["ContentLength"] == body.stat().st_size
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"k": "v"}
    out = tmp_path / "out.bin"
    got = json.loads(
        aws(
            "s3api",
            "get-object",
            "--bucket",
            name,
            "--key",
            "bin/obj",
            str(out),
            "--output",
            "json",
        ).stdout
    )
    assert got["ETag"] == put["ETag"]
    assert out.read_bytes() == body.read_bytes()
    ranged = tmp_path / "ranged.bin"
    aws(
        "s3api",
        "get-object",
        "--bucket",
        name,
        "--key",
        "bin/obj",
        "--range",
        "bytes=1-6",
        str(ranged),
    )
    assert ranged.read_bytes() == b"\x01binar"
    missing = aws("s3api", "head-object", "--bucket", name, "--key", "nope", check=False)
    assert missing.returncode != 0 and "404" in missing.stderr
    listed = json.loads(
        aws("s3api", "list-objects-v2", "--bucket", name, "--output", "json").stdout
    )
    assert [o["Key"] for o in listed["Contents"]] == ["bin/obj"]
