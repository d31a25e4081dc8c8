"""S3 bucket replication with real boto3: the configuration, and replicas that really appear.

Replication runs after the response, so tests poll with a deadline. To show
that something did *not* replicate, a test writes a later "sentinel" object
and waits for it: one worker replicates in order, so once the sentinel has
arrived, anything queued before it has been dealt with.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudlet.services.s3.replication import DELAY_ENV
from cloudlet.testing import CloudletServer
from tests.services.s3_helpers import NO_RETRIES, bname, error, post_form, wait_until

ROLE = "arn:aws:iam::000000000000:role/replication"
TIMEOUT = 15.0


@pytest.fixture
def s3(aws_client):
    return aws_client("s3", config=NO_RETRIES)


def _versioned(s3, prefix: str = "repl") -> str:
    name = bname(prefix)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _rule(dest: str, priority: int = 1, **extra) -> dict:
    rule = {
        "ID": f"to-{dest}-{priority}",
        "Priority": priority,
        "Status": "Enabled",
        "Filter": {},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
    }
    rule.update(extra)
    return rule


def _configure(s3, source: str, *rules: dict) -> None:
    s3.put_bucket_replication(
        Bucket=source, ReplicationConfiguration={"Role": ROLE, "Rules": list(rules)}
    )


def _pair(s3, **rule_args) -> tuple[str, str]:
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    _configure(s3, source, _rule(dest, **rule_args))
    return source, dest


def _wait(check, what: str = "condition"):
    return wait_until(check, what, TIMEOUT, every=0.02)


def _head(s3, bucket: str, key: str, version_id: str | None = None) -> dict | None:
    args = {"Bucket": bucket, "Key": key}
    if version_id is not None:
        args["VersionId"] = version_id
    try:
        return s3.head_object(**args)
    except ClientError as err:
        if err.response["ResponseMetadata"]["HTTPStatusCode"] in (404, 405):
            return None
        raise


def _status(s3, bucket: str, key: str, version_id: str | None = None) -> str | None:
    found = _head(s3, bucket, key, version_id)
    return None if found is None else found.get("ReplicationStatus")


def _completed(s3, bucket: str, key: str, version_id: str | None = None) -> str:
    """Wait for a source version's status to settle; it must be COMPLETED."""
    final = _wait(
        lambda: (_status(s3, bucket, key, version_id) or "PENDING") != "PENDING",
        what=f"replication of {bucket}/{key}",
    )
    assert final and _status(s3, bucket, key, version_id) == "COMPLETED"
    return "COMPLETED"


def _sentinel(s3, source: str, dest: str, key: str = "zz-sentinel") -> None:
    """Write an object that replicates and wait for it: earlier work is done by then."""
    version_id = s3.put_object(Bucket=source, Key=key, Body=b"s")["VersionId"]
    _wait(lambda: _head(s3, dest, key, version_id), what=f"sentinel in {dest}")


def _versions(s3, bucket: str, key: str) -> list[str]:
    """The key's version ids (newest first), then its delete markers'."""
    out = s3.list_object_versions(Bucket=bucket, Prefix=key)
    entries = out.get("Versions", []) + out.get("DeleteMarkers", [])
    return [v["VersionId"] for v in entries if v["Key"] == key]


# -- configuration ----------------------------------------------------------------------


def test_configuration_round_trip(s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=source)
    assert error(exc) == ("ReplicationConfigurationNotFoundError", 404)

    rules = [
        {
            "ID": "tagged-docs",
            "Priority": 2,
            "Status": "Enabled",
            "Filter": {
                "And": {"Prefix": "docs/", "Tags": [{"Key": "team", "Value": "a"}]},
            },
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "SourceSelectionCriteria": {"ReplicaModifications": {"Status": "Enabled"}},
            "Destination": {
                "Bucket": f"arn:aws:s3:::{dest}",
                "StorageClass": "STANDARD_IA",
                "Account": "000000000000",
                "AccessControlTranslation": {"Owner": "Destination"},
            },
        },
        {
            "ID": "one-tag",
            "Priority": 1,
            "Status": "Disabled",
            "Filter": {"Tag": {"Key": "k", "Value": "v"}},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
        },
        {
            "Priority": 3,
            "Status": "Enabled",
            "Filter": {"Prefix": "logs/"},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
        },
    ]
    _configure(s3, source, *rules)
    got = s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]
    assert got["Role"] == ROLE
    assert got["Rules"][:2] == rules[:2]
    generated = got["Rules"][2].pop("ID")  # S3 names a rule that has no ID
    assert generated and got["Rules"][2] == rules[2]

    # The legacy (V1) form: a rule-level Prefix, no Filter, Priority or marker setting.
    legacy = {"ID": "v1", "Prefix": "old/", "Status": "Enabled"}
    legacy["Destination"] = {"Bucket": f"arn:aws:s3:::{dest}"}
    _configure(s3, source, legacy)
    assert s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]["Rules"] == [legacy]

    s3.delete_bucket_replication(Bucket=source)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=source)
    assert error(exc) == ("ReplicationConfigurationNotFoundError", 404)
    s3.delete_bucket_replication(Bucket=source)  # nothing there: still fine


