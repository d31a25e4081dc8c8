"""S3 Batch Operations with real boto3 (and the AWS CLI): S3 Control's CreateJob,
DescribeJob, ListJobs, UpdateJobStatus, UpdateJobPriority and job tagging, jobs that
really act on objects (Batch Replication of objects older than the replication
configuration, tagging from a CSV manifest, copies, Lambda invocations), completion
reports as S3 writes them, and jobs that survive a restart.

Jobs run in the background, so tests poll DescribeJob with a deadline.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from urllib.parse import quote, unquote_plus

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.lambda_helpers import python_function
from tests.services.names import unique

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch-operations"
NO_REPORT = {"Enabled": False}
CSV_FORMAT = "S3BatchOperations_CSV_20180820"
DONE = ("Complete", "Failed", "Cancelled")


@pytest.fixture
def s3(cloudlet_server):
    return cloudlet_server.client("s3")


@pytest.fixture
def control(cloudlet_server):
    return cloudlet_server.client("s3control")


def _error(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _bucket(s3, prefix: str, *, versioned: bool = False) -> str:
    name = unique(prefix)
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _describe(control, job_id: str) -> dict:
    return control.describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]


def _wait(control, job_id: str, statuses=DONE, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = _describe(control, job_id)
        if job["Status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['Status']} after {timeout}s")
        time.sleep(0.05)


def _wait_for_progress(control, job_id: str, timeout: float = 10.0) -> dict:
    """Wait until a job is Active with some tasks done (or has ended)."""
    deadline = time.monotonic() + timeout
    while True:
        job = _describe(control, job_id)
        done = job["ProgressSummary"]["NumberOfTasksSucceeded"]
        if (job["Status"] == "Active" and done) or job["Status"] in DONE:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} made no progress in {timeout}s")
        time.sleep(0.02)


def _manifest(s3, bucket: str, rows: list[list[str]], key: str = "manifest.csv") -> dict:
    """A CSV manifest object of ``rows`` (keys URL-encoded, as S3 wants them)."""
    text = "".join(",".join(row) + "\n" for row in rows)
    etag = s3.put_object(Bucket=bucket, Key=key, Body=text.encode())["ETag"]
    fields = ["Bucket", "Key", "VersionId"] if len(rows[0]) == 3 else ["Bucket", "Key"]
    return {
        "Spec": {"Format": CSV_FORMAT, "Fields": fields},
        "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": etag.strip('"')},
    }


def _create(control, operation: dict, **kwargs) -> str:
    kwargs.setdefault("Priority", 10)
    kwargs.setdefault("RoleArn", ROLE)
    kwargs.setdefault("Report", NO_REPORT)
    kwargs.setdefault("ConfirmationRequired", False)
    return control.create_job(AccountId=ACCOUNT, Operation=operation, **kwargs)["JobId"]


def _report(bucket: str, prefix: str = "reports", scope: str = "AllTasks") -> dict:
    return {
        "Enabled": True,
        "Bucket": f"arn:aws:s3:::{bucket}",
        "Prefix": prefix,
        "Format": "Report_CSV_20180820",
        "ReportScope": scope,
    }


def _read_report(s3, bucket: str, job_id: str, prefix: str = "reports") -> tuple[dict, dict]:
    """The report's manifest.json and its rows by task status."""
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{prefix}/job-{job_id}/manifest.json")["Body"].read()
    )
    rows: dict[str, list[list[str]]] = {}
    for result in manifest["Results"]:
        assert result["Bucket"] == bucket
        body = s3.get_object(Bucket=bucket, Key=result["Key"])["Body"].read().decode()
        rows.setdefault(result["TaskExecutionStatus"], []).extend(csv.reader(io.StringIO(body)))
    return manifest, rows


def _tags(s3, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    args = {"Bucket": bucket, "Key": key}
    if version_id:
        args["VersionId"] = version_id
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(**args)["TagSet"]}


# -- Batch Replication ----------------------------------------------------------------------


