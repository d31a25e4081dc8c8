"""S3 Batch Operations' S3ComputeObjectChecksum and S3UpdateObjectEncryption jobs with real
boto3: checksums of stored objects (full-object, and composite for multipart objects)
delivered in the completion report and checked against hashlib, zlib and awscrt; objects
re-encrypted in place with SSE-KMS (same version, ETag and dates); per-task failures in
the report and the job's counts; CreateJob's refusals; jobs and their effects across a
restart.

Jobs run in the background, so tests poll DescribeJob with a deadline.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import time
import zlib
from urllib.parse import unquote_plus

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch-operations"
CSV_FORMAT = "S3BatchOperations_CSV_20180820"
DONE = ("Complete", "Failed", "Cancelled")
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
SSE_C_KEY = b"k" * 32


@pytest.fixture
def s3(cloudlet_server):
    return cloudlet_server.client("s3")


@pytest.fixture
def control(cloudlet_server):
    return cloudlet_server.client("s3control")


def _bucket(s3, prefix: str, *, versioned: bool = False) -> str:
    name = unique(prefix)
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _wait(control, job_id: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = control.describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]
        if job["Status"] in DONE:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['Status']} after {timeout}s")
        time.sleep(0.05)


def _manifest(s3, bucket: str, rows: list[list[str]], key: str = "manifest.csv") -> dict:
    text = "".join(",".join(row) + "\n" for row in rows)
    etag = s3.put_object(Bucket=bucket, Key=key, Body=text.encode())["ETag"]
    fields = ["Bucket", "Key", "VersionId"] if len(rows[0]) == 3 else ["Bucket", "Key"]
    return {
        "Spec": {"Format": CSV_FORMAT, "Fields": fields},
        "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": etag.strip('"')},
    }


def _report(bucket: str, prefix: str = "reports") -> dict:
    return {
        "Enabled": True,
        "Bucket": f"arn:aws:s3:::{bucket}",
        "Prefix": prefix,
        "Format": "Report_CSV_20180820",
        "ReportScope": "AllTasks",
    }


def _create(control, operation: dict, manifest: dict, report: dict, **kwargs) -> str:
    return control.create_job(
        AccountId=ACCOUNT,
        Operation=operation,
        Manifest=manifest,
        Report=report,
        Priority=10,
        RoleArn=ROLE,
        ConfirmationRequired=False,
        **kwargs,
    )["JobId"]


def _rows(s3, bucket: str, job_id: str, prefix: str = "reports") -> dict[str, list[list[str]]]:
    """The completion report's rows by task status."""
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{prefix}/job-{job_id}/manifest.json")["Body"].read()
    )
    rows: dict[str, list[list[str]]] = {}
    for result in manifest["Results"]:
        body = s3.get_object(Bucket=bucket, Key=result["Key"])["Body"].read().decode()
        rows.setdefault(result["TaskExecutionStatus"], []).extend(csv.reader(io.StringIO(body)))
    return rows


def _checksums(s3, bucket: str, job_id: str) -> dict[tuple[str, str], dict]:
    """(key, version id) -> the ResultMessage of each succeeded task."""
    return {
        (unquote_plus(row[1]), row[2]): json.loads(row[6])
        for row in _rows(s3, bucket, job_id).get("succeeded", [])
    }


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


EXPECTED = {
    "CRC32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "CRC32C": lambda data: crt.crc32c(data).to_bytes(4, "big"),
    "CRC64NVME": lambda data: crt.crc64nvme(data).to_bytes(8, "big"),
    "SHA1": lambda data: hashlib.sha1(data).digest(),
    "SHA256": lambda data: hashlib.sha256(data).digest(),
    "SHA512": lambda data: hashlib.sha512(data).digest(),
    "MD5": lambda data: hashlib.md5(data).digest(),
}


# -- S3ComputeObjectChecksum ------------------------------------------------------------------