def _put_raw(endpoint: str, bucket: str, body: bytes) -> tuple[int, bytes]:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    req = urllib.request.Request(
        f"{endpoint}/{bucket}?replication", data=body, headers={"Content-MD5": md5}, method="PUT"
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_configuration_errors(s3, aws_client, cloudlet_server):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    plain = bname("plain")
    s3.create_bucket(Bucket=plain)

    def refused(bucket: str, *rules: dict) -> tuple[str, int]:
        with pytest.raises(ClientError) as exc:
            _configure(s3, bucket, *rules)
        return error(exc)

    assert refused(plain, _rule(dest)) == ("InvalidRequest", 400)  # source not versioned
    assert refused(source, _rule(plain)) == ("InvalidRequest", 400)  # destination not versioned
    assert refused(source, _rule(bname("missing"))) == ("InvalidRequest", 400)
    assert refused(source, _rule(source)) == ("InvalidRequest", 400)  # onto itself
    twin = _rule(dest, 2, ID="same")
    assert refused(source, _rule(dest, 1, ID="same"), twin) == ("InvalidArgument", 400)
    assert refused(source, _rule(dest, 1, ID="a"), _rule(dest, 1, ID="b")) == (
        "InvalidRequest",
        400,
    )
    no_markers = _rule(dest)
    del no_markers["DeleteMarkerReplication"]
    assert refused(source, no_markers) == ("InvalidRequest", 400)
    no_priority = _rule(dest)
    del no_priority["Priority"]
    assert refused(source, no_priority) == ("InvalidRequest", 400)
    tag_markers = _rule(
        dest,
        Filter={"Tag": {"Key": "k", "Value": "v"}},
        DeleteMarkerReplication={"Status": "Enabled"},
    )
    assert refused(source, tag_markers) == ("InvalidRequest", 400)
    bad_arn = _rule(dest)
    bad_arn["Destination"] = {"Bucket": dest}
    assert refused(source, bad_arn) == ("InvalidArgument", 400)
    assert refused(source, _rule(dest, Status="Maybe")) == ("MalformedXML", 400)
    v1_sync = {
        "Prefix": "",
        "Status": "Enabled",
        "SourceSelectionCriteria": {"ReplicaModifications": {"Status": "Enabled"}},
        "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
    }
    assert refused(source, v1_sync) == ("InvalidRequest", 400)
    timed = _rule(dest)  # RTC without metrics (test_s3_replication_metrics.py has more)
    timed["Destination"] = {
        **timed["Destination"],
        "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
    }
    assert refused(source, timed) == ("InvalidRequest", 400)

    # boto3 refuses to send a configuration without a Role; the raw request gets MalformedXML.
    unchecked = aws_client(
        "s3", config=Config(parameter_validation=False, retries={"max_attempts": 0})
    )
    with pytest.raises(ClientError) as exc:
        unchecked.put_bucket_replication(
            Bucket=source, ReplicationConfiguration={"Rules": [_rule(dest)]}
        )
    assert error(exc) == ("MalformedXML", 400)
    status, body = _put_raw(cloudlet_server.endpoint, source, b"<ReplicationConfiguration><Role>")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body

    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=source)  # nothing was stored by any of these
    assert error(exc) == ("ReplicationConfigurationNotFoundError", 404)

    _configure(s3, source, _rule(dest))
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Suspended"})
    assert error(exc) == ("InvalidBucketState", 409)


