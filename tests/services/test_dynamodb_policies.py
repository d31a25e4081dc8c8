"""DynamoDB resource-based policies with real boto3: Put/Get/DeleteResourcePolicy on tables
and streams, revision ids, every error, CreateTable's ResourcePolicy, DeleteTable, a
restart, and strict mode enforcing them (index requests use the table's policy)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.dynamodb_helpers import index, make_table, tname
from tests.services.names import unique

ACCOUNT = "000000000000"
REGION = "us-east-1"
INVALID = "One or more parameter values were invalid: "


def arn_of(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(
    resource: str, action: str | list[str] = "dynamodb:GetItem", who: str = ACCOUNT, **kw
) -> dict:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": who},
        "Action": action,
        "Resource": resource,
        **kw,
    }


def error(exc) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture
def ddb(aws_client):
    return aws_client("dynamodb")


def test_put_get_delete_and_revision_ids(ddb):
    name = make_table(ddb, tname("pol"))
    arn = arn_of(name)
    pretty = json.dumps(
        {
            "Statement": [
                {
                    "Resource": [arn],
                    "Action": ["dynamodb:GetItem"],
                    "Principal": {"AWS": [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"]},
                    "Effect": "allow",
                    "Sid": "Read",
                }
            ],
            "Version": "2012-10-17",
        },
        indent=2,
    )
    first = ddb.put_resource_policy(ResourceArn=arn, Policy=pretty)["RevisionId"]
    assert len(first) == 13 and first.isdigit()
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert got["RevisionId"] == first
    # DynamoDB's canonical form: minified, fixed key order, 1-element lists as strings,
    # account ids as root ARNs (de-duplicated), "allow" as "Allow".
    assert got["Policy"] == (
        '{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow",'
        f'"Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"dynamodb:GetItem",'
        f'"Resource":"{arn}"}}]}}'
    )
    # An equivalent document is a no-op (same id); the Get output is a fixpoint.
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=got["Policy"])["RevisionId"] == first
    second = ddb.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn, "dynamodb:Query")))[
        "RevisionId"
    ]
    assert int(second) > int(first)
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == second
    # Delete answers the removed policy's id; a repeated delete the deletion's own id.
    assert ddb.delete_resource_policy(ResourceArn=arn)["RevisionId"] == second
    with pytest.raises(ClientError) as exc:
        ddb.get_resource_policy(ResourceArn=arn)
    assert error(exc) == (
        "PolicyNotFoundException",
        f"Resource-based policy not found for the provided ResourceArn: {arn}",
    )
    again = ddb.delete_resource_policy(ResourceArn=arn)["RevisionId"]
    assert int(again) > int(second)
    # A table that never had a policy: Delete is an idempotent, empty 200.
    other = make_table(ddb, tname("pol"))
    assert "RevisionId" not in ddb.delete_resource_policy(ResourceArn=arn_of(other))


def test_version_less_document_reads_back_with_the_default(ddb):
    name = make_table(ddb, tname("pol"))
    arn = arn_of(name)
    bare = json.dumps(
        {
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": ACCOUNT},
                "Action": "dynamodb:GetItem",
                "Resource": arn,
            }
        }
    )
    rev = ddb.put_resource_policy(ResourceArn=arn, Policy=bare)["RevisionId"]
    text = ddb.get_resource_policy(ResourceArn=arn)["Policy"]
    assert json.loads(text)["Version"] == "2008-10-17"
    assert isinstance(json.loads(text)["Statement"], list)
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=bare)["RevisionId"] == rev
    # As on AWS, the filled-in Version makes a different document.
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=text)["RevisionId"] != rev


def test_expected_revision_id(ddb):
    name = make_table(ddb, tname("pol"))
    arn = arn_of(name)
    prefix = "Resource-based policy not found for the provided ResourceArn: "
    with pytest.raises(ClientError) as exc:
        ddb.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn)), ExpectedRevisionId="123")
    assert error(exc) == (
        "PolicyNotFoundException",
        f"{prefix}Requested update for policy with revision id 123, but table {name} has no "
        "associated policy.",
    )
    first = ddb.put_resource_policy(
        ResourceArn=arn, Policy=doc(grant(arn)), ExpectedRevisionId="NO_POLICY"
    )["RevisionId"]
    with pytest.raises(ClientError) as exc:
        ddb.put_resource_policy(
            ResourceArn=arn,
            Policy=doc(grant(arn, "dynamodb:Query")),
            ExpectedRevisionId="NO_POLICY",
        )
    assert error(exc) == (
        "PolicyNotFoundException",
        f"{prefix}Requested policy update expecting none to be present for table {name}, but a "
        f"policy exists with revision id {first}.",
    )
    second = ddb.put_resource_policy(
        ResourceArn=arn, Policy=doc(grant(arn, "dynamodb:Query")), ExpectedRevisionId=first
    )["RevisionId"]
    stale = (
        "PolicyNotFoundException",
        f"{prefix}Requested update for policy with revision id {first}, but the policy "
        f"associated to target table {name} has revision id {second}.",
    )
    with pytest.raises(ClientError) as exc:
        ddb.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn)), ExpectedRevisionId=first)
    assert error(exc) == stale
    with pytest.raises(ClientError) as exc:
        ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=first)
    assert error(exc) == stale
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == second
    deleted = ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=second)
    assert deleted["RevisionId"] == second
    with pytest.raises(ClientError) as exc:
        ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=second)
    assert error(exc) == (
        "PolicyNotFoundException",
        f"{prefix}Requested update for policy with revision id {second}, but table {name} has "
        "no associated policy.",
    )


def test_resource_arn_must_name_a_table_or_stream(ddb):
    name = make_table(ddb, tname("pol"), gsis=[index("byg", ("g", "S"))])
    arn = arn_of(name)
    cases = {
        name: ("ValidationException", f"{INVALID}ARNs must start with 'arn:': {name}"),
        arn.replace(ACCOUNT, "111122223333"): (
            "ValidationException",
            "This action is only supported by accounts that match the resource owner\u2019s "
            "account.",
        ),
        arn.replace(REGION, "eu-west-1"): (
            "ValidationException",
            f"{INVALID}Invalid resource Arn: {arn.replace(REGION, 'eu-west-1')}",
        ),
        f"{arn}/index/byg": (
            "ValidationException",
            f"{INVALID}Invalid resource arn provided, only table or stream is accepted. "
            f"Provided resource arn: {arn}/index/byg",
        ),
        f"{arn}/backup/01700000000000-abcd": (
            "ValidationException",
            f"{INVALID}Provided Arn is not a DynamoDB resource arn: {arn}/backup/01700000000000-abcd",
        ),
        arn_of(f"{name}-missing"): (
            "ResourceNotFoundException",
            f"Requested resource not found: Table: {name}-missing not found",
        ),
        f"{arn}/stream/2000-01-01T00:00:00.000": (
            "ResourceNotFoundException",
            f"Requested resource not found: Stream: 2000-01-01T00:00:00.000 not found for "
            f"Table: {name}",
        ),
    }
    for resource, expected in cases.items():
        for call in (
            lambda r: ddb.get_resource_policy(ResourceArn=r),
            lambda r: ddb.put_resource_policy(ResourceArn=r, Policy=doc(grant(arn))),
            lambda r: ddb.delete_resource_policy(ResourceArn=r),
        ):
            with pytest.raises(ClientError) as exc:
                call(resource)
            assert error(exc) == expected, resource


def test_policy_documents_are_validated(ddb):
    name = make_table(ddb, tname("pol"))
    arn = arn_of(name)
    bad_principal = grant(arn, who="bob")
    no_resource = {k: v for k, v in grant(arn).items() if k != "Resource"}
    cases = [
        ("{not json", f"{INVALID}Invalid policy document: This policy contains invalid Json"),
        ("", f"{INVALID}Invalid policy document: This policy contains invalid Json"),
        (
            json.dumps({"Version": "2012-10-17", "Statement": []}),
            f"{INVALID}Invalid policy document: Could not parse the policy: Statement is empty!",
        ),
        (doc(no_resource), f"{INVALID}Invalid policy document: Missing required field Resource"),
        (
            doc(grant(arn, Sid="a"), grant(arn, "dynamodb:Query", Sid="a")),
            f"{INVALID}Invalid policy document: The Statement Ids in the policy are not unique",
        ),
        (
            doc(grant(arn, ["dynamodb:GetRecords", "dynamodb:DescribeStream"])),
            f"{INVALID}Invalid policy document: The following action names are invalid: "
            '"dynamodb:GetRecords", "dynamodb:DescribeStream"',
        ),
        (doc(bad_principal), f"{INVALID}Invalid principal in policy document."),
        (
            doc({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": arn}),
            f"{INVALID}Invalid policy document: Missing required field Principal",
        ),
        (
            doc(grant(arn, who="*")),
            "Resource-based policy grants unbounded access in one or more elements. Please "
            "revise the policy to ensure least-privilege form of access",
        ),
        (
            doc({**grant(arn), "Principal": "*"}),
            "Resource-based policy grants unbounded access in one or more elements. Please "
            "revise the policy to ensure least-privilege form of access",
        ),
        (
            doc(grant(arn)) + " " * 20480,
            f"{INVALID}Maximum policy size of 20480 bytes exceeded",
        ),
    ]
    for text, message in cases:
        with pytest.raises(ClientError) as exc:
            ddb.put_resource_policy(ResourceArn=arn, Policy=text)
        assert error(exc) == ("ValidationException", message), text[:80]
    with pytest.raises(ClientError):
        ddb.get_resource_policy(ResourceArn=arn)  # nothing was stored
    # Whitespace counts towards the limit but is not kept; "*" pinned by a trusted
    # condition key is not public; a Deny to "*" is fine.
    padded = doc(grant(arn)) + " " * (20480 - len(doc(grant(arn))))
    ddb.put_resource_policy(ResourceArn=arn, Policy=padded)
    assert len(ddb.get_resource_policy(ResourceArn=arn)["Policy"]) < 400
    pinned = grant(arn, who="*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})
    deny = {"Effect": "Deny", "Principal": "*", "Action": "dynamodb:DeleteItem", "Resource": arn}
    ddb.put_resource_policy(ResourceArn=arn, Policy=doc(pinned, deny))


def test_confirm_remove_self_resource_access(ddb):
    name = make_table(ddb, tname("pol"))
    arn = arn_of(name)
    lock = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "dynamodb:PutResourcePolicy",
        "Resource": arn,
    }
    for confirm in ({}, {"ConfirmRemoveSelfResourceAccess": False}):
        with pytest.raises(ClientError) as exc:
            ddb.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn), lock), **confirm)
        assert error(exc) == (
            "AccessDeniedException",
            "The new resource policy will not allow you to update the resource policy in the "
            "future.",
        )
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # A Deny on DeleteResourcePolicy alone does not trigger the check (as on AWS).
    only_delete = {**lock, "Action": "dynamodb:DeleteResourcePolicy"}
    ddb.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn), only_delete))
    rev = ddb.put_resource_policy(
        ResourceArn=arn, Policy=doc(grant(arn), lock), ConfirmRemoveSelfResourceAccess=True
    )["RevisionId"]
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == rev


def test_stream_policy_is_its_own_slot(ddb):
    name = make_table(
        ddb,
        tname("pol"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    arn = arn_of(name)
    stream = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    with pytest.raises(ClientError) as exc:
        ddb.get_resource_policy(ResourceArn=stream)
    assert error(exc) == (
        "PolicyNotFoundException",
        f"Resource-based policy not found for the provided ResourceArn: {stream}",
    )
    reader = grant(stream, ["dynamodb:DescribeStream", "dynamodb:GetRecords"])
    srev = ddb.put_resource_policy(ResourceArn=stream, Policy=doc(reader))["RevisionId"]
    assert ddb.get_resource_policy(ResourceArn=stream)["RevisionId"] == srev
    with pytest.raises(ClientError) as exc:
        ddb.get_resource_policy(ResourceArn=arn)
    assert error(exc)[0] == "PolicyNotFoundException"
    trev = ddb.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn)))["RevisionId"]
    assert trev != srev
    assert ddb.delete_resource_policy(ResourceArn=stream)["RevisionId"] == srev
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == trev


def test_create_table_with_resource_policy_and_delete_table_drops_it(ddb):
    name = tname("pol")
    arn = arn_of(name)
    policy = doc(grant(arn), grant(f"{arn}/index/*", "dynamodb:Query"))
    make_table(ddb, name, ResourcePolicy=policy)
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert json.loads(got["Policy"])["Statement"][1]["Resource"] == f"{arn}/index/*"
    assert ddb.describe_table(TableName=name)["Table"]["TableName"] == name
    # A bad policy refuses the whole CreateTable: no table is left behind.
    bad = tname("pol")
    with pytest.raises(ClientError) as exc:
        make_table(ddb, bad, ResourcePolicy="{nope")
    assert error(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ddb.describe_table(TableName=bad)
    assert error(exc)[0] == "ResourceNotFoundException"
    ddb.delete_table(TableName=name)
    with pytest.raises(ClientError) as exc:
        ddb.get_resource_policy(ResourceArn=arn)
    assert error(exc) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Table: {name} not found",
    )
    make_table(ddb, name)  # same name, new table: no policy carried over
    with pytest.raises(ClientError) as exc:
        ddb.get_resource_policy(ResourceArn=arn)
    assert error(exc)[0] == "PolicyNotFoundException"
    assert "RevisionId" not in ddb.delete_resource_policy(ResourceArn=arn)


def test_policies_survive_a_kill(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = server.client("dynamodb")
        make_table(
            ddb, "kept", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
        )
        make_table(ddb, "dropped", ResourcePolicy=doc(grant(arn_of("dropped"))))
        stream = ddb.describe_table(TableName="kept")["Table"]["LatestStreamArn"]
        rev = ddb.put_resource_policy(
            ResourceArn=arn_of("kept"), Policy=doc(grant(arn_of("kept")))
        )["RevisionId"]
        srev = ddb.put_resource_policy(
            ResourceArn=stream, Policy=doc(grant(stream, "dynamodb:GetRecords"))
        )["RevisionId"]
        text = ddb.get_resource_policy(ResourceArn=arn_of("kept"))["Policy"]
        ddb.delete_table(TableName="dropped")
    finally:
        server.kill()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        ddb = server.client("dynamodb")
        got = ddb.get_resource_policy(ResourceArn=arn_of("kept"))
        assert (got["Policy"], got["RevisionId"]) == (text, rev)
        assert ddb.get_resource_policy(ResourceArn=stream)["RevisionId"] == srev
        newer = ddb.put_resource_policy(
            ResourceArn=arn_of("kept"), Policy=doc(grant(arn_of("kept"), "dynamodb:Query"))
        )["RevisionId"]
        assert int(newer) > max(int(rev), int(srev))
        make_table(ddb, "dropped")
        with pytest.raises(ClientError) as exc:
            ddb.get_resource_policy(ResourceArn=arn_of("dropped"))
        assert error(exc)[0] == "PolicyNotFoundException"
    finally:
        server.stop()


# --------------------------------------------------------------------------- strict mode


@pytest.fixture(scope="module")
def strict(strict_server):
    return strict_server


def make_user(server: CloudletServer):
    """An IAM user with no policy: (user ARN, a client factory with the user's keys)."""
    iam = server.client("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]

    def client(service: str):
        return server.client(
            service,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )

    return name, f"arn:aws:iam::{ACCOUNT}:user/{name}", client


def denied(exc) -> str:
    code, message = error(exc)
    assert (code, exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDeniedException",
        400,
    )
    return message


def test_strict_resource_policy_grants_a_user_without_identity_policy(strict):
    root = strict.client("dynamodb")
    name = make_table(root, tname("strict"), gsis=[index("byg", ("g", "S"))])
    arn = arn_of(name)
    root.put_item(TableName=name, Item={"pk": {"S": "a"}, "g": {"S": "x"}})
    _, user_arn, client = make_user(strict)
    ddb = client("dynamodb")
    key = {"pk": {"S": "a"}}
    with pytest.raises(ClientError) as exc:
        ddb.get_item(TableName=name, Key=key)
    assert denied(exc) == (
        f"User: {user_arn} is not authorized to perform: dynamodb:GetItem on resource: {arn} "
        "because no identity-based policy allows the dynamodb:GetItem action"
    )
    root.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn, who=user_arn)))
    assert ddb.get_item(TableName=name, Key=key)["Item"]["g"] == {"S": "x"}
    with pytest.raises(ClientError):
        ddb.put_item(TableName=name, Item={"pk": {"S": "b"}})
    # A query on the index acts on the index's ARN, judged by the table's policy.
    query = {
        "TableName": name,
        "IndexName": "byg",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "x"}},
    }
    with pytest.raises(ClientError) as exc:
        ddb.query(**query)
    assert f"on resource: {arn}/index/byg " in denied(exc)
    root.put_resource_policy(
        ResourceArn=arn,
        Policy=doc(grant(arn, who=user_arn), grant(f"{arn}/index/*", "dynamodb:Query", user_arn)),
    )
    assert ddb.query(**query)["Count"] == 1
    with pytest.raises(ClientError):
        ddb.query(
            TableName=name,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "a"}},
        )  # the table itself: not granted
    root.delete_resource_policy(ResourceArn=arn)
    with pytest.raises(ClientError):
        ddb.get_item(TableName=name, Key=key)