def test_full_object_checksums_in_the_completion_report(s3, control):
    bucket = _bucket(s3, "cksum", versioned=True)
    reports = _bucket(s3, "cksum-rep")
    bodies = {"plain": b"hello world", "with space": os.urandom(3000), "empty": b""}
    heads = {}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        heads[key] = s3.head_object(Bucket=bucket, Key=key)
    old = s3.list_object_versions(Bucket=bucket, Prefix="plain")["Versions"][0]["VersionId"]
    s3.put_object(Bucket=bucket, Key="plain", Body=b"newer")
    rows = [[bucket, "plain", old], [bucket, "with+space", ""], [bucket, "empty", ""]]
    manifest = _manifest(s3, bucket, rows)
    jobs = {
        algorithm: _create(
            control,
            {
                "S3ComputeObjectChecksum": {
                    "ChecksumAlgorithm": algorithm,
                    "ChecksumType": "FULL_OBJECT",
                }
            },
            manifest,
            _report(reports),
        )
        for algorithm in EXPECTED
    }
    for algorithm, job_id in jobs.items():
        job = _wait(control, job_id)
        assert job["Status"] == "Complete"
        assert job["Operation"] == {
            "S3ComputeObjectChecksum": {
                "ChecksumAlgorithm": algorithm,
                "ChecksumType": "FULL_OBJECT",
            }
        }
        assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 3
        assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0
        found = _checksums(s3, reports, job_id)
        for key, version in (("plain", old), ("with space", ""), ("empty", "")):
            digest = EXPECTED[algorithm](bodies[key])
            assert found[(key, version)] == {
                "checksum_base64": _b64(digest),
                "etag": heads[key]["ETag"].strip('"'),
                "checksumAlgorithm": algorithm,
                "checksumType": "FULL_OBJECT",
                "checksum_hex": digest.hex(),
            }, (algorithm, key)
    listed = control.list_jobs(AccountId=ACCOUNT)["Jobs"]
    assert {j["JobId"]: j["Operation"] for j in listed if j["JobId"] in jobs.values()} == {
        job_id: "S3ComputeObjectChecksum" for job_id in jobs.values()
    }
    # The objects did not change.
    for key in ("with space", "empty"):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ETag"] == heads[key]["ETag"]
        assert head["LastModified"] == heads[key]["LastModified"]
        assert head["VersionId"] == heads[key]["VersionId"]
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="plain")["Versions"]) == 2


