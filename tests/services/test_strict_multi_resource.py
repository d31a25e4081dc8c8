"""Strict mode for requests that act on more than one resource, with real boto3.

AWS authorizes such a request part by part: S3's DeleteObjects per key (a refused key
is an AccessDenied entry of the answer), CopyObject and UploadPartCopy on the target
and on the source, a version's own actions; DynamoDB's batches per table, its
transactions per item's action, PartiQL per statement. Checking the request once let
an explicit Deny be bypassed (DeleteObjects), a source be read without s3:GetObject
(copies) and a table-scoped policy reach other tables (batches).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.names import unique
from tests.services.test_iam_strict import doc, error, make_user


@pytest.fixture(scope="module")
def server(strict_server):
    return strict_server


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def _user(server, iam, service: str, *statements: dict):
    name, _key, client = make_user(server, iam)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
    return client(service)


def test_delete_objects_is_authorized_per_key(server, iam):
    root = server.client("s3")
    bucket = unique("keys")
    root.create_bucket(Bucket=bucket)
    for key in ("protected/x", "ok/y", "ok/z"):
        root.put_object(Bucket=bucket, Key=key, Body=b"1")
    s3 = _user(
        server,
        iam,
        "s3",
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/ok/*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/protected/*"},
        {
            "Effect": "Deny",
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{bucket}/protected/*",
        },
    )
    out = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "protected/x"}, {"Key": "ok/y"}]}
    )
    assert [d["Key"] for d in out["Deleted"]] == ["ok/y"]
    assert [(e["Key"], e["Code"], e["Message"]) for e in out["Errors"]] == [
        ("protected/x", "AccessDenied", "Access Denied")
    ]
    assert root.head_object(Bucket=bucket, Key="protected/x")["ContentLength"] == 1
    # A policy scoped to a prefix deletes under it through DeleteObjects as through
    # DeleteObject (it used to be checked against <bucket>/* and refused whole).
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "ok/z"}], "Quiet": True})
    assert "Errors" not in out
    assert "Contents" not in root.list_objects_v2(Bucket=bucket, Prefix="ok/")


def test_copies_need_get_object_on_the_source(server, iam):
    root = server.client("s3")
    bucket = unique("copies")
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="src/a", Body=b"public")
    root.put_object(Bucket=bucket, Key="secret/a", Body=b"secret")
    s3 = _user(
        server,
        iam,
        "s3",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/src/*"},
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": f"arn:aws:s3:::{bucket}/dst/*",
        },
    )
    s3.copy_object(Bucket=bucket, Key="dst/ok", CopySource={"Bucket": bucket, "Key": "src/a"})
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="dst/stolen", CopySource={"Bucket": bucket, "Key": "secret/a"}
        )
    assert error(exc)[:2] == ("AccessDenied", 403)
    assert f's3:GetObject on resource: "arn:aws:s3:::{bucket}/secret/a"' in error(exc)[2]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst/parts")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="dst/parts",
            UploadId=upload,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "secret/a"},
        )
    assert error(exc)[:2] == ("AccessDenied", 403)
    s3.abort_multipart_upload(Bucket=bucket, Key="dst/parts", UploadId=upload)


def test_a_version_needs_the_version_actions(server, iam):
    root = server.client("s3")
    bucket = unique("versions")
    root.create_bucket(Bucket=bucket)
    root.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = root.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    s3 = _user(
        server,
        iam,
        "s3",
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"
    for call in (
        lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=version),
        lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=version),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("AccessDenied", 403)
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]})
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    assert root.get_object(Bucket=bucket, Key="k", VersionId=version)["Body"].read() == b"v1"


def test_what_a_write_carries_needs_its_own_action(server, iam):
    """PutObject's reference: tags need s3:PutObjectTagging and an ACL s3:PutObjectAcl
    (multipart tags too, boto3#2675); GetObjectAttributes needs s3:GetObjectAttributes
    besides s3:GetObject."""
    root = server.client("s3")
    bucket = unique("carries")
    root.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    root.delete_public_access_block(Bucket=bucket)
    objects = f"arn:aws:s3:::{bucket}/*"
    s3 = _user(
        server,
        iam,
        "s3",
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": objects},
    )
    s3.put_object(Bucket=bucket, Key="plain", Body=b"1")
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="tagged", Body=b"1", Tagging="a=b"),
        lambda: s3.put_object(Bucket=bucket, Key="acl", Body=b"1", ACL="public-read"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="a=b"),
        lambda: s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=["ETag"]),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("AccessDenied", 403)
    assert "Contents" not in root.list_objects_v2(Bucket=bucket, Prefix="t")
    s3 = _user(
        server,
        iam,
        "s3",
        {
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:GetObject",
                "s3:PutObjectTagging",
                "s3:PutObjectAcl",
                "s3:GetObjectAttributes",
            ],
            "Resource": objects,
        },
    )
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"1", Tagging="a=b", ACL="public-read")
    assert root.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [
        {"Key": "a", "Value": "b"}
    ]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="a=b")["UploadId"]
    root.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)
    attrs = s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=["ETag"])
    assert attrs["ETag"]


def _table(ddb, name: str) -> str:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"


def _denied(call) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    code, status, message = error(exc)
    assert (code, status) == ("AccessDeniedException", 400)
    return message


def test_dynamodb_batches_are_authorized_per_table(server, iam):
    root = server.client("dynamodb")
    mine, other = unique("mine"), unique("other")
    mine_arn, _ = _table(root, mine), _table(root, other)
    ddb = _user(
        server, iam, "dynamodb", {"Effect": "Allow", "Action": "dynamodb:*", "Resource": mine_arn}
    )
    item = {"pk": {"S": "a"}}
    ddb.batch_write_item(RequestItems={mine: [{"PutRequest": {"Item": item}}]})
    message = _denied(
        lambda: ddb.batch_write_item(
            RequestItems={
                mine: [{"PutRequest": {"Item": item}}],
                other: [{"PutRequest": {"Item": item}}],
            }
        )
    )
    assert "dynamodb:BatchWriteItem" in message and f"table/{other}" in message
    assert "Item" not in root.get_item(TableName=other, Key=item)
    _denied(
        lambda: ddb.batch_get_item(RequestItems={mine: {"Keys": [item]}, other: {"Keys": [item]}})
    )
    assert ddb.batch_get_item(RequestItems={mine: {"Keys": [item]}})["Responses"][mine] == [item]


def test_dynamodb_transactions_and_partiql_take_the_item_actions(server, iam):
    root = server.client("dynamodb")
    mine, other = unique("tx"), unique("tx-other")
    mine_arn, _ = _table(root, mine), _table(root, other)
    # The developer guide's example: the item actions on one table, nothing named Transact*.
    ddb = _user(
        server,
        iam,
        "dynamodb",
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:PartiQLSelect",
            ],
            "Resource": mine_arn,
        },
    )
    key = {"pk": {"S": "k"}}
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": mine, "Item": {**key, "v": {"N": "1"}}}},
            {
                "ConditionCheck": {
                    "TableName": mine,
                    "Key": {"pk": {"S": "other"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": mine, "Key": key}}])
    assert got["Responses"][0]["Item"]["v"] == {"N": "1"}
    message = _denied(
        lambda: ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": mine, "Item": key}},
                {"Delete": {"TableName": other, "Key": key}},
            ]
        )
    )
    assert "dynamodb:DeleteItem" in message and f"table/{other}" in message
    rows = ddb.execute_statement(Statement=f"SELECT * FROM \"{mine}\" WHERE pk = 'k'")["Items"]
    assert rows[0]["v"] == {"N": "1"}
    message = _denied(
        lambda: ddb.execute_statement(Statement=f"INSERT INTO \"{mine}\" VALUE {{'pk': 'n'}}")
    )
    assert "dynamodb:PartiQLInsert" in message
    _denied(
        lambda: ddb.batch_execute_statement(
            Statements=[{"Statement": f"SELECT * FROM \"{other}\" WHERE pk = 'k'"}]
        )
    )
