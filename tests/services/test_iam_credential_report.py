"""IAM credential reports with real boto3: GenerateCredentialReport starts one that
completes in the background, GetCredentialReport's CSV holds AWS's columns for the
root and every user (password, MFA, access keys, signing certificates)."""

from __future__ import annotations

import csv
import io
import time

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = CloudletServer.start(auth="strict", data_dir=tmp_path_factory.mktemp("iam-report"))
    try:
        yield srv
    finally:
        srv.stop()


def report_rows(iam) -> dict[str, dict[str, str]]:
    deadline = time.monotonic() + 15
    while True:
        try:
            content = iam.get_credential_report()["Content"].decode()
            break
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ReportInProgress"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    return {row["user"]: row for row in csv.DictReader(io.StringIO(content))}


def test_report_lifecycle_and_columns(server):
    iam = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.get_credential_report()
    assert exc.value.response["Error"]["Code"] == "ReportNotPresent"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410

    plain, rich = unique("plain"), unique("rich")
    iam.create_user(UserName=plain)
    iam.create_user(UserName=rich)
    iam.create_login_profile(UserName=rich, Password="Secret-Passw0rd!")
    iam.update_account_password_policy(MaxPasswordAge=90)
    iam.put_user_policy(
        UserName=rich,
        PolicyName="p",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"sqs:ListQueues","Resource":"*"}]}',
    )
    first = iam.create_access_key(UserName=rich)["AccessKey"]
    second = iam.create_access_key(UserName=rich)["AccessKey"]
    iam.update_access_key(UserName=rich, AccessKeyId=second["AccessKeyId"], Status="Inactive")
    server.client(
        "sqs",
        aws_access_key_id=first["AccessKeyId"],
        aws_secret_access_key=first["SecretAccessKey"],
    ).list_queues()

    assert iam.generate_credential_report()["State"] == "STARTED"
    rows = report_rows(iam)
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    root = rows["<root_account>"]
    assert root["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert root["password_enabled"] == "not_supported"
    assert root["access_key_1_active"] == "true"

    row = rows[plain]
    assert row["arn"] == f"arn:aws:iam::{ACCOUNT}:user/{plain}"
    assert row["password_enabled"] == "false"
    assert row["password_last_changed"] == "N/A"
    assert row["mfa_active"] == "false"
    assert row["access_key_1_active"] == "false"
    assert row["access_key_1_last_rotated"] == "N/A"
    assert row["cert_1_active"] == "false"

    row = rows[rich]
    assert row["password_enabled"] == "true"
    assert row["password_last_used"] == "no_information"
    assert row["password_last_changed"].endswith("+00:00")
    assert row["password_next_rotation"] != "N/A"
    assert row["access_key_1_active"] == "true"
    assert row["access_key_1_last_used_service"] == "sqs"
    assert row["access_key_1_last_used_region"] == "us-east-1"
    assert row["access_key_2_active"] == "false"
    assert row["access_key_2_last_used_date"] == "N/A"
    assert list(next(iter(rows.values())).keys())[:4] == [
        "user",
        "arn",
        "user_creation_time",
        "password_enabled",
    ]