def test_batch_replication_of_objects_older_than_the_configuration(s3, control):
    source = _bucket(s3, "batch-src", versioned=True)
    dest = _bucket(s3, "batch-dst", versioned=True)
    reports = _bucket(s3, "batch-rep")
    keys = ["one", "dir/two", "with space", "caf\u00e9"]
    versions = {k: s3.put_object(Bucket=source, Key=k, Body=k.encode())["VersionId"] for k in keys}
    s3.put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": ROLE,
            "Rules": [
                {
                    "ID": "all",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
                }
            ],
        },
    )
    # Objects written before the configuration were never replicated.
    assert "ReplicationStatus" not in s3.head_object(Bucket=source, Key="one")
    assert s3.list_object_versions(Bucket=dest).get("Versions") is None

    job_id = _create(
        control,
        {"S3ReplicateObject": {}},
        Description="replicate existing objects",
        Report=_report(reports),
        ManifestGenerator={
            "S3JobManifestGenerator": {
                "SourceBucket": f"arn:aws:s3:::{source}",
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "Bucket": f"arn:aws:s3:::{reports}",
                    "ManifestPrefix": "generated",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": {"EligibleForReplication": True, "ObjectReplicationStatuses": ["NONE"]},
            }
        },
    )
    job = _wait(control, job_id)
    assert job["Status"] == "Complete", job
    assert job["JobArn"] == f"arn:aws:s3:us-east-1:{ACCOUNT}:job/{job_id}"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == len(keys)
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == len(keys)
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0
    assert job["CreationTime"] <= job["TerminationDate"]
    for key, version_id in versions.items():
        assert s3.head_object(Bucket=source, Key=key)["ReplicationStatus"] == "COMPLETED"
        replica = s3.get_object(Bucket=dest, Key=key, VersionId=version_id)
        assert replica["ReplicationStatus"] == "REPLICA"
        assert replica["Body"].read() == key.encode()

    # The generated manifest, as S3 writes it (inventory-style gzip CSV, keys encoded).
    descriptor = job["GeneratedManifestDescriptor"]
    assert descriptor["Format"] == "S3InventoryReport_CSV_20211130"
    manifest_key = descriptor["Location"]["ObjectArn"].split(":::", 1)[1].split("/", 1)[1]
    assert manifest_key == f"generated/job-{job_id}/manifest.json"
    generated = json.loads(s3.get_object(Bucket=reports, Key=manifest_key)["Body"].read())
    assert generated["fileSchema"] == "Bucket, Key, VersionId"
    listed = set()
    for file in generated["files"]:
        body = gzip.decompress(s3.get_object(Bucket=reports, Key=file["key"])["Body"].read())
        for bucket, key, version_id in csv.reader(io.StringIO(body.decode())):
            listed.add((bucket, unquote_plus(key), version_id))
    assert listed == {(source, k, v) for k, v in versions.items()}

    # The completion report: every task succeeded.
    manifest, rows = _read_report(s3, reports, job_id)
    assert manifest["Format"] == "Report_CSV_20180820"
    assert manifest["ReportSchema"].startswith("Bucket, Key, VersionId, TaskStatus")
    assert set(rows) == {"succeeded"}
    assert {(unquote_plus(r[1]), r[2], r[3], r[4]) for r in rows["succeeded"]} == {
        (k, v, "succeeded", "200") for k, v in versions.items()
    }

    # Now everything is COMPLETED: a second job with the same filter finds nothing.
    again = _create(
        control,
        {"S3ReplicateObject": {}},
        ManifestGenerator={
            "S3JobManifestGenerator": {
                "SourceBucket": f"arn:aws:s3:::{source}",
                "EnableManifestOutput": False,
                "Filter": {"EligibleForReplication": True, "ObjectReplicationStatuses": ["NONE"]},
            }
        },
    )
    job = _wait(control, again)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 0


def test_batch_replication_failures(s3, control):
    """No replication configuration, or a key no rule selects, fails the task with S3's
    replication failure reason; a missing version with S3's own error."""
    plain = _bucket(s3, "batch-norepl", versioned=True)
    source = _bucket(s3, "batch-src", versioned=True)
    dest = _bucket(s3, "batch-dst", versioned=True)
    plain_version = s3.put_object(Bucket=plain, Key="k", Body=b"x")["VersionId"]
    other = s3.put_object(Bucket=source, Key="other/k", Body=b"x")["VersionId"]
    s3.put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": ROLE,
            "Rules": [
                {
                    "ID": "docs",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": "docs/"},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
                }
            ],
        },
    )
    reports = _bucket(s3, "batch-rep")
    manifest = _manifest(
        s3,
        reports,
        [
            [plain, "k", plain_version],
            [source, "other/k", other],
            [source, "docs/missing", "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"],
        ],
    )
    job_id = _create(
        control,
        {"S3ReplicateObject": {}},
        Manifest=manifest,
        Report=_report(reports, scope="FailedTasksOnly"),
    )
    job = _wait(control, job_id)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 3
    _, rows = _read_report(s3, reports, job_id)
    assert set(rows) == {"failed"}
    codes = {r[1]: (r[4], r[5]) for r in rows["failed"]}
    assert codes["k"][1] == "SrcBucketReplicationConfigMissing"
    assert codes["other/k"][1] == "SrcObjectNotEligible"
    assert codes["docs/missing"] == ("404", "NoSuchVersion")


