"""The XML-family codecs (query, ec2, rest-xml) against real botocore models.

The conformance suite covers the wire format case by case; these tests cover
what a server needs on top: round trips through botocore's own serializers
and parsers on real service models (EC2, SNS, IAM, S3, Route 53), operation
lookup errors, input validation, error documents and streaming payloads.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence

from cloudlet.core.errors import ServiceError, UnknownOperation
from cloudlet.protocols import HttpRequest, get_codec
from cloudlet.protocols.eventstream import encode_message

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

_loader = botocore.session.get_session().get_component("data_loader")
_models: dict[str, ServiceModel] = {}


def model(name: str) -> ServiceModel:
    if name not in _models:
        _models[name] = ServiceModel(_loader.load_service_model(name, "service-2"), name)
    return _models[name]


def client_request(service: str, operation: str, params: dict, protocol: str) -> HttpRequest:
    """The request botocore's client would send for ``params``."""
    op = model(service).operation_model(operation)
    ser = create_serializer(protocol).serialize_to_request(params, op)
    body = ser["body"]
    if isinstance(body, dict):
        body = percent_encode_sequence(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    query = ser.get("query_string") or ""
    if isinstance(query, dict):
        query = percent_encode_sequence(query)
    path, _, q = ser["url_path"].partition("?")
    headers = {k.lower(): v for k, v in ser["headers"].items()}
    return HttpRequest(
        method=ser["method"],
        path=path,
        query="&".join(x for x in (q, query) if x),
        headers=headers,
        body=body or b"",
        raw_headers=list(headers.items()),
    )


def roundtrip_input(service: str, operation: str, params: dict, protocol: str) -> dict:
    req = client_request(service, operation, params, protocol)
    codec = get_codec(protocol)
    op = codec.find_operation(req, model(service))
    assert op.name == operation
    return codec.parse(req, op)


def client_parse(protocol: str, resp: Any, shape: Any) -> dict:
    headers = HeadersDict()
    for k, v in resp.headers:
        headers[k] = v
    raw = {"status_code": resp.status, "headers": headers, "body": resp.body}
    return create_parser(protocol).parse(raw, shape)


def roundtrip_output(service: str, operation: str, result: dict, protocol: str) -> dict:
    op = model(service).operation_model(operation)
    resp = get_codec(protocol).serialize(op, result, "req-1")
    parsed = client_parse(protocol, resp, op.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    return parsed


def error_parse(
    service: str, operation: str | None, error: ServiceError, protocol: str
) -> tuple[dict, Any]:
    svc = model(service)
    op = svc.operation_model(operation) if operation else None
    resp = get_codec(protocol).serialize_error(svc, op, error, "req-9")
    return client_parse(protocol, resp, op.output_shape if op else None), resp


def form(body: str, method: str = "POST", query: str = "") -> HttpRequest:
    return HttpRequest(
        method=method,
        path="/",
        query=query,
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=body.encode(),
    )


# -- query ---------------------------------------------------------------------


def test_query_roundtrip_sns_publish() -> None:
    params = {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Message": "hi & <there> +%",
        "MessageAttributes": {
            "a": {"DataType": "String", "StringValue": "x y"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }
    assert roundtrip_input("sns", "Publish", params, "query") == params


def test_query_roundtrip_cloudwatch_metric_data() -> None:
    params = {
        "Namespace": "App",
        "MetricData": [
            {
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Host", "Value": "a"}],
                "Timestamp": NOW,
                "Value": 1.5,
                "Values": [1.0, 2.0],
                "StorageResolution": 60,
            }
        ],
    }
    assert roundtrip_input("cloudwatch", "PutMetricData", params, "query") == params


def test_query_output_with_result_wrapper_and_map() -> None:
    result = {"Attributes": {"Policy": '{"a": 1}\r\n<&>', "Owner": "1"}}
    assert roundtrip_output("sns", "GetTopicAttributes", result, "query") == result
    user = {
        "User": {
            "Path": "/",
            "UserName": "bob",
            "UserId": "AID",
            "Arn": "arn:aws:iam::1:user/bob",
            "CreateDate": NOW,
            "Tags": [{"Key": "a", "Value": "b"}],
        }
    }
    assert roundtrip_output("iam", "GetUser", user, "query") == user


def test_query_get_request_reads_query_string() -> None:
    codec = get_codec("query")
    req = form("", method="GET", query="Action=GetUser&Version=2010-05-08&UserName=bob")
    op = codec.find_operation(req, model("iam"))
    assert op.name == "GetUser"
    assert codec.parse(req, op) == {"UserName": "bob"}


def test_query_unknown_and_missing_action() -> None:
    codec = get_codec("query")
    with pytest.raises(UnknownOperation) as exc:
        codec.find_operation(form("Action=Nope&Version=2010-05-08"), model("iam"))
    assert (exc.value.code, exc.value.status) == ("InvalidAction", 400)
    with pytest.raises(UnknownOperation) as exc:
        codec.find_operation(form("Version=2010-05-08"), model("iam"))
    assert (exc.value.code, exc.value.status) == ("MissingAction", 400)


@pytest.mark.parametrize(
    "body,code",
    [
        ("PolicyArn=arn:p&VersionId=v1&MaxItems=ten", "InvalidParameterValue"),
        ("Marker=m", "MissingParameter"),
    ],
)
def test_query_validation_errors(body: str, code: str) -> None:
    codec = get_codec("query")
    op = model("iam").operation_model("ListPolicyVersions")
    with pytest.raises(ServiceError) as exc:
        codec.parse(form(body), op)
    assert (exc.value.code, exc.value.status) == (code, 400)


def test_query_bad_boolean_and_timestamp_are_invalid_values() -> None:
    codec = get_codec("query")
    op = model("iam").operation_model("ListPolicies")
    with pytest.raises(ServiceError) as exc:
        codec.parse(form("OnlyAttached=yes"), op)
    assert exc.value.code == "InvalidParameterValue"
    assert "OnlyAttached" in exc.value.message
    op = model("cloudwatch").operation_model("GetMetricStatistics")
    body = (
        "Namespace=N&MetricName=M&Period=60&Statistics.member.1=Sum"
        "&StartTime=yesterday&EndTime=2024-01-01T00:00:00Z"
    )
    with pytest.raises(ServiceError) as exc:
        codec.parse(form(body), op)
    assert exc.value.code == "InvalidParameterValue"


def test_query_ignores_unknown_members() -> None:
    op = model("iam").operation_model("GetUser")
    assert get_codec("query").parse(form("UserName=bob&Bogus.1=x"), op) == {"UserName": "bob"}


def test_query_error_document_and_code_choice() -> None:
    # Modelled error with a code trait: the trait is the wire code.
    parsed, resp = error_parse(
        "sns", "Publish", ServiceError("NotFoundException", "no topic", 404), "query"
    )
    assert parsed["Error"] == {"Type": "Sender", "Code": "NotFound", "Message": "no topic"}
    assert resp.status == 404
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    # The legacy query code wins over everything.
    err = ServiceError("QueueDoesNotExist", "gone", query_code="AWS.SimpleQueueService.Gone")
    parsed, _ = error_parse("sns", "Publish", err, "query")
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.Gone"
    # Server faults are Receiver errors.
    parsed, _ = error_parse("sns", None, ServiceError("InternalFailure", "boom", 500), "query")
    assert parsed["Error"]["Type"] == "Receiver"


# -- ec2 -----------------------------------------------------------------------


def test_ec2_roundtrip_run_instances() -> None:
    params = {
        "ImageId": "ami-1",
        "MinCount": 1,
        "MaxCount": 2,
        "SecurityGroupIds": ["sg-1", "sg-2"],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}, {"Key": "c"}]}
        ],
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}}
        ],
        "DisableApiTermination": False,
    }
    assert roundtrip_input("ec2", "RunInstances", params, "ec2") == params
    filters = {"Filters": [{"Name": "tag:Name", "Values": ["a", "b"]}], "InstanceIds": ["i-1"]}
    assert roundtrip_input("ec2", "DescribeInstances", filters, "ec2") == filters


