"""Directory buckets (S3 Express One Zone) through boto3: creation in a zone, the two
bucket listings, CreateSession's credentials (which boto3 asks for and signs with by
itself), EXPRESS_ONEZONE objects, the operations a directory bucket refuses, and, on a
strict server, sessions that hold only for their bucket and their mode."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname, error, post_form

ZONE = "use1-az4"
DIRECTORY = {
    "Location": {"Type": "AvailabilityZone", "Name": ZONE},
    "Bucket": {"Type": "Directory", "DataRedundancy": "SingleAvailabilityZone"},
}


def dname(zone: str = ZONE) -> str:
    return f"{bname('d')}--{zone}--x-s3"


def create_directory(s3, zone: str = ZONE) -> str:
    name = dname(zone)
    config = {**DIRECTORY, "Location": {"Type": "AvailabilityZone", "Name": zone}}
    s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
    return name


@pytest.fixture
def s3(cloudlet_server):
    return cloudlet_server.client("s3", config=NO_RETRIES)


def test_create_head_and_the_two_listings(s3):
    name = create_directory(s3)
    general = bname("g")
    s3.create_bucket(Bucket=general)
    head = s3.head_bucket(Bucket=name)
    assert head["BucketLocationType"] == "AvailabilityZone"
    assert head["BucketLocationName"] == ZONE
    assert head["BucketRegion"] == "us-east-1"
    assert head["BucketArn"].startswith("arn:aws:s3express:us-east-1:")

    listed = [b["Name"] for b in s3.list_directory_buckets()["Buckets"]]
    assert name in listed and general not in listed
    plain = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert general in plain and name not in plain


def test_list_directory_buckets_pages(s3):
    names = {create_directory(s3) for _ in range(3)}
    seen, token = [], None
    while True:
        kwargs = {"MaxDirectoryBuckets": 1} | ({"ContinuationToken": token} if token else {})
        page = s3.list_directory_buckets(**kwargs)
        assert len(page["Buckets"]) <= 1
        seen += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            break
    assert names <= set(seen)
    assert len(seen) == len(set(seen))
    paginated = s3.get_paginator("list_directory_buckets").paginate()
    assert names <= {b["Name"] for p in paginated for b in p["Buckets"]}


def test_creation_is_checked(s3):
    name = dname()
    with pytest.raises(ClientError) as exc:  # the zone in the name and the location differ
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={
                **DIRECTORY,
                "Location": {"Type": "AvailabilityZone", "Name": "use1-az5"},
            },
        )
    assert error(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:  # a directory bucket needs a directory name
        s3.create_bucket(Bucket=bname("plain"), CreateBucketConfiguration=DIRECTORY)
    assert error(exc) == ("InvalidBucketName", 400)
    with pytest.raises(ClientError) as exc:  # a --x-s3 name is no general-purpose name
        s3.create_bucket(Bucket=name)
    assert error(exc) == ("InvalidBucketName", 400)
    with pytest.raises(ClientError) as exc:  # aws/aws-cli#8502
        s3.create_bucket(
            Bucket=name, CreateBucketConfiguration={**DIRECTORY, "LocationConstraint": "us-east-1"}
        )
    assert error(exc) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as exc:  # a us-west-2 zone at a us-east-1 endpoint
        create_directory(s3, "usw2-az1")
    assert error(exc) == ("IllegalLocationConstraintException", 400)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(
            Bucket=name, CreateBucketConfiguration=DIRECTORY, ObjectLockEnabledForBucket=True
        )
    assert error(exc) == ("InvalidRequest", 400)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration=DIRECTORY)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=DIRECTORY)
    assert error(exc)[0] == "BucketAlreadyOwnedByYou"


def test_other_regions_zone(cloudlet_server):
    west = cloudlet_server.client("s3", region_name="us-west-2", config=NO_RETRIES)
    name = create_directory(west, "usw2-az1")
    assert west.head_bucket(Bucket=name)["BucketRegion"] == "us-west-2"
    west.put_object(Bucket=name, Key="k", Body=b"west")
    assert west.get_object(Bucket=name, Key="k")["Body"].read() == b"west"


def test_create_session(s3):
    name = create_directory(s3)
    before = datetime.now(UTC)
    out = s3.create_session(Bucket=name)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert creds["SecretAccessKey"] and creds["SessionToken"]
    life = creds["Expiration"] - before
    assert timedelta(minutes=4) < life <= timedelta(minutes=5, seconds=5)
    assert out["ServerSideEncryption"] == "AES256"
    assert s3.create_session(Bucket=name, SessionMode="ReadOnly")["Credentials"]

    with pytest.raises(ClientError) as exc:
        s3.create_session(Bucket=name, SessionMode="Everything")
    assert error(exc) == ("InvalidArgument", 400)
    general = bname("g")
    s3.create_bucket(Bucket=general)
    with pytest.raises(ClientError) as exc:
        s3.create_session(Bucket=general)
    assert error(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:
        s3.create_session(Bucket=bname("missing"))
    assert error(exc) == ("NoSuchBucket", 404)


def test_objects_are_express_one_zone_and_signed_with_a_session(s3):
    name = create_directory(s3)
    sent = []
    s3.meta.events.register(
        "before-send.s3.*", lambda request, **_: sent.append(dict(request.headers))
    )
    s3.put_object(Bucket=name, Key="dir/a.txt", Body=b"hello")
    assert s3.get_object(Bucket=name, Key="dir/a.txt")["Body"].read() == b"hello"
    assert s3.head_object(Bucket=name, Key="dir/a.txt")["StorageClass"] == "EXPRESS_ONEZONE"
    listed = s3.list_objects_v2(Bucket=name)["Contents"]
    assert [(o["Key"], o["StorageClass"]) for o in listed] == [("dir/a.txt", "EXPRESS_ONEZONE")]
    assert all("x-amz-s3session-token" in h for h in sent)
    assert all(b"/s3express/" in h["Authorization"] for h in sent)

    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=name, Key="b", Body=b"x", StorageClass="STANDARD")
    assert error(exc) == ("InvalidStorageClass", 400)
    general = bname("g")
    s3.create_bucket(Bucket=general)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=general, Key="b", Body=b"x", StorageClass="EXPRESS_ONEZONE")
    assert error(exc) == ("InvalidStorageClass", 400)
    # Copies across bucket types take the target's class.
    s3.copy_object(Bucket=general, Key="c", CopySource={"Bucket": name, "Key": "dir/a.txt"})
    assert "StorageClass" not in s3.head_object(Bucket=general, Key="c")  # STANDARD
    s3.copy_object(Bucket=name, Key="d", CopySource={"Bucket": general, "Key": "c"})
    assert s3.head_object(Bucket=name, Key="d")["StorageClass"] == "EXPRESS_ONEZONE"


def test_multipart_upload(s3):
    name = create_directory(s3)
    upload = s3.create_multipart_upload(Bucket=name, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=name, Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 10)
    s3.complete_multipart_upload(
        Bucket=name,
        Key="big",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    head = s3.head_object(Bucket=name, Key="big")
    assert head["ContentLength"] == 10 and head["StorageClass"] == "EXPRESS_ONEZONE"


def test_what_a_directory_bucket_refuses(s3):
    name = create_directory(s3)
    refused = [
        lambda: s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": "Enabled"}
        ),
        lambda: s3.get_bucket_versioning(Bucket=name),
        lambda: s3.get_bucket_tagging(Bucket=name),
        lambda: s3.put_bucket_acl(Bucket=name, ACL="private"),
        lambda: s3.get_bucket_website(Bucket=name),
        lambda: s3.list_objects(Bucket=name),
        lambda: s3.list_object_versions(Bucket=name),
    ]
    for call in refused:
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("NotSupported", 400)


def test_bucket_policy_encryption_and_delete(s3):
    name = create_directory(s3)
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
        '{"AWS":"arn:aws:iam::000000000000:root"},"Action":"s3express:CreateSession",'
        f'"Resource":"arn:aws:s3express:us-east-1:000000000000:bucket/{name}"}}]}}'
    )
    s3.put_bucket_policy(Bucket=name, Policy=policy)
    assert "s3express:CreateSession" in s3.get_bucket_policy(Bucket=name)["Policy"]
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert error(exc) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_directory_buckets()["Buckets"]]


def test_the_aws_cli(s3, aws, tmp_path):
    name = create_directory(s3)
    (tmp_path / "f.txt").write_text("from the cli")
    aws("s3", "cp", str(tmp_path / "f.txt"), f"s3://{name}/f.txt")
    listed = aws("s3api", "list-directory-buckets").stdout
    assert name in listed
    assert "f.txt" in aws("s3", "ls", f"s3://{name}/").stdout


def presigned_round_trip(s3) -> None:
    """A presigned GET and PUT and a presigned POST form, each carrying the session
    token boto3 puts in them (``X-Amz-S3session-Token``)."""
    name = create_directory(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"})
    assert "X-Amz-S3session-Token=" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"presigned"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": name, "Key": "put"})
    put = urllib.request.Request(url, data=b"put body", method="PUT")
    with urllib.request.urlopen(put, timeout=10) as answer:
        assert answer.status == 200
    assert s3.get_object(Bucket=name, Key="put")["Body"].read() == b"put body"
    post = s3.generate_presigned_post(name, "form")
    assert "X-Amz-S3session-Token" in post["fields"]
    status, _headers, body = post_form(post["url"], post["fields"], b"form body")
    assert status == 204, body
    head = s3.head_object(Bucket=name, Key="form")
    assert head["ContentLength"] == 9 and head["StorageClass"] == "EXPRESS_ONEZONE"


def test_presigned_requests(s3):
    presigned_round_trip(s3)


def test_sessions_survive_a_restart(tmp_path):
    srv = CloudletServer.start(data_dir=tmp_path, auth="strict")
    try:
        s3 = srv.client("s3", config=NO_RETRIES)
        name = create_directory(s3)
        creds = s3.create_session(Bucket=name)["Credentials"]
    finally:
        srv.stop()
    srv = CloudletServer.start(data_dir=tmp_path, auth="strict")
    try:
        session = session_client(srv, creds)
        session.put_object(Bucket=name, Key="after", Body=b"restart")
        assert session.get_object(Bucket=name, Key="after")["Body"].read() == b"restart"
    finally:
        srv.stop()


# -- strict mode: a session is good for its bucket and its mode ----------------------------


def session_client(server, creds: dict):
    """A client signing with a session's own key, as a caller holding only the session
    would (boto3's session handling off, the token sent as a security token)."""
    return server.client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 0}, s3={"disable_s3_express_session_auth": True}),
    )