# -- manifests --------------------------------------------------------------------------------


def test_csv_manifest_with_encoded_keys_and_versions_tags_objects(s3, control):
    bucket = _bucket(s3, "batch-tag", versioned=True)
    reports = _bucket(s3, "batch-rep")
    keys = ["plain", "a b+c", "d\u00e9j\u00e0/vu", "100%,comma"]
    first = {k: s3.put_object(Bucket=bucket, Key=k, Body=b"1")["VersionId"] for k in keys}
    latest = {k: s3.put_object(Bucket=bucket, Key=k, Body=b"2")["VersionId"] for k in keys}
    rows = [[bucket, quote(k), first[k]] for k in keys]
    # A quoted field, as a CSV writer puts it when a key holds a comma unencoded.
    rows.append([bucket, '"' + "100%25,comma" + '"', latest["100%,comma"]])
    job_id = _create(
        control,
        {"S3PutObjectTagging": {"TagSet": [{"Key": "batch", "Value": "yes"}]}},
        Manifest=_manifest(s3, reports, rows),
        Report=_report(reports, prefix="tagging"),
    )
    job = _wait(control, job_id)
    assert job["Status"] == "Complete", job
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == len(rows)
    for key in keys:
        assert _tags(s3, bucket, key, first[key]) == {"batch": "yes"}
    assert _tags(s3, bucket, "100%,comma", latest["100%,comma"]) == {"batch": "yes"}
    assert _tags(s3, bucket, "plain", latest["plain"]) == {}
    _, report_rows = _read_report(s3, reports, job_id, prefix="tagging")
    assert {unquote_plus(r[1]) for r in report_rows["succeeded"]} == set(keys)
    assert all(r[4:] == ["200", "", "Successful"] for r in report_rows["succeeded"])

    # S3DeleteObjectTagging on the current versions (no VersionId column).
    cleared = _create(
        control,
        {"S3DeleteObjectTagging": {}},
        Manifest=_manifest(s3, reports, [[bucket, quote(k)] for k in keys], key="current.csv"),
    )
    assert _wait(control, cleared)["Status"] == "Complete"
    assert _tags(s3, bucket, "plain", first["plain"]) == {"batch": "yes"}


def test_inventory_report_manifest(s3, control):
    """An S3 Inventory manifest.json and its gzip CSV files (all versions: the delete
    markers are left out)."""
    bucket = _bucket(s3, "batch-inv", versioned=True)
    inventory = _bucket(s3, "batch-inv-dst")
    a = s3.put_object(Bucket=bucket, Key="a/1", Body=b"x")["VersionId"]
    b = s3.put_object(Bucket=bucket, Key="b 2", Body=b"x")["VersionId"]
    lines = [
        [bucket, "a%2F1", a, "true", "false"],
        [bucket, "b+2", b, "true", "false"],
        [bucket, "gone", "deadbeef", "true", "true"],
    ]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerows(lines)
    data_key = "inv/data/0001.csv.gz"
    s3.put_object(Bucket=inventory, Key=data_key, Body=gzip.compress(out.getvalue().encode()))
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{inventory}",
        "version": "2016-11-30",
        "creationTimestamp": "1700000000000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker",
        "files": [{"key": data_key, "size": 1, "MD5checksum": "x"}],
    }
    etag = s3.put_object(
        Bucket=inventory, Key="inv/manifest.json", Body=json.dumps(manifest).encode()
    )["ETag"]
    job_id = _create(
        control,
        {"S3PutObjectTagging": {"TagSet": [{"Key": "from", "Value": "inventory"}]}},
        Manifest={
            "Spec": {"Format": "S3InventoryReport_CSV_20161130"},
            "Location": {"ObjectArn": f"arn:aws:s3:::{inventory}/inv/manifest.json", "ETag": etag},
        },
    )
    job = _wait(control, job_id)
    assert job["Status"] == "Complete", job
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 2
    assert _tags(s3, bucket, "a/1") == {"from": "inventory"}
    assert _tags(s3, bucket, "b 2") == {"from": "inventory"}