def test_ec2_output_and_error() -> None:
    result = {
        "Reservations": [
            {
                "ReservationId": "r-1",
                "Instances": [
                    {
                        "InstanceId": "i-1",
                        "LaunchTime": NOW,
                        "State": {"Code": 16, "Name": "running"},
                        "Tags": [{"Key": "k", "Value": "v"}],
                    }
                ],
            }
        ]
    }
    assert roundtrip_output("ec2", "DescribeInstances", result, "ec2") == result
    parsed, resp = error_parse(
        "ec2", "DescribeInstances", ServiceError("InvalidInstanceID.NotFound", "nope"), "ec2"
    )
    assert parsed["Error"] == {"Code": "InvalidInstanceID.NotFound", "Message": "nope"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert resp.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors>')


def test_ec2_missing_required_member() -> None:
    op = model("ec2").operation_model("TerminateInstances")
    with pytest.raises(ServiceError) as exc:
        get_codec("ec2").parse(form("Action=TerminateInstances&DryRun=true"), op)
    assert (exc.value.code, exc.value.status) == ("MissingParameter", 400)
    assert "InstanceId" in exc.value.message


# -- rest-xml ------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation,params",
    [
        ("GetObject", {"Bucket": "b", "Key": "a/b c.txt", "Range": "bytes=0-1"}),
        ("ListObjectsV2", {"Bucket": "b", "Prefix": "p/", "MaxKeys": 10}),
        (
            "CompleteMultipartUpload",
            {
                "Bucket": "b",
                "Key": "k",
                "UploadId": "u",
                "MultipartUpload": {"Parts": [{"ETag": '"e1"', "PartNumber": 1}]},
            },
        ),
        (
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True}},
        ),
        (
            "PutObjectAcl",
            {
                "Bucket": "b",
                "Key": "k",
                "AccessControlPolicy": {
                    "Grants": [
                        {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "READ"}
                    ],
                    "Owner": {"ID": "abc"},
                },
            },
        ),
        ("UploadPart", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 3, "Body": b"x"}),
    ],
)
def test_rest_xml_s3_inputs(operation: str, params: dict) -> None:
    assert roundtrip_input("s3", operation, params, "rest-xml") == params


