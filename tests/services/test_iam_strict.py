"""Strict mode with real boto3: IAM users' keys, identity and resource policies,
explicit deny, conditions, inactive keys, and IAM state surviving a restart."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.names import unique

ACCOUNT = "000000000000"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error(exc) -> tuple[str, int, str]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("iam-strict")
    srv = CloudletServer.start(auth="strict", data_dir=data)
    srv.data_dir = data  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def make_user(server, iam, name: str | None = None):
    name = name or unique("user")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]

    def client(service: str, **kw):
        return server.client(
            service,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            **kw,
        )

    return name, key, client


def test_send_message_refused_until_a_policy_is_attached(server, iam):
    queue = server.client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    name, _, client = make_user(server, iam)
    sqs = client("sqs")
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="hi")
    code, status, message = error(exc)
    assert (code, status) == ("AccessDenied", 403)
    qarn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.rsplit('/', 1)[1]}"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: "
        f"sqs:SendMessage on resource: {qarn} because no identity-based policy allows "
        "the sqs:SendMessage action"
    )
    arn = iam.create_policy(
        PolicyName=unique("send"),
        PolicyDocument=doc({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": qarn}),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    assert sqs.send_message(QueueUrl=queue, MessageBody="hi")["MessageId"]
    with pytest.raises(ClientError) as exc:
        sqs.receive_message(QueueUrl=queue)
    assert error(exc)[:2] == ("AccessDenied", 403)
    # a new default version takes effect at once
    iam.create_policy_version(
        PolicyArn=arn,
        PolicyDocument=doc({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}),
        SetAsDefault=True,
    )
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=queue, MessageBody="again")


def test_explicit_deny_beats_allow_and_groups_grant(server, iam):
    name, _, client = make_user(server, iam)
    group = unique("group")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.attach_group_policy(
        GroupName=group, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    )
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("grp"))["QueueUrl"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="no-delete",
        PolicyDocument=doc({"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"}),
    )
    with pytest.raises(ClientError) as exc:
        sqs.delete_queue(QueueUrl=url)
    code, _, message = error(exc)
    assert code == "AccessDenied" and message.endswith(
        "with an explicit deny in an identity-based policy"
    )
    iam.delete_user_policy(UserName=name, PolicyName="no-delete")
    sqs.delete_queue(QueueUrl=url)
    iam.remove_user_from_group(GroupName=group, UserName=name)
    with pytest.raises(ClientError):
        sqs.list_queues()


def test_queue_policy_grants_another_user_without_identity_policy(server, iam):
    owner_name, _, owner = make_user(server, iam)
    iam.attach_user_policy(
        UserName=owner_name, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    )
    other_name, _, other = make_user(server, iam)
    url = owner("sqs").create_queue(QueueName=unique("shared"))["QueueUrl"]
    qarn = owner("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    with pytest.raises(ClientError):
        other("sqs").send_message(QueueUrl=url, MessageBody="x")
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{other_name}"},
        "Action": "sqs:SendMessage",
        "Resource": qarn,
    }
    owner("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": doc(grant)})
    assert other("sqs").send_message(QueueUrl=url, MessageBody="x")["MessageId"]
    with pytest.raises(ClientError):
        other("sqs").receive_message(QueueUrl=url)
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": qarn}
    owner("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": doc(grant, deny)})
    with pytest.raises(ClientError) as exc:
        other("sqs").send_message(QueueUrl=url, MessageBody="x")
    assert error(exc)[2].endswith("with an explicit deny in a resource-based policy")


def test_bucket_policy_with_prefix_and_source_ip_conditions(server, iam):
    bucket = unique("bucket")
    root_s3 = server.client("s3")
    root_s3.create_bucket(Bucket=bucket)
    root_s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"a")
    root_s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"b")
    name, _, client = make_user(server, iam)
    s3 = client("s3")
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    policy = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": user_arn},
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": "public/*"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": user_arn},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/private/*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        },
    )
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="public/a.txt")
    assert error(exc)[:2] == ("AccessDenied", 403)
    root_s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="public/")
    assert [o["Key"] for o in listed["Contents"]] == ["public/a.txt"]
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket, Prefix="private/")
    assert error(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=bucket)  # no prefix: s3:prefix absent, StringLike fails
    assert s3.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"a"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="private/b.txt")
    assert error(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="public/new", Body=b"x")


def test_policy_variables_and_dynamodb_json_error(server, iam):
    name, _, client = make_user(server, iam)
    bucket = unique("homes")
    server.client("s3").create_bucket(Bucket=bucket)
    iam.put_user_policy(
        UserName=name,
        PolicyName="home",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*",
            }
        ),
    )
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key=f"home/{name}/notes", Body=b"mine")
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="home/someone-else/notes", Body=b"theirs")
    with pytest.raises(ClientError) as exc:
        client("dynamodb").list_tables()
    code, status, message = error(exc)
    assert (code, status) == ("AccessDeniedException", 400)  # DynamoDB's status for it
    assert "dynamodb:ListTables" in message


def test_inactive_keys_are_refused_and_reactivated(server, iam):
    name, key, client = make_user(server, iam)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
    client("sqs").list_queues()
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        client("sqs").list_queues()
    assert error(exc)[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    client("sqs").list_queues()
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert last["ServiceName"] == "sqs" and last["Region"] == "us-east-1"
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        client("sqs").list_queues()
    assert error(exc)[0] == "InvalidClientTokenId"


def test_get_user_and_own_keys_for_the_caller(server, iam):
    name, _, client = make_user(server, iam)
    iam.put_user_policy(
        UserName=name,
        PolicyName="self",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["iam:GetUser", "iam:ListAccessKeys"],
                "Resource": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",
            }
        ),
    )
    me = client("iam")
    assert me.get_user()["User"]["UserName"] == name
    assert len(me.list_access_keys()["AccessKeyMetadata"]) == 1


def test_state_and_keys_survive_a_restart(tmp_path):
    server = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        iam = server.client("iam")
        name, key, _ = make_user(server, iam, "survivor")
        iam.attach_user_policy(
            UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess"
        )
        role = iam.create_role(
            RoleName="kept",
            AssumeRolePolicyDocument=doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"},
                    "Action": "sts:AssumeRole",
                }
            ),
        )["Role"]
        server.client("sqs").create_queue(QueueName="kept")
        iam.put_role_policy(
            RoleName="kept",
            PolicyName="sqs",
            PolicyDocument=doc({"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}),
        )
        sts = server.client(
            "sts",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="before")["Credentials"]
    finally:
        server.stop()
    server = CloudletServer.start(auth="strict", data_dir=tmp_path)
    try:
        iam = server.client("iam")
        assert iam.get_role(RoleName="kept")["Role"]["RoleId"] == role["RoleId"]
        sqs = server.client(
            "sqs",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        assert any(u.endswith("/kept") for u in sqs.list_queues()["QueueUrls"])
        role_sqs = server.client(
            "sqs",
            aws_access_key_id=session["AccessKeyId"],
            aws_secret_access_key=session["SecretAccessKey"],
            aws_session_token=session["SessionToken"],
        )
        assert role_sqs.list_queues()["QueueUrls"]  # temporary keys outlive the restart
        with pytest.raises(ClientError):
            server.client(
                "s3",
                aws_access_key_id=key["AccessKeyId"],
                aws_secret_access_key=key["SecretAccessKey"],
            ).list_buckets()
    finally:
        server.stop()


def test_source_ip_is_the_peer_not_a_forwarded_header(server, iam):
    bucket = unique("ipbucket")
    root_s3 = server.client("s3")
    root_s3.create_bucket(Bucket=bucket)
    root_s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    name, _, client = make_user(server, iam)
    iam.put_user_policy(
        UserName=name,
        PolicyName="office-only",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ),
    )
    s3 = client("s3")

    def forge(request, **_):
        request.headers["X-Forwarded-For"] = "10.1.2.3"

    s3.meta.events.register("before-sign.s3.GetObject", forge)
    with pytest.raises(ClientError) as exc:  # the request comes from 127.0.0.1
        s3.get_object(Bucket=bucket, Key="k")
    assert error(exc)[:2] == ("AccessDenied", 403)


def test_missing_key_is_403_without_list_bucket_and_404_with_it(server, iam):
    """AWS answers a read of a missing key with 404 only to a caller who may list
    the bucket: anyone else learns nothing about which keys exist."""
    bucket = unique("bucket")
    server.client("s3").create_bucket(Bucket=bucket)
    server.client("s3").put_object(Bucket=bucket, Key="there", Body=b"x")
    name, _, client = make_user(server, iam)
    s3 = client("s3")
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=doc(read))
    assert s3.get_object(Bucket=bucket, Key="there")["Body"].read() == b"x"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error(exc) == ("AccessDenied", 403, "Access Denied")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="missing")
    assert error(exc)[:2] == ("403", 403)

    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=doc(read, listing))
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error(exc)[:2] == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="missing")
    assert error(exc)[:2] == ("404", 404)