def test_manifests_that_cannot_be_read_fail_the_job(s3, control):
    bucket = _bucket(s3, "batch-bad")
    good = _manifest(s3, bucket, [[bucket, "k"]])
    missing = {**good, "Location": {**good["Location"], "ObjectArn": f"arn:aws:s3:::{bucket}/no"}}
    wrong_etag = {**good, "Location": {**good["Location"], "ETag": "0" * 32}}
    broken = _manifest(s3, bucket, [["only-one-field"]], key="broken.csv")
    broken["Spec"]["Fields"] = ["Bucket", "Key"]
    for manifest, code in (
        (missing, "NoSuchKey"),
        (wrong_etag, "ManifestETagMismatch"),
        (broken, "InvalidManifest"),
    ):
        job_id = _create(control, {"S3DeleteObjectTagging": {}}, Manifest=manifest)
        job = _wait(control, job_id)
        assert job["Status"] == "Failed", job
        assert job["FailureReasons"][0]["FailureCode"] == code
        assert job["FailureReasons"][0]["FailureReason"]
        assert "TerminationDate" in job


# -- reports and failures -------------------------------------------------------------------


def test_report_lists_a_failed_task(s3, control):
    bucket = _bucket(s3, "batch-fail")
    reports = _bucket(s3, "batch-rep")
    s3.put_object(Bucket=bucket, Key="here", Body=b"x")
    manifest = _manifest(s3, reports, [[bucket, "here"], [bucket, "not-here"]])
    job_id = _create(
        control,
        {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
        Manifest=manifest,
        Report=_report(reports),
    )
    job = _wait(control, job_id)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 1
    manifest_doc, rows = _read_report(s3, reports, job_id)
    assert {r["TaskExecutionStatus"] for r in manifest_doc["Results"]} == {"succeeded", "failed"}
    assert all(len(r["MD5Checksum"]) == 32 for r in manifest_doc["Results"])
    (failed,) = rows["failed"]
    assert failed[:6] == [bucket, "not-here", "", "failed", "404", "NoSuchKey"]
    assert failed[6]
    assert rows["succeeded"][0][:4] == [bucket, "here", "", "succeeded"]


def test_a_job_fails_past_the_failure_threshold(s3, control):
    bucket = _bucket(s3, "batch-threshold")
    manifest = _manifest(s3, bucket, [[bucket, "missing"]] * 1100)
    job_id = _create(control, {"S3DeleteObjectTagging": {}}, Manifest=manifest)
    job = _wait(control, job_id)
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ExceededFailureThreshold"
    summary = job["ProgressSummary"]
    assert 1000 < summary["NumberOfTasksFailed"] < 1100
    assert summary["NumberOfTasksSucceeded"] == 0


# -- the lifecycle -----------------------------------------------------------------------------


def test_confirmation_required_suspends_until_ready(s3, control):
    bucket = _bucket(s3, "batch-confirm")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    job_id = _create(
        control,
        {"S3PutObjectTagging": {"TagSet": [{"Key": "ok", "Value": "1"}]}},
        Manifest=_manifest(s3, bucket, [[bucket, "k"]]),
        ConfirmationRequired=True,
    )
    job = _wait(control, job_id, statuses=("Suspended",))
    assert job["SuspendedCause"] == "AwaitingConfirmation"
    assert "SuspendedDate" in job
    assert job["ConfirmationRequired"] is True
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 1
    assert _tags(s3, bucket, "k") == {}
    out = control.update_job_status(
        AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Ready", StatusUpdateReason="go"
    )
    assert out["JobId"] == job_id and out["Status"] == "Ready"
    job = _wait(control, job_id)
    assert job["Status"] == "Complete" and job["StatusUpdateReason"] == "go"
    assert _tags(s3, bucket, "k") == {"ok": "1"}
    for status in ("Ready", "Cancelled"):
        with pytest.raises(ClientError) as exc:
            control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus=status)
        assert _error(exc) == ("JobStatusException", 400)