def test_rest_xml_route53_input_and_outputs() -> None:
    params = {
        "HostedZoneId": "Z1",
        "ChangeBatch": {
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "a.example.com",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "1.2.3.4"}],
                    },
                }
            ]
        },
    }
    assert roundtrip_input("route53", "ChangeResourceRecordSets", params, "rest-xml") == params
    zones = {
        "HostedZones": [{"Id": "/hostedzone/Z1", "Name": "example.com.", "CallerReference": "r"}],
        "IsTruncated": False,
        "MaxItems": "100",
        "Marker": "",
    }
    assert roundtrip_output("route53", "ListHostedZones", zones, "rest-xml") == zones


def test_rest_xml_s3_outputs() -> None:
    listing = {
        "Contents": [{"Key": "a", "LastModified": NOW, "ETag": '"e"', "Size": 3}],
        "Name": "b",
        "IsTruncated": False,
        "CommonPrefixes": [{"Prefix": "p/"}],
    }
    assert roundtrip_output("s3", "ListObjectsV2", listing, "rest-xml") == listing
    acl = {
        "Grants": [
            {
                "Grantee": {"Type": "CanonicalUser", "ID": "abc", "DisplayName": "me"},
                "Permission": "READ",
            }
        ],
        "Owner": {"ID": "abc"},
    }
    assert roundtrip_output("s3", "GetObjectAcl", acl, "rest-xml") == acl
    head = {"ETag": '"e"', "VersionId": "v"}
    assert roundtrip_output("s3", "PutObject", head, "rest-xml") == head