@pytest.fixture(scope="module")
def strict_s3(strict_server):
    return strict_server, strict_server.client("s3", config=NO_RETRIES)


def test_strict_boto3_signs_with_sessions(strict_s3):
    _server, s3 = strict_s3
    name = create_directory(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"strict")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"strict"


def test_strict_presigned_requests(strict_s3):
    presigned_round_trip(strict_s3[1])


def test_strict_read_only_session(strict_s3):
    server, s3 = strict_s3
    name = create_directory(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"data")
    reader = session_client(
        server, s3.create_session(Bucket=name, SessionMode="ReadOnly")["Credentials"]
    )
    assert reader.get_object(Bucket=name, Key="k")["Body"].read() == b"data"
    with pytest.raises(ClientError) as exc:
        reader.put_object(Bucket=name, Key="k", Body=b"nope")
    assert error(exc) == ("AccessDenied", 403)
    writer = session_client(server, s3.create_session(Bucket=name)["Credentials"])
    writer.put_object(Bucket=name, Key="k", Body=b"new")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"new"


def test_strict_session_holds_only_for_its_bucket(strict_s3):
    server, s3 = strict_s3
    mine, other = create_directory(s3), create_directory(s3)
    s3.put_object(Bucket=other, Key="k", Body=b"x")
    session = session_client(server, s3.create_session(Bucket=mine)["Credentials"])
    with pytest.raises(ClientError) as exc:
        session.get_object(Bucket=other, Key="k")
    assert error(exc) == ("AccessDenied", 403)
    forged = dict(s3.create_session(Bucket=mine)["Credentials"], SessionToken="forged")
    with pytest.raises(ClientError) as exc:
        session_client(server, forged).get_object(Bucket=mine, Key="k")
    assert error(exc)[1] in (400, 403)


def test_strict_iam_user_needs_create_session(strict_server):
    from tests.services.s3_helpers import iam_user_s3

    owner = strict_server.client("s3", config=NO_RETRIES)
    name = create_directory(owner)
    owner.put_object(Bucket=name, Key="k", Body=b"x")
    nobody, _ = iam_user_s3(strict_server, None, "nobody")
    with pytest.raises(ClientError) as exc:
        nobody.get_object(Bucket=name, Key="k")
    assert error(exc) == ("AccessDenied", 403)
    allowed, _ = iam_user_s3(strict_server, "s3express:CreateSession", "express")
    assert allowed.get_object(Bucket=name, Key="k")["Body"].read() == b"x"


def test_lifecycle_expires_and_aborts_only(s3):
    name = create_directory(s3)
    allowed = {
        "ID": "age",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 7},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [allowed]})
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rules[0]["Expiration"] == {"Days": 7}
    refused = [
        {"Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]},
        {"NoncurrentVersionExpiration": {"NoncurrentDays": 3}},
        {"Filter": {"Tag": {"Key": "k", "Value": "v"}}},
        {"Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    for change in refused:
        rule = {**allowed, **change}
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [rule]}
            )
        assert error(exc) == ("InvalidRequest", 400), change