def test_cancellation(s3, control):
    bucket = _bucket(s3, "batch-cancel")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    manifest = _manifest(s3, bucket, [[bucket, "k"]])
    waiting = _create(
        control, {"S3DeleteObjectTagging": {}}, Manifest=manifest, ConfirmationRequired=True
    )
    _wait(control, waiting, statuses=("Suspended",))
    out = control.update_job_status(
        AccountId=ACCOUNT, JobId=waiting, RequestedJobStatus="Cancelled"
    )
    assert out["Status"] == "Cancelled"
    job = _describe(control, waiting)
    assert job["Status"] == "Cancelled" and "TerminationDate" in job
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 0

    # An Active job: Cancelling, then Cancelled with the tasks done so far.
    reports = _bucket(s3, "batch-rep")
    big = _manifest(s3, bucket, [[bucket, "k"]] * 40000, key="big.csv")
    running = _create(
        control,
        {"S3PutObjectTagging": {"TagSet": [{"Key": "n", "Value": "1"}]}},
        Manifest=big,
        Report=_report(reports),
    )
    _wait_for_progress(control, running)
    out = control.update_job_status(
        AccountId=ACCOUNT, JobId=running, RequestedJobStatus="Cancelled"
    )
    assert out["Status"] in ("Cancelling", "Cancelled")
    job = _wait(control, running)
    assert job["Status"] == "Cancelled"
    done = job["ProgressSummary"]["NumberOfTasksSucceeded"]
    assert 0 < done < 40000
    _, rows = _read_report(s3, reports, running)  # the tasks that ran are reported
    assert len(rows["succeeded"]) == done


def test_priority_and_listing(s3, control, cloudlet_server):
    bucket = _bucket(s3, "batch-list")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    manifest = _manifest(s3, bucket, [[bucket, "k"]])
    marker = unique("listing")
    ids = [
        _create(
            control,
            {"S3DeleteObjectTagging": {}},
            Manifest=manifest,
            ConfirmationRequired=True,
            Description=f"{marker}-{i}",
            Priority=i,
        )
        for i in range(5)
    ]
    for job_id in ids:
        _wait(control, job_id, statuses=("Suspended",))
    out = control.update_job_priority(AccountId=ACCOUNT, JobId=ids[0], Priority=99)
    assert out == {"JobId": ids[0], "Priority": 99, "ResponseMetadata": out["ResponseMetadata"]}
    assert _describe(control, ids[0])["Priority"] == 99
    control.update_job_status(AccountId=ACCOUNT, JobId=ids[1], RequestedJobStatus="Cancelled")

    # Newest first, paged, filtered by status.
    seen, token = [], None
    while True:
        page = control.list_jobs(
            AccountId=ACCOUNT,
            JobStatuses=["Suspended", "Cancelled"],
            MaxResults=2,
            **({"NextToken": token} if token else {}),
        )
        assert len(page["Jobs"]) <= 2
        seen += [j for j in page["Jobs"] if j.get("Description", "").startswith(marker)]
        token = page.get("NextToken")
        if not token:
            break
    assert [j["JobId"] for j in seen] == ids[::-1]
    entry = next(j for j in seen if j["JobId"] == ids[0])
    assert entry["Operation"] == "S3DeleteObjectTagging"
    assert entry["Priority"] == 99 and entry["Status"] == "Suspended"
    assert entry["ProgressSummary"]["TotalNumberOfTasks"] == 1
    cancelled = control.list_jobs(AccountId=ACCOUNT, JobStatuses=["Cancelled"])["Jobs"]
    assert ids[1] in {j["JobId"] for j in cancelled}
    assert ids[0] not in {j["JobId"] for j in cancelled}
    for job_id in ids:
        if job_id != ids[1]:
            control.update_job_status(
                AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled"
            )
    with pytest.raises(ClientError) as exc:
        control.list_jobs(AccountId=ACCOUNT, NextToken="not-a-token")
    assert _error(exc) == ("InvalidNextTokenException", 400)
    # Another account's view is its own.
    other = cloudlet_server.client(
        "s3control", aws_access_key_id="111122223333", aws_secret_access_key="x"
    )
    listed = other.list_jobs(AccountId="111122223333")["Jobs"]
    assert not {j["JobId"] for j in listed} & set(ids)


def test_higher_priority_jobs_run_first(s3, control):
    """A job of higher priority created while a long one runs is done before it."""
    bucket = _bucket(s3, "batch-priority")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    big = _manifest(s3, bucket, [[bucket, "k"]] * 40000, key="big.csv")
    low = _create(control, {"S3DeleteObjectTagging": {}}, Manifest=big, Priority=1)
    _wait_for_progress(control, low)
    high = _create(
        control,
        {"S3DeleteObjectTagging": {}},
        Manifest=_manifest(s3, bucket, [[bucket, "k"]]),
        Priority=1000,
    )
    assert _wait(control, high)["Status"] == "Complete"
    assert _describe(control, low)["Status"] == "Active"
    control.update_job_status(AccountId=ACCOUNT, JobId=low, RequestedJobStatus="Cancelled")
    assert _wait(control, low)["Status"] == "Cancelled"