# -- what replicates ----------------------------------------------------------------------


def test_put_replicates_the_same_version_with_its_metadata(s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    s3.put_object(Bucket=source, Key="before", Body=b"old")  # predates the configuration
    _configure(s3, source, _rule(dest))

    out = s3.put_object(
        Bucket=source,
        Key="docs/a.txt",
        Body=b"hello replication",
        Metadata={"colour": "blue"},
        ContentType="text/plain",
        CacheControl="max-age=60",
        ContentDisposition="inline",
        Tagging="team=a&stage=1",
        ChecksumAlgorithm="SHA256",
    )
    version_id = out["VersionId"]
    assert _status(s3, source, "docs/a.txt") in ("PENDING", "COMPLETED")
    _completed(s3, source, "docs/a.txt")

    src = s3.head_object(Bucket=source, Key="docs/a.txt", ChecksumMode="ENABLED")
    replica = s3.head_object(Bucket=dest, Key="docs/a.txt", ChecksumMode="ENABLED")
    assert replica["VersionId"] == version_id
    assert replica["ReplicationStatus"] == "REPLICA"
    for field in (
        "ETag",
        "ContentLength",
        "ContentType",
        "CacheControl",
        "ContentDisposition",
        "Metadata",
        "LastModified",
        "ChecksumSHA256",
    ):
        assert replica[field] == src[field], field
    assert "StorageClass" not in replica
    body = s3.get_object(Bucket=dest, Key="docs/a.txt", VersionId=version_id)["Body"].read()
    assert body == b"hello replication"
    tags = s3.get_object_tagging(Bucket=dest, Key="docs/a.txt")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("stage", "1"), ("team", "a")]

    # A later version and a copy replicate too; the older version stays in the replica's history.
    v2 = s3.put_object(Bucket=source, Key="docs/a.txt", Body=b"second")["VersionId"]
    copied = s3.copy_object(
        Bucket=source, Key="docs/copy.txt", CopySource={"Bucket": source, "Key": "docs/a.txt"}
    )["VersionId"]
    _completed(s3, source, "docs/a.txt", v2)
    _completed(s3, source, "docs/copy.txt", copied)
    assert _versions(s3, dest, "docs/a.txt") == [v2, version_id]
    assert s3.get_object(Bucket=dest, Key="docs/copy.txt")["Body"].read() == b"second"
    assert s3.head_object(Bucket=dest, Key="docs/copy.txt")["VersionId"] == copied

    # What existed before the configuration is not replicated (no Batch Replication).
    assert _status(s3, source, "before") is None
    assert _head(s3, dest, "before") is None


def test_post_upload_replicates(s3):
    source, dest = _pair(s3)
    post = s3.generate_presigned_post(source, "form.txt")
    status, headers, body = post_form(post["url"], post["fields"], b"from a form")
    assert status == 204, body
    version_id = headers["x-amz-version-id"]
    _completed(s3, source, "form.txt", version_id)
    assert s3.get_object(Bucket=dest, Key="form.txt", VersionId=version_id)["Body"].read() == (
        b"from a form"
    )


