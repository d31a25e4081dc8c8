"""Managing functions with boto3: create/get/list/update/delete, versions, aliases, tags,
permissions, code from S3, AWS's validation errors, and persistence across restarts."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services import lambda_helpers
from tests.services.lambda_helpers import (
    ROLE,
    invoke_json,
    python_function,
    zip_of,
)

# The module's private server and its Lambda client (fixtures).
lambda_server = lambda_helpers.lambda_server
lam = lambda_helpers.lam

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def _name() -> str:
    return f"mg-{uuid.uuid4().hex[:10]}"


def _code(err: pytest.ExceptionInfo) -> str:
    return err.value.response["Error"]["Code"]


def test_create_reports_code_hash_and_becomes_active(lam):
    name = _name()
    data = zip_of({"app.py": SOURCE})
    out = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": data},
        Description="d",
        MemorySize=256,
        Timeout=10,
        Tags={"team": "a"},
        Architectures=["arm64"],
        EphemeralStorage={"Size": 1024},
        TracingConfig={"Mode": "Active"},
    )
    assert out["State"] == "Pending"
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert out["CodeSize"] == len(data)
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    got = lam.get_function(FunctionName=name)
    cfg = got["Configuration"]
    assert cfg["State"] == "Active" and cfg["LastUpdateStatus"] == "Successful"
    assert cfg["Runtime"] == "python3.11" and cfg["MemorySize"] == 256 and cfg["Timeout"] == 10
    assert cfg["Architectures"] == ["arm64"] and cfg["EphemeralStorage"] == {"Size": 1024}
    assert cfg["TracingConfig"] == {"Mode": "Active"} and cfg["PackageType"] == "Zip"
    assert got["Tags"] == {"team": "a"}
    with urllib.request.urlopen(got["Code"]["Location"]) as resp:
        assert resp.read() == data


def test_validation_errors(lambda_server):
    # Server-side validation: boto3's own checks are off so the bad values reach the server.
    lam = lambda_server.client("lambda", config=Config(parameter_validation=False))
    name = _name()
    python_function(lam, name, SOURCE)
    with pytest.raises(ClientError) as err:
        python_function(lam, name, SOURCE)
    assert _code(err) == "ResourceConflictException"
    assert err.value.response["Error"]["Message"] == f"Function already exist: {name}"
    cases = [
        {"Role": "not-a-role"},
        {"MemorySize": 64},
        {"Timeout": 901},
        {"Runtime": "nodejs4.3"},
    ]
    for override in cases:
        kwargs = {"Runtime": "python3.12", "Role": ROLE, **override}
        with pytest.raises(ClientError) as err:
            lam.create_function(
                FunctionName=_name(),
                Handler="app.handler",
                Code={"ZipFile": zip_of({"a.py": ""})},
                **kwargs,
            )
        assert _code(err) == "InvalidParameterValueException", override
    with pytest.raises(ClientError) as err:
        lam.create_function(
            FunctionName=_name(), Role=ROLE, PackageType="Image", Code={"ImageUri": "x:latest"}
        )
    assert _code(err) == "InvalidParameterValueException"
    assert "Container images are not supported" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        lam.create_function(
            FunctionName=_name(),
            Runtime="python3.12",
            Role=ROLE,
            Handler="a.b",
            Code={"ZipFile": b"not a zip"},
        )
    assert _code(err) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName="missing-fn")
    assert _code(err) == "ResourceNotFoundException"
    assert err.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing-fn"
    )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_code_from_s3(lam, lambda_server):
    s3 = lambda_server.client("s3")
    bucket = f"code-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    data = zip_of({"app.py": "def handler(e, c):\n    return 's3 code'\n"})
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=data)
    name = _name()
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=ROLE,
        Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": "fn.zip"},
    )
    assert invoke_json(lam, name)[1] == "s3 code"
    with pytest.raises(ClientError) as err:
        lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="missing.zip")
    assert _code(err) == "InvalidParameterValueException"


def test_list_functions_paginates_and_lists_versions(lam):
    names = sorted(_name() for _ in range(3))
    for name in names:
        python_function(lam, name, SOURCE)
    lam.publish_version(FunctionName=names[0])
    seen = []
    marker = None
    while True:
        kwargs = {"MaxItems": 2}
        if marker:
            kwargs["Marker"] = marker
        page = lam.list_functions(**kwargs)
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert set(names) <= set(seen)
    assert all(f["Version"] == "$LATEST" for f in lam.list_functions()["Functions"])
    every = [
        (f["FunctionName"], f["Version"])
        for p in lam.get_paginator("list_functions").paginate(FunctionVersion="ALL")
        for f in p["Functions"]
    ]
    assert (names[0], "1") in every and (names[0], "$LATEST") in every


def test_publish_versions_aliases_and_deletes(lam):
    name = _name()
    python_function(lam, name, SOURCE)
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f"{name}:1")
    # No change since: AWS returns the same version.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    with pytest.raises(ClientError) as err:
        lam.publish_version(FunctionName=name, CodeSha256="wrong")
    assert _code(err) == "InvalidParameterValueException"
    lam.update_function_configuration(FunctionName=name, Description="changed")
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    assert (
        lam.get_function_configuration(FunctionName=name, Qualifier="1")["Description"] == "first"
    )
    alias = lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f"{name}:prod")
    with pytest.raises(ClientError) as err:
        lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    assert _code(err) == "ResourceConflictException"
    lam.update_alias(FunctionName=name, Name="prod", FunctionVersion="2", Description="now 2")
    got = lam.get_alias(FunctionName=name, Name="prod")
    assert got["FunctionVersion"] == "2" and got["Description"] == "now 2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["prod"]
    assert lam.invoke(FunctionName=f"{name}:prod", Payload=b"{}")["ExecutedVersion"] == "2"
    with pytest.raises(ClientError) as err:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert _code(err) == "ResourceConflictException"
    lam.delete_alias(FunctionName=name, Name="prod")
    lam.delete_function(FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "2"]
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName=name)
    assert _code(err) == "ResourceNotFoundException"


def test_tags_and_permissions(lam):
    name = _name()
    arn = python_function(lam, name, SOURCE)["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as err:
        lam.get_policy(FunctionName=name)
    assert _code(err) == "ResourceNotFoundException"
    out = lam.add_permission(
        FunctionName=name,
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::my-bucket",
        SourceAccount="000000000000",
    )
    statement = json.loads(out["Statement"])
    assert statement == {
        "Sid": "s3-invoke",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": "000000000000"},
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
        },
    }
    lam.add_permission(
        FunctionName=name,
        StatementId="acct",
        Action="lambda:InvokeFunction",
        Principal="111122223333",
    )
    with pytest.raises(ClientError) as err:
        lam.add_permission(
            FunctionName=name,
            StatementId="acct",
            Action="lambda:InvokeFunction",
            Principal="111122223333",
        )
    assert _code(err) == "ResourceConflictException"
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Version"] == "2012-10-17" and [s["Sid"] for s in policy["Statement"]] == [
        "s3-invoke",
        "acct",
    ]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    lam.remove_permission(FunctionName=name, StatementId="s3-invoke")
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["acct"]


def test_unbuilt_operations_answer_501(lam):
    with pytest.raises(ClientError) as err:
        lam.list_code_signing_configs()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_functions_survive_a_restart(tmp_path):
    with CloudletServer.start(data_dir=tmp_path) as server:
        lam = server.client("lambda")
        python_function(
            lam, "durable", "N = 0\ndef handler(e, c):\n    return 'v' + str(e.get('x'))\n"
        )
        lam.publish_version(FunctionName="durable")
        lam.create_alias(FunctionName="durable", Name="live", FunctionVersion="1")
        assert invoke_json(lam, "durable", {"x": 1})[1] == "v1"
    with CloudletServer.start(data_dir=tmp_path) as server:
        lam = server.client("lambda")
        assert lam.get_alias(FunctionName="durable", Name="live")["FunctionVersion"] == "1"
        assert invoke_json(lam, "durable", {"x": 2}, Qualifier="live")[1] == "v2"