def test_composite_checksums_of_a_multipart_object(s3, control):
    bucket = _bucket(s3, "cksum-mpu")
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="SHA256")
    done = []
    for number, data in enumerate(parts, 1):
        out = s3.upload_part(
            Bucket=bucket,
            Key="big",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
        )
        done.append(
            {"PartNumber": number, "ETag": out["ETag"], "ChecksumSHA256": out["ChecksumSHA256"]}
        )
    s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
    )
    stored = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert stored["ChecksumSHA256"].endswith("-2")
    s3.put_object(Bucket=bucket, Key="small", Body=b"one piece")
    manifest = _manifest(s3, bucket, [[bucket, "big"], [bucket, "small"]])
    specs = [("SHA256", "COMPOSITE"), ("CRC32C", "COMPOSITE"), ("CRC64NVME", "FULL_OBJECT")]
    jobs = {
        spec: _create(
            control,
            {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": spec[0], "ChecksumType": spec[1]}},
            manifest,
            _report(bucket),
        )
        for spec in specs
    }
    results = {}
    for spec, job_id in jobs.items():
        assert _wait(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
        results[spec] = _checksums(s3, bucket, job_id)
    # SHA-256 composite: the value S3 stored for the upload, from the parts' digests.
    sha = results[("SHA256", "COMPOSITE")][("big", "")]
    assert sha["checksum_base64"] == stored["ChecksumSHA256"]
    of_parts = b"".join(hashlib.sha256(p).digest() for p in parts)
    assert sha["checksum_base64"] == _b64(hashlib.sha256(of_parts).digest()) + "-2"
    assert sha["checksum_hex"] == hashlib.sha256(of_parts).hexdigest() + "-2"
    assert sha["etag"] == stored["ETag"].strip('"')
    # Any composite algorithm, whatever the upload used.
    crc = results[("CRC32C", "COMPOSITE")]
    of_crcs = b"".join(crt.crc32c(p).to_bytes(4, "big") for p in parts)
    assert (
        crc[("big", "")]["checksum_base64"] == _b64(crt.crc32c(of_crcs).to_bytes(4, "big")) + "-2"
    )
    # An object put in one piece is its own single part.
    assert crc[("small", "")]["checksum_base64"] == _b64(
        crt.crc32c(b"one piece").to_bytes(4, "big")
    )
    full = results[("CRC64NVME", "FULL_OBJECT")][("big", "")]
    assert full["checksum_base64"] == _b64(crt.crc64nvme(b"".join(parts)).to_bytes(8, "big"))


def test_compute_checksum_failures_are_in_the_report(s3, control):
    bucket = _bucket(s3, "cksum-fail", versioned=True)
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
    }
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    s3.put_object(Bucket=bucket, Key="ok", Body=b"fine")
    s3.put_object(Bucket=bucket, Key="archived", Body=b"cold", StorageClass="GLACIER")
    s3.put_object(
        Bucket=bucket,
        Key="ssec",
        Body=b"secret",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=SSE_C_KEY,
    )
    s3.put_object(Bucket=bucket, Key="deleted", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="deleted")
    gone = s3.put_object(Bucket=bucket, Key="ok", Body=b"gone")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="ok", VersionId=gone)
    rows = [
        [bucket, "ok", ""],
        [bucket, "archived", ""],
        [bucket, "missing", ""],
        [bucket, "ok", gone],
        [bucket, "ssec", ""],
        [bucket, "deleted", ""],
        [unique("no-such-bucket"), "k", ""],
    ]
    job_id = _create(
        control,
        {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"}},
        _manifest(s3, bucket, rows),
        _report(bucket),
    )
    job = _wait(control, job_id)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 5
    # An archived object is read at rest, without a restore.
    cold = _checksums(s3, bucket, job_id)[("archived", "")]
    assert cold["checksum_base64"] == _b64(zlib.crc32(b"cold").to_bytes(4, "big"))
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="archived")
    failed = {(unquote_plus(r[1]), r[2]): (r[4], r[5]) for r in _rows(s3, bucket, job_id)["failed"]}
    assert failed == {
        ("missing", ""): ("404", "NoSuchKey"),
        ("ok", gone): ("404", "NoSuchVersion"),
        ("ssec", ""): ("400", "InvalidRequest"),
        ("deleted", ""): ("404", "NoSuchKey"),
        ("k", ""): ("404", "NoSuchBucket"),
    }


# -- S3UpdateObjectEncryption -----------------------------------------------------------------