def test_prefix_and_tag_filters(s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    _configure(
        s3,
        source,
        _rule(dest, 1, Filter={"Prefix": "logs/"}),
        _rule(dest, 2, Filter={"Tag": {"Key": "replicate", "Value": "yes"}}),
        _rule(
            dest,
            3,
            Filter={"And": {"Prefix": "both/", "Tags": [{"Key": "a", "Value": "1"}]}},
        ),
    )
    wanted = {
        "logs/1": {},
        "other/tagged": {"Tagging": "replicate=yes"},
        "both/x": {"Tagging": "a=1&b=2"},
    }
    unwanted = {
        "other/plain": {},
        "other/wrong-tag": {"Tagging": "replicate=no"},
        "both/untagged": {},
        "elsewhere/a": {"Tagging": "a=1"},
    }
    for key, args in {**wanted, **unwanted}.items():
        s3.put_object(Bucket=source, Key=key, Body=key.encode(), **args)
    for key in unwanted:  # no rule selected them: no status at all, from the start
        assert _status(s3, source, key) is None, key
    for key in wanted:
        _completed(s3, source, key)
        assert s3.get_object(Bucket=dest, Key=key)["Body"].read() == key.encode()
    for key in unwanted:
        assert _head(s3, dest, key) is None, key


def test_highest_priority_rule_wins_and_sets_the_storage_class(s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    _configure(
        s3,
        source,
        _rule(dest, 1, Filter={"Prefix": "star"}, ID="low"),
        _rule(
            dest,
            5,
            Filter={"Prefix": "starship"},
            ID="high",
            Destination={"Bucket": f"arn:aws:s3:::{dest}", "StorageClass": "STANDARD_IA"},
        ),
    )
    s3.put_object(Bucket=source, Key="starship-x", Body=b"1")  # both rules: "high" wins
    s3.put_object(Bucket=source, Key="star-y", Body=b"2")  # only "low"
    _completed(s3, source, "starship-x")
    _completed(s3, source, "star-y")
    assert s3.head_object(Bucket=dest, Key="starship-x")["StorageClass"] == "STANDARD_IA"
    assert "StorageClass" not in s3.head_object(Bucket=dest, Key="star-y")
    assert "StorageClass" not in s3.head_object(Bucket=source, Key="starship-x")


def test_delete_markers_replicate_when_enabled(s3):
    source, dest = _pair(s3, DeleteMarkerReplication={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=source, Key="k", Body=b"data")["VersionId"]
    _completed(s3, source, "k", v1)
    marker = s3.delete_object(Bucket=source, Key="k")
    assert marker["DeleteMarker"]
    _wait(lambda: marker["VersionId"] in _versions(s3, dest, "k"), what="delete marker")
    listed = s3.list_object_versions(Bucket=dest, Prefix="k")
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker["VersionId"]]
    assert _head(s3, dest, "k") is None  # the replica now looks deleted too

    # DeleteObjects' markers follow as well, quiet mode included.
    s3.put_object(Bucket=source, Key="q", Body=b"x")
    _completed(s3, source, "q")
    s3.delete_objects(Bucket=source, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    _wait(lambda: len(_versions(s3, dest, "q")) == 2, what="quiet delete marker")

    # Deleting a specific version is never replicated.
    s3.delete_object(Bucket=source, Key="k", VersionId=v1)
    s3.delete_object(Bucket=source, Key="k", VersionId=marker["VersionId"])
    _sentinel(s3, source, dest)
    assert set(_versions(s3, dest, "k")) == {marker["VersionId"], v1}


def test_delete_markers_stay_when_disabled(s3):
    source, dest = _pair(s3)
    s3.put_object(Bucket=source, Key="k", Body=b"data")
    _completed(s3, source, "k")
    s3.delete_object(Bucket=source, Key="k")
    _sentinel(s3, source, dest)
    assert s3.get_object(Bucket=dest, Key="k")["Body"].read() == b"data"
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=dest, Prefix="k")


def test_legacy_prefix_rule(s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    legacy = {"ID": "v1", "Prefix": "in/", "Status": "Enabled"}
    legacy["Destination"] = {"Bucket": f"arn:aws:s3:::{dest}"}
    _configure(s3, source, legacy)
    s3.put_object(Bucket=source, Key="in/a", Body=b"a")
    s3.put_object(Bucket=source, Key="out/b", Body=b"b")
    _completed(s3, source, "in/a")
    assert _status(s3, source, "out/b") is None
    # V1 replicates the delete markers of user deletes (AWS's backward compatibility note).
    marker = s3.delete_object(Bucket=source, Key="in/a")["VersionId"]
    _wait(lambda: marker in _versions(s3, dest, "in/a"), what="V1 delete marker")
    assert _head(s3, dest, "out/b") is None


def test_multipart_object_replicates(s3):
    source, dest = _pair(s3)
    upload = s3.create_multipart_upload(
        Bucket=source, Key="big", Metadata={"kind": "mp"}, ContentType="application/x-test"
    )["UploadId"]
    first, second = b"a" * (5 * 1024 * 1024), b"tail"
    parts = []
    for number, data in ((1, first), (2, second)):
        etag = s3.upload_part(
            Bucket=source, Key="big", UploadId=upload, PartNumber=number, Body=data
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    out = s3.complete_multipart_upload(
        Bucket=source, Key="big", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    _completed(s3, source, "big")
    replica = s3.head_object(Bucket=dest, Key="big", PartNumber=1)
    assert replica["VersionId"] == out["VersionId"]
    assert replica["ETag"] == out["ETag"] and out["ETag"].endswith('-2"')
    assert replica["PartsCount"] == 2 and replica["ContentLength"] == len(first)
    assert replica["Metadata"] == {"kind": "mp"}
    assert replica["ContentType"] == "application/x-test"
    data = s3.get_object(Bucket=dest, Key="big")["Body"].read()
    assert hashlib.md5(data).digest() == hashlib.md5(first + second).digest()


def test_failed_when_the_destination_is_gone(s3):
    source, dest = _pair(s3)
    s3.delete_bucket(Bucket=dest)
    s3.put_object(Bucket=source, Key="k", Body=b"x")
    final = _wait(lambda: _status(s3, source, "k") != "PENDING" and _status(s3, source, "k"))
    assert final == "FAILED"


# -- replicas, chains and two-way setups --------------------------------------------------


def test_replicas_are_not_replicated_again(s3):
    a, b, c = _versioned(s3, "a"), _versioned(s3, "b"), _versioned(s3, "c")
    _configure(s3, a, _rule(b))
    _configure(s3, b, _rule(c))
    s3.put_object(Bucket=a, Key="from-a", Body=b"x")
    _completed(s3, a, "from-a")
    assert _status(s3, b, "from-a") == "REPLICA"
    s3.put_object(Bucket=b, Key="from-b", Body=b"y")  # written to b by a client: replicates
    _completed(s3, b, "from-b")
    assert _head(s3, c, "from-a") is None  # a replica in b went no further


def test_two_way_with_replica_modifications_does_not_loop(s3):
    a, b = _versioned(s3, "a"), _versioned(s3, "b")
    sync = {"ReplicaModifications": {"Status": "Enabled"}}
    _configure(s3, a, _rule(b, SourceSelectionCriteria=sync))
    _configure(s3, b, _rule(a, SourceSelectionCriteria=sync))

    va = s3.put_object(Bucket=a, Key="x", Body=b"from a")["VersionId"]
    vb = s3.put_object(Bucket=b, Key="y", Body=b"from b")["VersionId"]
    _completed(s3, a, "x")
    _completed(s3, b, "y")
    _sentinel(s3, a, b)
    _sentinel(s3, b, a)
    assert _versions(s3, a, "x") == [va] and _versions(s3, b, "x") == [va]
    assert _versions(s3, a, "y") == [vb] and _versions(s3, b, "y") == [vb]
    assert _status(s3, a, "x") == "COMPLETED" and _status(s3, b, "x") == "REPLICA"

    def tags(bucket: str, key: str) -> list[tuple[str, str]]:
        tag_set = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        return sorted((t["Key"], t["Value"]) for t in tag_set)

    # A change on the replica goes back to the source (replica modification sync) ...
    s3.put_object_tagging(Bucket=b, Key="x", Tagging={"TagSet": [{"Key": "on", "Value": "b"}]})
    _wait(lambda: tags(a, "x") == [("on", "b")], what="replica change back at the source")
    # ... and a change on the source reaches the replica; neither bounces.
    s3.put_object_tagging(Bucket=a, Key="y", Tagging={"TagSet": [{"Key": "on", "Value": "a"}]})
    _wait(lambda: tags(b, "y") == [("on", "a")], what="source change at the replica")
    _sentinel(s3, a, b, "zz-sentinel-2")
    _sentinel(s3, b, a, "zz-sentinel-2")
    assert tags(b, "x") == [("on", "b")] and tags(a, "y") == [("on", "a")]
    assert _versions(s3, a, "x") == [va] and _versions(s3, b, "x") == [va]
    assert _versions(s3, a, "y") == [vb] and _versions(s3, b, "y") == [vb]
    assert _status(s3, a, "x") == "COMPLETED" and _status(s3, b, "x") == "REPLICA"


def test_replica_changes_stay_without_replica_modifications(s3):
    a, b = _versioned(s3, "a"), _versioned(s3, "b")
    _configure(s3, a, _rule(b))
    _configure(s3, b, _rule(a))  # two-way, but no replica modification sync
    s3.put_object(Bucket=a, Key="x", Body=b"from a", Tagging="v=1")
    _completed(s3, a, "x")
    s3.put_object_tagging(Bucket=b, Key="x", Tagging={"TagSet": [{"Key": "v", "Value": "2"}]})
    _sentinel(s3, b, a)
    assert s3.get_object_tagging(Bucket=a, Key="x")["TagSet"] == [{"Key": "v", "Value": "1"}]


# -- durability ---------------------------------------------------------------------------


def test_pending_replication_survives_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path, env={DELAY_ENV: "600"})
    try:
        s3 = server.client("s3", config=NO_RETRIES)
        source, dest = _pair(s3)
        version_id = s3.put_object(Bucket=source, Key="k", Body=b"durable")["VersionId"]
        assert _status(s3, source, "k") == "PENDING"  # held back by the delay
        assert _head(s3, dest, "k") is None
    finally:
        server.stop()

    server = CloudletServer.start(data_dir=tmp_path, env={DELAY_ENV: "0"})
    try:
        s3 = server.client("s3", config=NO_RETRIES)
        _completed(s3, source, "k")
        replica = s3.get_object(Bucket=dest, Key="k")
        assert replica["VersionId"] == version_id and replica["Body"].read() == b"durable"
        assert replica["ReplicationStatus"] == "REPLICA"
    finally:
        server.stop()


# -- encrypted objects ------------------------------------------------------------------

REPLICA_KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_kms_rules_need_their_replica_key(s3):
    source, dest = _versioned(s3, "src"), _versioned(s3, "dst")
    kms = {"SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}}}
    encrypted = {"EncryptionConfiguration": {"ReplicaKmsKeyID": REPLICA_KEY}}
    destination = {"Bucket": f"arn:aws:s3:::{dest}"}
    for rule, message in (
        (_rule(dest, **kms), "ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects"),
        (
            _rule(dest, Destination={**destination, **encrypted}),
            "SseKmsEncryptedObjects must be specified if EncryptionConfiguration is present.",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            _configure(s3, source, rule)
        assert error(exc) == ("InvalidRequest", 400)
        assert exc.value.response["Error"]["Message"].startswith(message)


def test_kms_objects_replicate_only_when_selected_and_get_the_replica_key(s3):
    source, dest = _pair(s3)
    s3.put_object(Bucket=source, Key="kms", Body=b"k", ServerSideEncryption="aws:kms")
    s3.put_object(Bucket=source, Key="plain", Body=b"p")
    _completed(s3, source, "plain")
    _sentinel(s3, source, dest)
    assert _status(s3, source, "kms") is None  # not selected: never replicated
    assert _head(s3, dest, "kms") is None

    kms = {"SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}}}
    destination = {
        "Bucket": f"arn:aws:s3:::{dest}",
        "EncryptionConfiguration": {"ReplicaKmsKeyID": REPLICA_KEY},
    }
    _configure(s3, source, _rule(dest, Destination=destination, **kms))
    s3.put_object(Bucket=source, Key="kms2", Body=b"k2", ServerSideEncryption="aws:kms")
    _completed(s3, source, "kms2")
    replica = s3.head_object(Bucket=dest, Key="kms2")
    assert (replica["ServerSideEncryption"], replica["SSEKMSKeyId"]) == ("aws:kms", REPLICA_KEY)
    assert s3.get_object(Bucket=dest, Key="kms2")["Body"].read() == b"k2"


def test_sse_c_objects_replicate_and_keep_needing_their_key(s3):
    source, dest = _pair(s3)
    unblocked = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
    }
    s3.put_bucket_encryption(
        Bucket=source, ServerSideEncryptionConfiguration={"Rules": [unblocked]}
    )
    key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": bytes(range(32))}
    s3.put_object(Bucket=source, Key="c", Body=b"secret", **key)

    # HEAD needs the key too, so the status is read with it.
    def settled() -> str | None:
        status = s3.head_object(Bucket=source, Key="c", **key).get("ReplicationStatus")
        return None if status == "PENDING" else status

    assert _wait(settled, what="replication of an SSE-C object") == "COMPLETED"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=dest, Key="c")
    assert error(exc) == ("InvalidRequest", 400)
    assert s3.get_object(Bucket=dest, Key="c", **key)["Body"].read() == b"secret"