def test_job_tagging(s3, control):
    bucket = _bucket(s3, "batch-tags")
    job_id = _create(
        control,
        {"S3DeleteObjectTagging": {}},
        Manifest=_manifest(s3, bucket, [[bucket, "k"]]),
        ConfirmationRequired=True,
        Tags=[{"Key": "team", "Value": "storage"}],
    )
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job_id)["Tags"] == [
        {"Key": "team", "Value": "storage"}
    ]
    control.put_job_tagging(
        AccountId=ACCOUNT,
        JobId=job_id,
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}],
    )
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job_id)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": ""},
    ]
    with pytest.raises(ClientError) as exc:
        control.put_job_tagging(
            AccountId=ACCOUNT,
            JobId=job_id,
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        )
    assert _error(exc) == ("TooManyTagsException", 400)
    control.delete_job_tagging(AccountId=ACCOUNT, JobId=job_id)
    assert control.get_job_tagging(AccountId=ACCOUNT, JobId=job_id).get("Tags", []) == []
    control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")


# -- other operations -------------------------------------------------------------------------


def test_put_object_copy(s3, control):
    source = _bucket(s3, "batch-copy-src")
    target = _bucket(s3, "batch-copy-dst")
    for key in ("x.txt", "sub/y.txt"):
        s3.put_object(Bucket=source, Key=key, Body=key.encode(), Metadata={"old": "1"})
    job_id = _create(
        control,
        {
            "S3PutObjectCopy": {
                "TargetResource": f"arn:aws:s3:::{target}",
                "TargetKeyPrefix": "copies",
                "MetadataDirective": "REPLACE",
                "NewObjectMetadata": {"ContentType": "text/plain", "UserMetadata": {"new": "2"}},
                "NewObjectTagging": [{"Key": "copied", "Value": "true"}],
                "StorageClass": "STANDARD_IA",
                "ChecksumAlgorithm": "SHA256",
            }
        },
        Manifest=_manifest(s3, source, [[source, "x.txt"], [source, "sub/y.txt"]]),
    )
    job = _wait(control, job_id)
    assert job["Status"] == "Complete", job
    for key in ("x.txt", "sub/y.txt"):
        copy = s3.get_object(Bucket=target, Key=f"copies/{key}", ChecksumMode="ENABLED")
        assert copy["Body"].read() == key.encode()
        assert copy["ContentType"] == "text/plain"
        assert copy["Metadata"] == {"new": "2"}
        assert copy["StorageClass"] == "STANDARD_IA"
        assert copy.get("ChecksumSHA256")
        assert _tags(s3, target, f"copies/{key}") == {"copied": "true"}


def test_object_lock_and_restore_operations(s3, control):
    bucket = unique("batch-lock")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    manifest = _manifest(s3, bucket, [[bucket, "k", version]], key="m1.csv")
    hold = _create(
        control, {"S3PutObjectLegalHold": {"LegalHold": {"Status": "ON"}}}, Manifest=manifest
    )
    assert _wait(control, hold)["Status"] == "Complete"
    held = s3.get_object_legal_hold(Bucket=bucket, Key="k", VersionId=version)
    assert held["LegalHold"]["Status"] == "ON"
    release = _create(
        control, {"S3PutObjectLegalHold": {"LegalHold": {"Status": "OFF"}}}, Manifest=manifest
    )
    assert _wait(control, release)["Status"] == "Complete"
    restore = _create(
        control,
        {"S3InitiateRestoreObject": {"ExpirationInDays": 1, "GlacierJobTier": "BULK"}},
        Manifest=_manifest(s3, bucket, [[bucket, "cold"]], key="m2.csv"),
    )
    job = _wait(control, restore)
    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksFailed"] == 0
    assert 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key="cold")["Restore"]


LAMBDA_SOURCE = """
import json
from urllib.parse import unquote_plus

def handler(event, context):
    results = []
    for task in event["tasks"]:
        key = task["s3Key"] if event["invocationSchemaVersion"] == "2.0" else unquote_plus(task["s3Key"])
        if key.startswith("bad"):
            code, text = "PermanentFailure", "refused " + key
        else:
            code, text = "Succeeded", json.dumps({"key": key, "args": event["job"].get("userArguments"),
                                                  "bucket": task.get("s3Bucket") or task.get("s3BucketArn")})
        results.append({"taskId": task["taskId"], "resultCode": code, "resultString": text})
    return {"invocationSchemaVersion": event["invocationSchemaVersion"],
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": event["invocationId"], "results": results}
"""