def test_update_object_encryption_in_place(s3, control):
    bucket = _bucket(s3, "reenc", versioned=True)
    s3.put_object(Bucket=bucket, Key="sse-s3", Body=b"managed keys")
    s3.put_object(
        Bucket=bucket,
        Key="sse-kms",
        Body=b"old key",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=OTHER_KEY,
    )
    s3.put_object(Bucket=bucket, Key="versions", Body=b"first")
    first = s3.head_object(Bucket=bucket, Key="versions")
    s3.put_object(Bucket=bucket, Key="versions", Body=b"second")
    before = {
        key: s3.head_object(Bucket=bucket, Key=key) for key in ("sse-s3", "sse-kms", "versions")
    }
    operation = {
        "S3UpdateObjectEncryption": {
            "ObjectEncryption": {"SSEKMS": {"KMSKeyArn": KMS_KEY, "BucketKeyEnabled": True}}
        }
    }
    rows = [
        [bucket, "sse-s3", ""],
        [bucket, "sse-kms", ""],
        [bucket, "versions", first["VersionId"]],
    ]
    job_id = _create(control, operation, _manifest(s3, bucket, rows), _report(bucket))
    job = _wait(control, job_id)
    assert job["Status"] == "Complete"
    assert job["Operation"] == operation
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 3
    for key in ("sse-s3", "sse-kms"):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == KMS_KEY
        assert head["BucketKeyEnabled"] is True
        for same in ("ETag", "LastModified", "VersionId", "ContentLength"):
            assert head[same] == before[key][same], (key, same)
    assert s3.get_object(Bucket=bucket, Key="sse-s3")["Body"].read() == b"managed keys"
    old = s3.head_object(Bucket=bucket, Key="versions", VersionId=first["VersionId"])
    assert (old["ServerSideEncryption"], old["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
    assert old["ETag"] == first["ETag"]
    # Only the version named was changed, and no version was added.
    assert s3.head_object(Bucket=bucket, Key="versions")["ServerSideEncryption"] == "AES256"
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="versions")["Versions"]) == 2
    rows = _rows(s3, bucket, job_id)
    assert sorted(r[1] for r in rows["succeeded"]) == ["sse-kms", "sse-s3", "versions"]
    assert {tuple(r[3:7]) for r in rows["succeeded"]} == {("succeeded", "200", "", "Successful")}
    # A copy back to SSE-S3 has the data's MD5 ETag again.
    s3.copy_object(
        Bucket=bucket,
        Key="back",
        CopySource={"Bucket": bucket, "Key": "sse-s3"},
        ServerSideEncryption="AES256",
    )
    assert (
        s3.head_object(Bucket=bucket, Key="back")["ETag"]
        == f'"{hashlib.md5(b"managed keys").hexdigest()}"'
    )


def test_update_object_encryption_failures(s3, control):
    bucket = _bucket(s3, "reenc-fail")
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BucketKeyEnabled": True,
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
    }
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x")
    s3.put_object(
        Bucket=bucket,
        Key="ssec",
        Body=b"x",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=SSE_C_KEY,
    )
    s3.put_object(
        Bucket=bucket,
        Key="dsse",
        Body=b"x",
        ServerSideEncryption="aws:kms:dsse",
        SSEKMSKeyId=OTHER_KEY,
    )
    manifest = _manifest(s3, bucket, [[bucket, k] for k in ("ok", "ssec", "dsse", "missing")])

    def job(key_arn: str) -> str:
        operation = {
            "S3UpdateObjectEncryption": {"ObjectEncryption": {"SSEKMS": {"KMSKeyArn": key_arn}}}
        }
        return _create(control, operation, manifest, _report(bucket, prefix=unique("p")))

    mine = job(KMS_KEY)
    foreign = job(f"arn:aws:kms:{REGION}:111122223333:key/{KEY_ID}")
    elsewhere = job(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}")
    described = _wait(control, mine)
    assert described["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert described["ProgressSummary"]["NumberOfTasksFailed"] == 3
    head = s3.head_object(Bucket=bucket, Key="ok")
    assert head["SSEKMSKeyId"] == KMS_KEY
    assert head["BucketKeyEnabled"] is True  # the bucket's default, as none was given
    prefix = described["Report"]["Prefix"]
    failed = {r[1]: (r[4], r[5], r[6]) for r in _rows(s3, bucket, mine, prefix)["failed"]}
    assert failed["missing"][:2] == ("404", "NoSuchKey")
    assert failed["ssec"][:2] == failed["dsse"][:2] == ("400", "InvalidRequest")
    assert "DSSE-KMS or SSE-C" in failed["ssec"][2]
    for job_id, code, status in (
        (foreign, "AccessDenied", "403"),
        (elsewhere, "KMS.NotFoundException", "400"),
    ):
        described = _wait(control, job_id)
        assert described["ProgressSummary"]["NumberOfTasksFailed"] == 4
        rows = _rows(s3, bucket, job_id, described["Report"]["Prefix"])["failed"]
        assert {r[1]: (r[4], r[5]) for r in rows}["ok"] == (status, code)
    assert s3.head_object(Bucket=bucket, Key="ok")["SSEKMSKeyId"] == KMS_KEY


# -- refusals and restarts --------------------------------------------------------------------


def test_what_create_job_refuses_for_these_operations(s3, control):
    bucket = _bucket(s3, "cksum-refused")
    manifest = _manifest(s3, bucket, [[bucket, "k"]])
    cases = [
        {"S3ComputeObjectChecksum": {"ChecksumType": "FULL_OBJECT"}},
        {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "CRC32"}},
        {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "CRC16", "ChecksumType": "FULL_OBJECT"}},
        {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "CRC32", "ChecksumType": "PARTIAL"}},
        {
            "S3ComputeObjectChecksum": {
                "ChecksumAlgorithm": "CRC64NVME",
                "ChecksumType": "COMPOSITE",
            }
        },
        {"S3UpdateObjectEncryption": {}},
        {"S3UpdateObjectEncryption": {"ObjectEncryption": {}}},
        {
            "S3UpdateObjectEncryption": {
                "ObjectEncryption": {"SSEKMS": {"KMSKeyArn": "arn:aws:kms:us-east-1:1:alias/x"}}
            }
        },
        {
            "S3UpdateObjectEncryption": {
                "ObjectEncryption": {"SSEKMS": {"KMSKeyArn": f"arn:aws:s3:::{bucket}/not-a-key"}}
            }
        },
    ]
    for operation in cases:
        with pytest.raises(ClientError) as exc:
            _create(control, operation, manifest, {"Enabled": False})
        error = exc.value.response
        assert error["Error"]["Code"] == "BadRequestException", operation
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400, operation