def test_strict_resource_policy_deny_beats_identity_allow(strict):
    root = strict.client("dynamodb")
    name = make_table(root, tname("strict"))
    arn = arn_of(name)
    user, user_arn, client = make_user(strict)
    strict.client("iam").attach_user_policy(
        UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
    )
    ddb = client("dynamodb")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": user_arn},
        "Action": "dynamodb:GetItem",
        "Resource": arn,
    }
    root.put_resource_policy(ResourceArn=arn, Policy=doc(deny))
    with pytest.raises(ClientError) as exc:
        ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert denied(exc) == (
        f"User: {user_arn} is not authorized to perform: dynamodb:GetItem on resource: {arn} "
        "with an explicit deny in a resource-based policy"
    )
    assert ddb.put_item(TableName=name, Item={"pk": {"S": "b"}}) is not None
    # The policy operations are themselves governed by the policy.
    lock = {**deny, "Action": "dynamodb:PutResourcePolicy"}
    root.put_resource_policy(
        ResourceArn=arn, Policy=doc(deny, lock), ConfirmRemoveSelfResourceAccess=True
    )
    with pytest.raises(ClientError) as exc:
        ddb.put_resource_policy(ResourceArn=arn, Policy=doc(grant(arn)))
    assert "dynamodb:PutResourcePolicy" in denied(exc)