def test_lambda_invoke(s3, control, cloudlet_server):
    lam = cloudlet_server.client("lambda")
    name = unique("batch-fn")
    arn = python_function(lam, name, LAMBDA_SOURCE)["FunctionArn"]
    bucket = _bucket(s3, "batch-lambda")
    reports = _bucket(s3, "batch-rep")
    manifest = _manifest(s3, bucket, [[bucket, quote("good one")], [bucket, "bad"]])
    for schema, arguments in (("1.0", None), ("2.0", {"color": "blue"})):
        spec = {"FunctionArn": arn, "InvocationSchemaVersion": schema}
        if arguments:
            spec["UserArguments"] = arguments
        job_id = _create(
            control,
            {"LambdaInvoke": spec},
            Manifest=manifest,
            Report=_report(reports, prefix=f"lambda-{schema}"),
        )
        job = _wait(control, job_id, timeout=30)
        assert job["Status"] == "Complete", job
        assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
        assert job["ProgressSummary"]["NumberOfTasksFailed"] == 1
        _, rows = _read_report(s3, reports, job_id, prefix=f"lambda-{schema}")
        (failed,) = rows["failed"]
        assert failed[3:] == ["failed", "200", "PermanentFailure", "refused bad"]
        (succeeded,) = rows["succeeded"]
        said = json.loads(succeeded[6])
        assert said["key"] == "good one" and said["args"] == arguments
        assert said["bucket"] == (bucket if schema == "2.0" else f"arn:aws:s3:::{bucket}")


# -- durability -------------------------------------------------------------------------------


def test_jobs_survive_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        s3, control = server.client("s3"), server.client("s3control")
        bucket = _bucket(s3, "batch-restart")
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        manifest = _manifest(s3, bucket, [[bucket, "k"]])
        done = _create(
            control,
            {"S3PutObjectTagging": {"TagSet": [{"Key": "a", "Value": "1"}]}},
            Manifest=manifest,
            Description="finished before the restart",
            Tags=[{"Key": "kept", "Value": "yes"}],
        )
        _wait(control, done)
        waiting = _create(
            control,
            {"S3PutObjectTagging": {"TagSet": [{"Key": "b", "Value": "2"}]}},
            Manifest=manifest,
            ConfirmationRequired=True,
        )
        _wait(control, waiting, statuses=("Suspended",))
        before = _describe(control, done)
        # A long job, stopped while Active.
        big = _manifest(s3, bucket, [[bucket, "k"]] * 30000, key="big.csv")
        running = _create(control, {"S3DeleteObjectTagging": {}}, Manifest=big)
        stopped = _wait_for_progress(control, running)["ProgressSummary"]
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path / "data")
    try:
        s3, control = server.client("s3"), server.client("s3control")
        after = _describe(control, done)
        assert after["Status"] == "Complete"
        assert after["Description"] == "finished before the restart"
        assert after["ProgressSummary"] == before["ProgressSummary"]
        assert after["CreationTime"] == before["CreationTime"]
        assert control.get_job_tagging(AccountId=ACCOUNT, JobId=done)["Tags"] == [
            {"Key": "kept", "Value": "yes"}
        ]
        # The long job resumes where it stopped: every task done once.
        resumed = _describe(control, running)["ProgressSummary"]
        assert resumed["NumberOfTasksSucceeded"] >= stopped["NumberOfTasksSucceeded"]
        job = _wait(control, running, timeout=20)
        assert job["Status"] == "Complete"
        assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 30000
        assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0
        assert _describe(control, waiting)["Status"] == "Suspended"
        control.update_job_status(AccountId=ACCOUNT, JobId=waiting, RequestedJobStatus="Ready")
        assert _wait(control, waiting)["Status"] == "Complete"
        assert _tags(s3, bucket, "k") == {"b": "2"}
    finally:
        server.stop()


# -- refusals ---------------------------------------------------------------------------------


