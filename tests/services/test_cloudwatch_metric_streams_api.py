"""CloudWatch metric streams' API against a real server with boto3: create, update
(state, creation date and tags kept), Get/List (paging)/Delete, tags, the query
protocol, AWS's errors for bad input, and strict mode: the stream's role must allow
``firehose:PutRecord``/``PutRecordBatch`` before anything is delivered, and
StopMetricStreams is all or nothing."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.cloudwatch_helpers import call
from tests.services.firehose_helpers import ROLE
from tests.services.metric_stream_helpers import (
    ACCOUNT,
    ENV,
    error_of,
    hose_arn,
    lines,
    new_hose,
    objects,
    previous_minute,
)
from tests.services.names import unique


@pytest.fixture(scope="module")
def server():
    with CloudletServer.start(env=ENV) as srv:
        yield srv


@pytest.fixture(scope="module")
def cw(server):
    return server.client("cloudwatch")


def test_the_api_its_errors_paging_and_tags(server, cw):
    hose = hose_arn("anything")
    base = {"FirehoseArn": hose, "RoleArn": ROLE, "OutputFormat": "json"}
    name = unique("api")
    cw.put_metric_stream(Name=name, Tags=[{"Key": "team", "Value": "a"}], **base)
    arn = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:metric-stream/{name}"
    first = cw.get_metric_stream(Name=name)
    assert first["IncludeFilters"] == first["ExcludeFilters"] == []
    assert first["IncludeLinkedAccountsMetrics"] is False
    cw.stop_metric_streams(Names=[name, unique("unknown")])
    cw.put_metric_stream(
        Name=name,
        Tags=[{"Key": "ignored", "Value": "on update"}],
        IncludeFilters=[{"Namespace": "AWS/EC2"}],
        IncludeLinkedAccountsMetrics=True,
        **{**base, "OutputFormat": "opentelemetry1.0"},
    )
    updated = cw.get_metric_stream(Name=name)
    assert updated["State"] == "stopped"  # an update keeps the state
    assert updated["OutputFormat"] == "opentelemetry1.0"
    assert updated["IncludeFilters"] == [{"Namespace": "AWS/EC2"}]
    assert updated["IncludeLinkedAccountsMetrics"] is True
    assert updated["CreationDate"] == first["CreationDate"] < updated["LastUpdateDate"]
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]

    query = call(server.endpoint, "query", "GetMetricStream", {"Name": name})
    assert (query["_status"], query["Arn"], query["State"]) == (200, arn, "stopped")

    prefix = unique("page")
    for i in range(3):
        cw.put_metric_stream(Name=f"{prefix}-{i}", **base)
    seen, token = [], None
    while True:
        page = cw.list_metric_streams(MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [e["Name"] for e in page["Entries"]]
        assert len(page["Entries"]) <= 2
        if "NextToken" not in page:
            break
        token = page["NextToken"]
    assert [f"{prefix}-{i}" for i in range(3)] == [n for n in seen if n.startswith(prefix)]
    entry = next(e for e in cw.list_metric_streams()["Entries"] if e["Name"] == name)
    assert set(entry) == {
        "Arn",
        "CreationDate",
        "LastUpdateDate",
        "Name",
        "FirehoseArn",
        "State",
        "OutputFormat",
    }

    refusals = [
        (
            {"IncludeFilters": [{"Namespace": "A"}], "ExcludeFilters": [{"Namespace": "B"}]},
            "InvalidParameterCombination",
        ),
        ({"OutputFormat": "xml"}, "InvalidParameterValue"),
        ({"Name": "has space"}, "InvalidParameterValue"),
        ({"FirehoseArn": "arn:aws:s3:::bucket"}, "InvalidParameterValue"),
        (
            {"FirehoseArn": "arn:aws:firehose:us-east-1:111111111111:deliverystream/x"},
            "InvalidParameterValue",
        ),
        ({"RoleArn": "role"}, "InvalidParameterValue"),
        ({"IncludeFilters": [{"MetricNames": ["M"]}]}, "MissingParameter"),
        (
            {"IncludeFilters": [{"Namespace": "N", "MetricNames": [f"m{i}" for i in range(1000)]}]},
            "InvalidParameterValue",
        ),
        (
            {
                "OutputFormat": "opentelemetry1.0",
                "StatisticsConfigurations": [
                    {
                        "IncludeMetrics": [{"Namespace": "N", "MetricName": "M"}],
                        "AdditionalStatistics": ["tm99"],
                    }
                ],
            },
            "InvalidParameterValue",
        ),
        (
            {
                "StatisticsConfigurations": [
                    {
                        "IncludeMetrics": [{"Namespace": "N", "MetricName": "M"}],
                        "AdditionalStatistics": [f"p{i}" for i in range(1, 22)],
                    }
                ]
            },
            "InvalidParameterValue",
        ),
    ]
    for change, code in refusals:
        with pytest.raises(ClientError) as exc:
            cw.put_metric_stream(**{"Name": unique("bad"), **base, **change})
        assert error_of(exc) == (code, 400), change
    with pytest.raises(ClientError) as exc:  # JSON streams take tm99, not inverted bounds
        cw.put_metric_stream(
            Name=unique("tm"),
            StatisticsConfigurations=[
                {
                    "IncludeMetrics": [{"Namespace": "N", "MetricName": "M"}],
                    "AdditionalStatistics": ["tm99", "TM(90%:10%)"],
                }
            ],
            **base,
        )
    assert error_of(exc) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as exc:
        cw.list_metric_streams(MaxResults=501)
    assert error_of(exc) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as exc:
        cw.list_metric_streams(NextToken="not base64!")
    assert error_of(exc) == ("InvalidNextToken", 400)

    cw.delete_metric_stream(Name=name)
    cw.delete_metric_stream(Name=name)  # deleting what is gone succeeds
    with pytest.raises(ClientError) as exc:
        cw.get_metric_stream(Name=name)
    assert error_of(exc) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        cw.list_tags_for_resource(ResourceARN=arn)
    assert error_of(exc) == ("ResourceNotFoundException", 404)


def test_strict_mode_checks_the_role_and_all_or_nothing():
    with CloudletServer.start(auth="strict", env=ENV) as srv:
        iam, cw, fh, s3 = (srv.client(s) for s in ("iam", "cloudwatch", "firehose", "s3"))
        name_b, hose = new_hose(fh, s3)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "streams.metrics.cloudwatch.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="streamer", AssumeRolePolicyDocument=json.dumps(trust))
        ns, name, other = unique("Strict"), unique("strict"), unique("other")
        for stream in (name, other):
            cw.put_metric_stream(
                Name=stream,
                FirehoseArn=hose,
                RoleArn=role["Role"]["Arn"],
                OutputFormat="json",
                IncludeFilters=[{"Namespace": ns}],
            )
        ts, _ = previous_minute()
        cw.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": "Guarded", "Value": 1.0, "Timestamp": ts}]
        )
        time.sleep(2.0)
        assert objects(s3, name_b) == []  # the role may not write: kept and retried
        allow = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                    "Resource": hose,
                }
            ],
        }
        iam.put_role_policy(RoleName="streamer", PolicyName="fh", PolicyDocument=json.dumps(allow))
        docs = lines(s3, name_b, lambda d: len(d) >= 2)
        assert [d["metric_name"] for d in docs] == ["Guarded", "Guarded"]

        user = unique("operator")
        iam.create_user(UserName=user)
        own = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:metric-stream/{name}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["cloudwatch:StopMetricStreams", "cloudwatch:GetMetricStream"],
                    "Resource": own,
                }
            ],
        }
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        operator = srv.client(
            "cloudwatch",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        deadline = time.monotonic() + 10
        while True:  # a new key may take a moment to be known
            try:
                operator.get_metric_stream(Name=name)
                break
            except ClientError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with pytest.raises(ClientError) as exc:
            operator.stop_metric_streams(Names=[name, other])
        assert error_of(exc)[1] == 403
        assert cw.get_metric_stream(Name=name)["State"] == "running"  # all or nothing
        operator.stop_metric_streams(Names=[name])
        assert cw.get_metric_stream(Name=name)["State"] == "stopped"
        with pytest.raises(ClientError) as exc:
            operator.get_metric_stream(Name=other)
        assert error_of(exc)[1] == 403