def test_strict_stream_policy_grants_stream_reads(strict):
    root = strict.client("dynamodb")
    name = make_table(
        root,
        tname("strict"),
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    root.put_item(TableName=name, Item={"pk": {"S": "a"}})
    stream = root.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    _, user_arn, client = make_user(strict)
    streams = client("dynamodbstreams")
    with pytest.raises(ClientError) as exc:
        streams.describe_stream(StreamArn=stream)
    assert f"dynamodb:DescribeStream on resource: {stream} " in denied(exc)
    reads = ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"]
    root.put_resource_policy(ResourceArn=stream, Policy=doc(grant(stream, reads, user_arn)))
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]
    it = streams.get_shard_iterator(
        StreamArn=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert len(streams.get_records(ShardIterator=it)["Records"]) == 1
    with pytest.raises(ClientError):
        client("dynamodb").get_item(TableName=name, Key={"pk": {"S": "a"}})  # table: not granted


def test_strict_create_table_with_a_policy_also_needs_put_resource_policy(strict):
    """AWS's dependent action: CreateTable's ResourcePolicy is a PutResourcePolicy too."""
    user, user_arn, client = make_user(strict)
    iam = strict.client("iam")
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:CreateTable", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="create", PolicyDocument=json.dumps(allow))
    ddb = client("dynamodb")
    name = tname("dependent")
    policy = doc(grant(arn_of(name)))
    with pytest.raises(ClientError) as exc:
        make_table(ddb, name, ResourcePolicy=policy)
    assert denied(exc) == (
        f"User: {user_arn} is not authorized to perform: dynamodb:PutResourcePolicy on "
        f"resource: {arn_of(name)} because no identity-based policy allows the "
        "dynamodb:PutResourcePolicy action"
    )
    assert name not in strict.client("dynamodb").list_tables()["TableNames"]
    make_table(ddb, tname("dependent"))  # without a policy, CreateTable alone is enough
    allow["Statement"][0]["Action"] = ["dynamodb:CreateTable", "dynamodb:PutResourcePolicy"]
    iam.put_user_policy(UserName=user, PolicyName="create", PolicyDocument=json.dumps(allow))
    make_table(ddb, name, ResourcePolicy=policy)
    got = strict.client("dynamodb").get_resource_policy(ResourceArn=arn_of(name))
    assert json.loads(got["Policy"])["Statement"][0]["Action"] == "dynamodb:GetItem"
