"""Layer version permissions: another account uses a layer version only as its policy grants.

Two accounts are two 12-digit access keys (open mode tells accounts apart by key); the
grant is needed across accounts in every mode, as AWS needs it. Strict mode adds the
caller's own identity policies: building a function on a layer needs
``lambda:GetLayerVersion`` on the version.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services import lambda_helpers
from tests.services.lambda_helpers import invoke_json, python_function, zip_of
from tests.services.names import unique
from tests.services.test_iam_strict import doc, make_user

OWNER, OTHER = "111111111111", "222222222222"
ROLE = f"arn:aws:iam::{OTHER}:role/lambda-role"
LAYER_ZIP = zip_of({"python/shared_lib.py": "GREETING = 'from a shared layer'\n"})
USES_LAYER = "import shared_lib\ndef handler(event, context):\n    return shared_lib.GREETING\n"

lambda_server = lambda_helpers.lambda_server


def _client(server: CloudletServer, account: str):
    return server.client("lambda", aws_access_key_id=account)


def _error(exc) -> tuple[str, int, str]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def _publish(lam, name: str | None = None) -> dict:
    return lam.publish_layer_version(
        LayerName=name or unique("shared"),
        Content={"ZipFile": LAYER_ZIP},
        CompatibleRuntimes=["python3.12"],
    )


def _denied(arn: str, action: str = "lambda:GetLayerVersion") -> str:
    return (
        f"User: arn:aws:iam::{OTHER}:root is not authorized to perform: {action} on resource: "
        f"{arn} because no resource-based policy allows the {action} action"
    )


def test_another_account_uses_a_version_only_while_its_policy_grants_it(lambda_server):
    owner, other = _client(lambda_server, OWNER), _client(lambda_server, OTHER)
    layer = _publish(owner)
    arn = layer["LayerVersionArn"]
    # Without a grant another account can neither read the version nor build on it.
    with pytest.raises(ClientError) as exc:
        other.get_layer_version_by_arn(Arn=arn)
    assert _error(exc) == ("AccessDeniedException", 403, _denied(arn))
    with pytest.raises(ClientError) as exc:
        other.get_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)
    assert _error(exc)[:2] == ("AccessDeniedException", 403)
    name = unique("borrower")
    with pytest.raises(ClientError) as exc:
        python_function(other, name, USES_LAYER, Role=ROLE, Layers=[arn])
    assert _error(exc) == ("AccessDeniedException", 403, _denied(arn))
    # An organization grant matches no one (cloudlet has no Organizations).
    owner.add_layer_version_permission(
        LayerName=layer["LayerArn"],
        VersionNumber=1,
        StatementId="org",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-a1b2c3d4e5",
    )
    with pytest.raises(ClientError):
        other.get_layer_version_by_arn(Arn=arn)
    # Granting the account lets it read the version and use it.
    added = owner.add_layer_version_permission(
        LayerName=layer["LayerArn"],
        VersionNumber=1,
        StatementId="xaccount",
        Action="lambda:GetLayerVersion",
        Principal=OTHER,
    )
    assert json.loads(added["Statement"]) == {
        "Sid": "xaccount",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
    }
    got = other.get_layer_version_by_arn(Arn=arn)
    assert got["LayerVersionArn"] == arn and got["Content"]["CodeSize"] > 0
    python_function(other, name, USES_LAYER, Role=ROLE, Layers=[arn])
    assert invoke_json(other, name)[1] == "from a shared layer"
    # Revoked: no new function may use it; the one that does keeps working, as on AWS.
    owner.remove_layer_version_permission(
        LayerName=layer["LayerArn"], VersionNumber=1, StatementId="xaccount"
    )
    with pytest.raises(ClientError) as exc:
        python_function(other, unique("late"), USES_LAYER, Role=ROLE, Layers=[arn])
    assert _error(exc)[:2] == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as exc:
        other.update_function_configuration(FunctionName=name, Layers=[arn])
    assert _error(exc)[:2] == ("AccessDeniedException", 403)
    assert invoke_json(other, name)[1] == "from a shared layer"
    # Only the owner manages the policy or lists the versions.
    for call in (
        lambda: other.get_layer_version_policy(LayerName=layer["LayerArn"], VersionNumber=1),
        lambda: other.list_layer_versions(LayerName=layer["LayerArn"]),
        lambda: other.add_layer_version_permission(
            LayerName=layer["LayerArn"],
            VersionNumber=1,
            StatementId="mine",
            Action="lambda:GetLayerVersion",
            Principal="*",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc)[:2] == ("AccessDeniedException", 403)
    # A grant to everyone (the account root's ARN form too) works for any account.
    owner.add_layer_version_permission(
        LayerName=layer["LayerArn"],
        VersionNumber=1,
        StatementId="public",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert other.get_layer_version_by_arn(Arn=arn)["Version"] == 1
    # Another version of the same layer has its own (empty) policy.
    second = _publish(owner, layer["LayerArn"])
    with pytest.raises(ClientError):
        other.get_layer_version_by_arn(Arn=second["LayerVersionArn"])


def test_policy_crud_and_errors(lambda_server):
    owner = _client(lambda_server, OWNER)
    layer = _publish(owner)
    lname = layer["LayerArn"].rsplit(":", 1)[1]

    def add(sid: str, **kw) -> dict:
        kw.setdefault("Action", "lambda:GetLayerVersion")
        kw.setdefault("Principal", OTHER)
        return owner.add_layer_version_permission(
            LayerName=lname, VersionNumber=1, StatementId=sid, **kw
        )

    with pytest.raises(ClientError) as exc:
        owner.get_layer_version_policy(LayerName=lname, VersionNumber=1)
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)
    first = add("one")
    second = add("two", Principal=f"arn:aws:iam::{OTHER}:root", RevisionId=first["RevisionId"])
    got = owner.get_layer_version_policy(LayerName=lname, VersionNumber=1)
    assert got["RevisionId"] == second["RevisionId"] != first["RevisionId"]
    policy = json.loads(got["Policy"])
    assert policy["Version"] == "2012-10-17"
    assert [s["Sid"] for s in policy["Statement"]] == ["one", "two"]
    assert {s["Resource"] for s in policy["Statement"]} == {layer["LayerVersionArn"]}
    cases = [
        (lambda: add("one"), ("ResourceConflictException", 409)),
        (
            lambda: add("three", RevisionId=first["RevisionId"]),
            ("PreconditionFailedException", 412),
        ),
        (lambda: add("bad", Action="lambda:InvokeFunction"), ("ValidationException", 400)),
        (lambda: add("bad", Principal="someone"), ("ValidationException", 400)),
        (lambda: add("bad", Principal="*", OrganizationId="org"), ("ValidationException", 400)),
        (
            lambda: owner.add_layer_version_permission(
                LayerName=lname,
                VersionNumber=9,
                StatementId="x",
                Action="lambda:GetLayerVersion",
                Principal="*",
            ),
            ("ResourceNotFoundException", 404),
        ),
        (
            lambda: owner.remove_layer_version_permission(
                LayerName=lname, VersionNumber=1, StatementId="nope"
            ),
            ("ResourceNotFoundException", 404),
        ),
        (
            lambda: owner.remove_layer_version_permission(
                LayerName=lname, VersionNumber=1, StatementId="one", RevisionId=first["RevisionId"]
            ),
            ("PreconditionFailedException", 412),
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc)[:2] == expected
    owner.remove_layer_version_permission(
        LayerName=lname, VersionNumber=1, StatementId="one", RevisionId=second["RevisionId"]
    )
    left = json.loads(owner.get_layer_version_policy(LayerName=lname, VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in left["Statement"]] == ["two"]
    # The policy is 20 KB at most.
    with pytest.raises(ClientError) as exc:
        for i in range(200):
            add(f"s{i}-" + "x" * 80)
    assert _error(exc)[:2] == ("PolicyLengthExceededException", 400)
    # The policy goes with its version.
    owner.delete_layer_version(LayerName=lname, VersionNumber=1)
    with pytest.raises(ClientError) as exc:
        owner.get_layer_version_policy(LayerName=lname, VersionNumber=1)
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)


def test_the_policy_survives_a_restart(tmp_path):
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        layer = _publish(_client(server, OWNER))
        _client(server, OWNER).add_layer_version_permission(
            LayerName=layer["LayerArn"],
            VersionNumber=1,
            StatementId="kept",
            Action="lambda:GetLayerVersion",
            Principal=OTHER,
        )
    finally:
        server.stop()
    server = CloudletServer.start(data_dir=tmp_path)
    try:
        got = _client(server, OTHER).get_layer_version_by_arn(Arn=layer["LayerVersionArn"])
        assert got["Version"] == 1
        policy = _client(server, OWNER).get_layer_version_policy(
            LayerName=layer["LayerArn"], VersionNumber=1
        )
        assert json.loads(policy["Policy"])["Statement"][0]["Sid"] == "kept"
    finally:
        server.stop()


def test_strict_mode_building_on_a_layer_needs_get_layer_version(strict_server):
    lam, iam = strict_server.client("lambda"), strict_server.client("iam")
    layer = _publish(lam)
    arn = layer["LayerVersionArn"]
    user, _, client = make_user(strict_server, iam)
    allow = {"Effect": "Allow", "Action": "lambda:CreateFunction", "Resource": "*"}
    iam.put_user_policy(UserName=user, PolicyName="create", PolicyDocument=doc(allow))
    user_lambda = client("lambda")
    name = unique("strict")
    code = {"ZipFile": zip_of({"app.py": USES_LAYER})}
    create = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": lambda_helpers.ROLE,
        "Handler": "app.handler",
        "Code": code,
        "Layers": [arn],
    }
    with pytest.raises(ClientError) as exc:
        user_lambda.create_function(**create)
    code_, status, message = _error(exc)
    assert (code_, status) == ("AccessDeniedException", 403)
    assert "lambda:GetLayerVersion" in message and arn in message
    read = {"Effect": "Allow", "Action": "lambda:GetLayerVersion", "Resource": arn}
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=doc(read))
    made = user_lambda.create_function(**create)
    assert made["Layers"][0]["Arn"] == arn
    # A layer policy granting everyone lets the account's users read the version.
    lam.add_layer_version_permission(
        LayerName=layer["LayerArn"],
        VersionNumber=1,
        StatementId="all",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    iam.delete_user_policy(UserName=user, PolicyName="read")
    assert user_lambda.get_layer_version_by_arn(Arn=arn)["Version"] == 1
