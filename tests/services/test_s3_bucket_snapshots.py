"""Bucket-level answers checked, with real boto3 against a real server, against what AWS
answered: LocalStack's AWS-recorded snapshots (``tests/aws/services/s3/*.snapshot.json``
of localstack/localstack). Each test names the snapshot keys it follows; errors are
compared whole (code, message and every extra element) with their status."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from tests.services.s3_helpers import NO_RETRIES, bname, refused

MALFORMED_XML = {
    "Code": "MalformedXML",
    "Message": "The XML you provided was not well-formed or did not validate against our "
    "published schema",
}
NOT_AN_OBJECT = "Policies must be valid JSON and the first byte must be '{'"


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


@pytest.fixture
def bucket(s3):
    name = bname("snap")
    s3.create_bucket(Bucket=name)
    return name


def invalid_tag(message: str, key: str | None = None, value: str | None = None) -> dict:
    error = {"Code": "InvalidTag", "Message": message}
    if key is not None:
        error["TagKey"] = key
    if value is not None:
        error["TagValue"] = value
    return error


def assert_no_bucket(s3, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- CreateBucket ----------------------------------------------------------------------


def test_create_bucket_with_tags_stores_them(s3):
    # CreateBucketConfiguration.Tags (the S3 API reference's CreateBucketConfiguration):
    # the new bucket's tag set, as GetBucketTagging returns it.
    name = bname("tagged")
    tags = [{"Key": "project", "Value": "blue"}, {"Key": "empty", "Value": ""}]
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"Tags": tags})
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == tags
    # No tags (or an empty list): no tag set at all.
    bare = bname("untagged")
    s3.create_bucket(Bucket=bare, CreateBucketConfiguration={"Tags": []})
    assert refused(s3.get_bucket_tagging, Bucket=bare) == (
        404,
        {"Code": "NoSuchTagSet", "Message": "The TagSet does not exist", "BucketName": bare},
    )


@pytest.mark.parametrize(
    "tags, error",
    [
        # PutBucketTagging's rules (test_tagging_validation: put-bucket-tags-duplicate-keys,
        # -invalid-key, -invalid-value, -aws-prefixed), and its limit of 50.
        (
            [{"Key": "Key1", "Value": "Val1"}, {"Key": "Key1", "Value": "Val1"}],
            invalid_tag("Cannot provide multiple Tags with the same key", "Key1"),
        ),
        (
            [{"Key": "Key1,Key2", "Value": "Val1"}],
            invalid_tag("The TagKey you have provided is invalid", "Key1,Key2"),
        ),
        (
            [{"Key": "Key1", "Value": "Val1,Val2"}],
            invalid_tag("The TagValue you have provided is invalid", "Key1", "Val1,Val2"),
        ),
        (
            [{"Key": "aws:prefixed", "Value": "Val1"}],
            invalid_tag("System tags cannot be added/updated by requester", "aws:prefixed"),
        ),
        (
            [{"Key": f"k{i}", "Value": "v"} for i in range(51)],
            invalid_tag("Bucket tag count cannot be greater than 50"),
        ),
    ],
)
def test_create_bucket_with_refused_tags_creates_nothing(s3, tags, error):
    name = bname("badtags")
    assert refused(s3.create_bucket, Bucket=name, CreateBucketConfiguration={"Tags": tags}) == (
        400,
        error,
    )
    assert_no_bucket(s3, name)


@pytest.mark.parametrize(
    "ownership, key",
    [("RandomValue", "ownership-wrong-value-at-creation"), ("", "ownership-non-value-at-creation")],
)
def test_create_bucket_with_unknown_object_ownership_creates_nothing(s3, ownership, key):
    # test_s3_api.snapshot.json, test_bucket_ownership_controls_exc: `key`.
    name = bname("owner")
    assert refused(s3.create_bucket, Bucket=name, ObjectOwnership=ownership) == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": f"Invalid x-amz-object-ownership header: {ownership}",
            "ArgumentName": "x-amz-object-ownership",
        },
    )
    assert_no_bucket(s3, name)
    # test_crud_bucket_ownership_controls: get-ownership-at-creation.
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerPreferred")
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]


# -- tagging ---------------------------------------------------------------------------


def test_put_bucket_tagging_with_an_empty_tag_set_deletes_it(s3, bucket):
    # test_bucket_tagging_crud: put-bucket-tags-empty (204), then NoSuchTagSet.
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "tag3", "Value": "tag3"}]})
    out = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": []})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert refused(s3.get_bucket_tagging, Bucket=bucket) == (
        404,
        {"Code": "NoSuchTagSet", "Message": "The TagSet does not exist", "BucketName": bucket},
    )


def test_an_empty_tagging_document_clears_the_tags(aws_client, bucket):
    # test_put_bucket_tagging_none_value / test_put_object_tagging_none_value (AWS-validated):
    # a TagSet left unset sends <Tagging/>, which S3 takes as no tags.
    s3 = aws_client("s3", config=Config(parameter_validation=False, retries={"max_attempts": 0}))
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": None})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    out = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": None})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert refused(s3.get_bucket_tagging, Bucket=bucket)[1]["Code"] == "NoSuchTagSet"


def test_tagging_validation(s3, bucket):
    # test_tagging_validation: put-bucket-tags-* and put-object-tags-* (objects word the
    # aws: prefix differently).
    s3.put_object(Bucket=bucket, Key="tagging-validation", Body=b"")
    duplicate = [{"Key": "Key1", "Value": "Val1"}, {"Key": "Key1", "Value": "Val1"}]
    cases = [
        (duplicate, invalid_tag("Cannot provide multiple Tags with the same key", "Key1")),
        (
            [{"Key": "Key1,Key2", "Value": "Val1"}],
            invalid_tag("The TagKey you have provided is invalid", "Key1,Key2"),
        ),
    ]
    bucket_only = [
        (
            [{"Key": "Key1", "Value": "Val1,Val2"}],
            invalid_tag("The TagValue you have provided is invalid", "Key1", "Val1,Val2"),
        ),
        (
            [{"Key": "aws:prefixed", "Value": "Val1"}],
            invalid_tag("System tags cannot be added/updated by requester", "aws:prefixed"),
        ),
    ]
    for tags, error in cases + bucket_only:
        got = refused(s3.put_bucket_tagging, Bucket=bucket, Tagging={"TagSet": tags})
        assert got == (400, error)
    object_only = [
        (
            [{"Key": "aws:prefixed", "Value": "Val1"}],
            invalid_tag("Your TagKey cannot be prefixed with aws:", "aws:prefixed"),
        )
    ]
    for tags, error in cases + object_only:
        got = refused(
            s3.put_object_tagging,
            Bucket=bucket,
            Key="tagging-validation",
            Tagging={"TagSet": tags},
        )
        assert got == (400, error)


# -- policy ----------------------------------------------------------------------------


def test_bucket_policy_exc(s3, bucket):
    # test_bucket_policy_exc: put-empty-bucket-policy, put-bucket-policy-randomstring,
    # put-bucket-policy-empty-json. The empty one would be the codec's "missing
    # parameter" if S3's answer did not come first.
    s3.delete_public_access_block(Bucket=bucket)
    for policy, message in (
        ("", NOT_AN_OBJECT),
        ("invalid json", NOT_AN_OBJECT),
        ("{}", "Missing required field Statement"),
    ):
        got = refused(s3.put_bucket_policy, Bucket=bucket, Policy=policy)
        assert got == (400, {"Code": "MalformedPolicy", "Message": message})
    missing = bname("nobucket")
    assert refused(s3.put_bucket_policy, Bucket=missing, Policy="") == (
        404,
        {
            "Code": "NoSuchBucket",
            "Message": "The specified bucket does not exist",
            "BucketName": missing,
        },
    )


# -- ListBuckets -----------------------------------------------------------------------


def test_list_buckets_region_validation(s3, bucket):
    # test_s3_list_operations.snapshot.json,
    # TestS3ListBuckets::test_list_buckets_region_validation: bad-region.
    assert refused(s3.list_buckets, BucketRegion="eu-east-1") == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "Argument value eu-east-1 is not a valid AWS Region",
            "ArgumentName": "bucket-region",
        },
    )
    # Every region botocore knows is one.
    data = Loader().load_data("endpoints")
    for region in {r for p in data["partitions"] for r in p["regions"]}:
        names = [b["Name"] for b in s3.list_buckets(BucketRegion=region)["Buckets"]]
        assert (bucket in names) == (region == "us-east-1")


# -- DeleteBucket ----------------------------------------------------------------------


def test_delete_bucket_with_objects(s3, bucket):
    # test_delete_bucket_with_objects: delete-with-obj (never versioned).
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert refused(s3.delete_bucket, Bucket=bucket) == (
        409,
        {
            "Code": "BucketNotEmpty",
            "Message": "The bucket you tried to delete is not empty",
            "BucketName": bucket,
        },
    )


def test_delete_versioned_bucket_with_objects(s3, bucket):
    # test_delete_versioned_bucket_with_objects: delete-with-obj-and-delete-marker,
    # delete-with-only-delete-marker, success-delete-bucket.
    not_empty = (
        409,
        {
            "Code": "BucketNotEmpty",
            "Message": "The bucket you tried to delete is not empty. You must delete all "
            "versions in the bucket.",
            "BucketName": bucket,
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=bucket, Key="test-delete-versioned", Body=b"test-delete")
    marker = s3.delete_object(Bucket=bucket, Key="test-delete-versioned")
    assert refused(s3.delete_bucket, Bucket=bucket) == not_empty
    s3.delete_object(Bucket=bucket, Key="test-delete-versioned", VersionId=put["VersionId"])
    assert refused(s3.delete_bucket, Bucket=bucket) == not_empty
    s3.delete_object(Bucket=bucket, Key="test-delete-versioned", VersionId=marker["VersionId"])
    out = s3.delete_bucket(Bucket=bucket)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_suspended_versioning_still_asks_for_every_version(s3, bucket):
    # Versioning once enabled, then suspended: the bucket keeps its versions (the
    # "null" one included), so the versioned wording still applies.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, error = refused(s3.delete_bucket, Bucket=bucket)
    assert (status, error["Code"]) == (409, "BucketNotEmpty")
    assert error["Message"].endswith("You must delete all versions in the bucket.")


# -- configuration documents -----------------------------------------------------------


def test_put_versioning_empty(s3, bucket):
    # test_bucket_versioning_crud: put-versioning-empty; nothing changes.
    assert refused(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={}) == (
        400,
        {
            "Code": "IllegalVersioningConfigurationException",
            "Message": "The Versioning element must be specified",
        },
    )
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def test_empty_rule_lists_are_malformed(s3, bucket):
    # test_s3_cors.snapshot.json: put-cors-exc-empty; test_s3_api.snapshot.json:
    # put-bucket-encryption-no-rules, put-ownership-empty-rule.
    assert refused(s3.put_bucket_cors, Bucket=bucket, CORSConfiguration={"CORSRules": []}) == (
        400,
        MALFORMED_XML,
    )
    assert refused(
        s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": []}
    ) == (400, MALFORMED_XML)
    assert refused(
        s3.put_bucket_ownership_controls, Bucket=bucket, OwnershipControls={"Rules": []}
    ) == (400, MALFORMED_XML)
    # Nothing was stored.
    assert refused(s3.get_bucket_cors, Bucket=bucket)[1]["Code"] == "NoSuchCORSConfiguration"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_empty_rule_list_of_a_missing_bucket_is_no_such_bucket(s3):
    # test_s3_default_bucket_encryption_exc: put-bucket-enc-no-bucket (the bucket first).
    missing = bname("nobucket")
    assert refused(
        s3.put_bucket_encryption, Bucket=missing, ServerSideEncryptionConfiguration={"Rules": []}
    ) == (
        404,
        {
            "Code": "NoSuchBucket",
            "Message": "The specified bucket does not exist",
            "BucketName": missing,
        },
    )


@pytest.mark.parametrize(
    "rule, key",
    [
        ({}, "put-lock-config-empty-rule"),
        ({"DefaultRetention": {}}, "put-lock-config-empty-retention"),
        ({"DefaultRetention": {"Mode": "GOVERNANCE"}}, "put-lock-config-no-days"),
    ],
)
def test_put_object_lock_configuration_exc(s3, rule, key):
    # test_put_object_lock_configuration_exc: `key`, on a lock bucket and on a versioned
    # one, which a refused configuration must not switch Object Lock on for.
    locked = bname("lock")
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    document = {"ObjectLockEnabled": "Enabled", "Rule": rule}
    assert refused(
        s3.put_object_lock_configuration, Bucket=locked, ObjectLockConfiguration=document
    ) == (400, MALFORMED_XML)
    versioned = bname("versioned")
    s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    assert refused(
        s3.put_object_lock_configuration, Bucket=versioned, ObjectLockConfiguration=document
    ) == (400, MALFORMED_XML)
    status, error = refused(s3.get_object_lock_configuration, Bucket=versioned)
    assert (status, error["Code"]) == (404, "ObjectLockConfigurationNotFoundError")


# -- owners: no DisplayName since 21 November 2025 ---------------------------------------


def _no_display_name(value) -> bool:
    if isinstance(value, dict):
        return "DisplayName" not in value and all(_no_display_name(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_display_name(v) for v in value)
    return True


def test_owners_carry_no_display_name(s3, bucket):
    # The S3 API reference's Owner data type: S3 stopped returning DisplayName on
    # 21 November 2025; ID stays. Every answer naming an owner, initiator or grantee.
    bodies: list[bytes] = []
    s3.meta.events.register(
        "after-call.s3", lambda http_response, **_: bodies.append(http_response.content)
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone")  # a delete marker
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")
    answers = [
        s3.list_buckets(),
        s3.get_bucket_acl(Bucket=bucket),
        s3.get_object_acl(Bucket=bucket, Key="k"),
        s3.list_objects(Bucket=bucket),
        s3.list_objects_v2(Bucket=bucket, FetchOwner=True),
        s3.list_object_versions(Bucket=bucket),
        s3.list_multipart_uploads(Bucket=bucket),
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload),
    ]
    owners = [
        answers[0]["Owner"],
        answers[1]["Owner"],
        answers[1]["Grants"][0]["Grantee"],
        answers[2]["Owner"],
        answers[3]["Contents"][0]["Owner"],
        answers[4]["Contents"][0]["Owner"],
        answers[5]["Versions"][0]["Owner"],
        answers[5]["DeleteMarkers"][0]["Owner"],
        answers[6]["Uploads"][0]["Owner"],
        answers[6]["Uploads"][0]["Initiator"],
        answers[7]["Owner"],
        answers[7]["Initiator"],
    ]
    account_id = owners[0]["ID"]
    assert len(account_id) == 64
    assert all(o["ID"] == account_id for o in owners)
    assert all(_no_display_name(a) for a in answers)
    assert not [b for b in bodies if b"DisplayName" in b]


def test_grants_sent_with_a_display_name_come_back_without(s3):
    # What a client sends (an ACL read before the change, say) is not echoed either.
    name = bname("acl")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    owner = s3.get_bucket_acl(Bucket=name)["Owner"]
    grantee = {"Type": "CanonicalUser", "ID": owner["ID"], "DisplayName": "someone"}
    s3.put_bucket_acl(
        Bucket=name,
        AccessControlPolicy={
            "Owner": {**owner, "DisplayName": "someone"},
            "Grants": [{"Grantee": grantee, "Permission": "FULL_CONTROL"}],
        },
    )
    acl = s3.get_bucket_acl(Bucket=name)
    assert acl["Owner"] == {"ID": owner["ID"]}
    plain = {"Type": "CanonicalUser", "ID": owner["ID"]}
    assert acl["Grants"] == [{"Grantee": plain, "Permission": "FULL_CONTROL"}]
    # GetBucketLogging's target grants too (REST.GET.LOGGING_STATUS is on AWS's list).
    enabled = {
        "TargetBucket": name,
        "TargetPrefix": "logs/",
        "TargetGrants": [{"Grantee": grantee, "Permission": "READ"}],
    }
    s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": enabled})
    got = s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]
    assert got["TargetGrants"] == [{"Grantee": plain, "Permission": "READ"}]