def test_rest_xml_s3_errors() -> None:
    err = ServiceError("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": "k"})
    parsed, resp = error_parse("s3", "GetObject", err, "rest-xml")
    assert parsed["Error"] == {
        "Code": "NoSuchKey",
        "Message": "The specified key does not exist.",
        "Key": "k",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert b"<Error><Code>NoSuchKey</Code>" in resp.body
    # HEAD responses have no body: the client falls back to the status code.
    parsed, resp = error_parse("s3", "HeadObject", ServiceError("NoSuchKey", "", 404), "rest-xml")
    assert resp.body == b""
    assert parsed["Error"]["Code"] == "404"


def test_rest_xml_other_services_use_error_response() -> None:
    err = ServiceError("NoSuchHostedZone", "No hosted zone", 404)
    parsed, resp = error_parse("route53", "GetHostedZone", err, "rest-xml")
    assert parsed["Error"]["Code"] == "NoSuchHostedZone"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert b"<ErrorResponse" in resp.body


def test_rest_xml_unknown_operation_and_bad_xml() -> None:
    codec = get_codec("rest-xml")
    req = HttpRequest(method="PATCH", path="/b/k")
    with pytest.raises(UnknownOperation) as exc:
        codec.find_operation(req, model("s3"))
    assert (exc.value.code, exc.value.status) == ("MethodNotAllowed", 405)
    op = model("s3").operation_model("PutBucketTagging")
    req = HttpRequest(method="PUT", path="/b", query="tagging", body=b"<Tagging><TagSet>")
    with pytest.raises(ServiceError) as exc:
        codec.parse(req, op)
    assert (exc.value.code, exc.value.status) == ("MalformedXML", 400)


def test_rest_xml_streams_pass_through() -> None:
    async def chunks():
        yield b"a"
        yield b"b"

    codec = get_codec("rest-xml")
    op = model("s3").operation_model("PutObject")
    stream = chunks()
    req = HttpRequest(method="PUT", path="/b/k", stream=stream)
    assert codec.parse(req, op)["Body"] is stream

    body = chunks()
    resp = codec.serialize(model("s3").operation_model("GetObject"), {"Body": body}, "r")
    assert resp.body is body


def _decode_messages(data: bytes) -> list[tuple[dict, bytes]]:
    out = []
    while data:
        total, hlen = struct.unpack(">II", data[:8])
        msg, data = data[:total], data[total:]
        assert struct.unpack(">I", msg[8:12])[0] == zlib.crc32(msg[:8])
        assert struct.unpack(">I", msg[-4:])[0] == zlib.crc32(msg[:-4])
        headers, raw, pos = {}, msg[12 : 12 + hlen], 0
        while pos < len(raw):
            n = raw[pos]
            name = raw[pos + 1 : pos + 1 + n].decode()
            pos += 1 + n
            kind = raw[pos]
            pos += 1
            assert kind == 7
            (size,) = struct.unpack(">H", raw[pos : pos + 2])
            headers[name] = raw[pos + 2 : pos + 2 + size].decode()
            pos += 2 + size
        out.append((headers, msg[12 + hlen : -4]))
    return out


def test_rest_xml_event_stream_from_async_source() -> None:
    op = model("s3").operation_model("SelectObjectContent")

    async def events():
        yield {"Records": {"Payload": b"1,2\n"}}
        yield {"End": {}}

    async def collect(body: Any) -> bytes:
        return b"".join([chunk async for chunk in body])

    resp = get_codec("rest-xml").serialize(op, {"Payload": events()}, "r")
    messages = _decode_messages(asyncio.run(collect(resp.body)))
    assert [h[":event-type"] for h, _ in messages] == ["Records", "End"]
    assert messages[0][1] == b"1,2\n"
    assert encode_message([], b"")[:8] == struct.pack(">II", 16, 0)


def test_rfc822_header_text_is_the_same_from_the_cache() -> None:
    """``format_timestamp`` keeps recent RFC 822 texts: the cached answer is the one
    ``email.utils`` gives, for aware and naive (UTC) datetimes alike."""
    from datetime import timedelta, timezone
    from email.utils import format_datetime

    from cloudlet.protocols.values import format_timestamp

    plus2 = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2024, 1, 2, 3, 4, 5)
    for value in (NOW, plus2, naive, NOW, plus2, naive):
        assert format_timestamp(value, "rfc822") == format_datetime(NOW, usegmt=True)
    assert format_timestamp(NOW, "iso8601") == "2024-01-02T03:04:05Z"