def test_jobs_and_their_effects_survive_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        s3, control = server.client("s3"), server.client("s3control")
        bucket = _bucket(s3, "cksum-restart")
        s3.put_object(Bucket=bucket, Key="k", Body=b"durable")
        manifest = _manifest(s3, bucket, [[bucket, "k"]])
        checksum = _create(
            control,
            {
                "S3ComputeObjectChecksum": {
                    "ChecksumAlgorithm": "SHA1",
                    "ChecksumType": "FULL_OBJECT",
                }
            },
            manifest,
            _report(bucket),
        )
        reencrypt = _create(
            control,
            {"S3UpdateObjectEncryption": {"ObjectEncryption": {"SSEKMS": {"KMSKeyArn": KMS_KEY}}}},
            manifest,
            _report(bucket),
        )
        before = [_wait(control, checksum), _wait(control, reencrypt)]
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        s3, control = server.client("s3"), server.client("s3control")
        after = [
            control.describe_job(AccountId=ACCOUNT, JobId=j)["Job"] for j in (checksum, reencrypt)
        ]
        for old, new in zip(before, after, strict=True):
            assert (new["Status"], new["Operation"], new["ProgressSummary"]) == (
                old["Status"],
                old["Operation"],
                old["ProgressSummary"],
            )
        found = _checksums(s3, bucket, checksum)[("k", "")]
        assert found["checksum_base64"] == _b64(hashlib.sha1(b"durable").digest())
        head = s3.head_object(Bucket=bucket, Key="k")
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
    finally:
        server.stop()


def test_s3_update_object_encryption_operation(s3):
    """The S3 operation the jobs stand for, called directly."""
    bucket = _bucket(s3, "reenc-api", versioned=True)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"abc")
    target = {"SSEKMS": {"KMSKeyArn": KMS_KEY, "BucketKeyEnabled": False}}
    s3.update_object_encryption(Bucket=bucket, Key="k", ObjectEncryption=target)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
    assert (head["ETag"], head["VersionId"]) == (put["ETag"], put["VersionId"])
    assert "BucketKeyEnabled" not in head
    refusals = [
        ("k", {"SSEKMS": {"KMSKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/not-a-key-arn"}}),
        ("missing", target),
    ]
    for key, encryption in refusals:
        with pytest.raises(ClientError) as exc:
            s3.update_object_encryption(Bucket=bucket, Key=key, ObjectEncryption=encryption)
        error = exc.value.response
        expected = ("InvalidRequest", 400) if key == "k" else ("NoSuchKey", 404)
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == expected