def test_what_create_job_refuses(s3, control):
    bucket = _bucket(s3, "batch-refused")
    manifest = _manifest(s3, bucket, [[bucket, "k"]])
    generator = {
        "S3JobManifestGenerator": {
            "SourceBucket": f"arn:aws:s3:::{bucket}",
            "EnableManifestOutput": False,
        }
    }
    tagging = {"S3DeleteObjectTagging": {}}
    cases = [
        ({"Operation": {**tagging, "S3ReplicateObject": {}}}, ("BadRequestException", 400)),
        ({"Operation": {}}, ("BadRequestException", 400)),
        ({"Manifest": None}, ("BadRequestException", 400)),
        ({"ManifestGenerator": generator}, ("BadRequestException", 400)),
        (
            {"Manifest": {**manifest, "Spec": {"Format": "Nope_CSV", "Fields": ["Bucket", "Key"]}}},
            ("BadRequestException", 400),
        ),
        (
            {"Manifest": {**manifest, "Spec": {"Format": CSV_FORMAT, "Fields": ["Bucket"]}}},
            ("BadRequestException", 400),
        ),
        (
            {"Manifest": {**manifest, "Location": {"ObjectArn": "arn:aws:s3:::x", "ETag": "e"}}},
            ("BadRequestException", 400),
        ),
        ({"Report": {"Enabled": True}}, ("BadRequestException", 400)),
        ({"RoleArn": "not-a-role"}, ("BadRequestException", 400)),
        (
            {
                "Operation": {
                    "LambdaInvoke": {
                        "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f",
                        "UserArguments": {"a": "b"},
                    }
                }
            },
            ("BadRequestException", 400),
        ),
        (
            {
                "Operation": {
                    "S3ComputeObjectChecksum": {
                        "ChecksumAlgorithm": "CRC64NVME",
                        "ChecksumType": "COMPOSITE",
                    }
                }
            },
            ("BadRequestException", 400),
        ),
        ({"AccountId": "111122223333"}, ("AccessDenied", 403)),
    ]
    for change, expected in cases:
        args = {
            "AccountId": ACCOUNT,
            "Operation": tagging,
            "Manifest": manifest,
            "Priority": 1,
            "RoleArn": ROLE,
            "Report": NO_REPORT,
        }
        args.update(change)
        args = {k: v for k, v in args.items() if v is not None}
        with pytest.raises(ClientError) as exc:
            control.create_job(**args)
        assert _error(exc) == expected, change


def test_client_request_token_makes_create_job_idempotent(s3, control):
    bucket = _bucket(s3, "batch-token")
    manifest = _manifest(s3, bucket, [[bucket, "k"]])
    token = unique("token")
    operation = {"S3DeleteObjectTagging": {}}
    args = {"Manifest": manifest, "ConfirmationRequired": True, "ClientRequestToken": token}
    first = _create(control, operation, **args)
    assert _create(control, operation, **args) == first
    with pytest.raises(ClientError) as exc:
        _create(control, operation, **{**args, "Priority": 11})
    assert _error(exc) == ("IdempotencyException", 409)
    control.update_job_status(AccountId=ACCOUNT, JobId=first, RequestedJobStatus="Cancelled")


def test_unknown_and_foreign_jobs(control, cloudlet_server):
    for call in (
        lambda: control.describe_job(
            AccountId=ACCOUNT, JobId="00000000-0000-4000-8000-000000000000"
        ),
        lambda: control.update_job_priority(
            AccountId=ACCOUNT, JobId="00000000-0000-4000-8000-000000000000", Priority=1
        ),
        lambda: control.get_job_tagging(AccountId=ACCOUNT, JobId="no-such-job"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc) == ("NotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        control.describe_job(AccountId="111122223333", JobId="no-such-job")
    assert _error(exc) == ("AccessDenied", 403)


def test_the_aws_cli(s3, control, aws, tmp_path):
    """The CLI, with cloudlet's CLI plugin (``cloudlet.awscli_plugin``, in its config's
    ``[plugins]``) dropping the account id botocore puts in front of S3 Control's host."""
    (tmp_path / ".aws").mkdir(exist_ok=True)
    (tmp_path / ".aws" / "config").write_text("[plugins]\ncloudlet = cloudlet.awscli_plugin\n")
    bucket = _bucket(s3, "batch-cli")
    job_id = _create(
        control,
        {"S3DeleteObjectTagging": {}},
        Manifest=_manifest(s3, bucket, [[bucket, "k"]]),
        ConfirmationRequired=True,
    )
    _wait(control, job_id, statuses=("Suspended",))
    out = aws("s3control", "describe-job", "--account-id", ACCOUNT, "--job-id", job_id)
    assert json.loads(out.stdout)["Job"]["Status"] == "Suspended"
    out = aws(
        "s3control",
        "update-job-status",
        "--account-id",
        ACCOUNT,
        "--job-id",
        job_id,
        "--requested-job-status",
        "Cancelled",
    )
    assert json.loads(out.stdout)["Status"] == "Cancelled"
