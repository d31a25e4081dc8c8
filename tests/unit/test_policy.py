"""The policy engine on its own: grammar, wildcards, Not*, conditions, deny precedence."""

from __future__ import annotations

import json

import pytest

from cloudlet.auth import policy
from cloudlet.auth.actions import action_for
from cloudlet.auth.policy import Caller, MalformedPolicy, Request, evaluate, parse

ACCOUNT = "111122223333"
ALICE = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "user")
ROOT = Caller(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "root")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/worker"
SESSION = Caller(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/s1", ACCOUNT, "assumed-role", role_arn=ROLE_ARN
)
BOB = Caller("arn:aws:iam::444455556666:user/bob", "444455556666", "user")


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allowed(
    statements: list[dict],
    action: str = "sqs:SendMessage",
    resource: str = "arn:aws:sqs:us-east-1:111122223333:q",
    caller: Caller = ALICE,
    context: dict | None = None,
    resource_policy: list[dict] | None = None,
) -> bool:
    identity = [parse(doc(*statements))] if statements else []
    rp = parse(doc(*resource_policy), "resource") if resource_policy else None
    return evaluate(Request(action, resource, caller, context or {}), identity, rp).allowed


def allow(**kw) -> dict:
    return {"Effect": "Allow", **kw}


def deny(**kw) -> dict:
    return {"Effect": "Deny", **kw}


# -- grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "Syntax errors in policy."),
        (json.dumps({"Statement": [{"Effect": "Allow", "Resource": "*"}]}), "must contain actions"),
        (
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}),
            "must contain resources",
        ),
        (
            json.dumps({"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
            "Syntax",
        ),
        (json.dumps({"Version": "2020-01-01", "Statement": []}), "valid version"),
        (doc(allow(Action="s3:*", Resource="*", Principal="*")), "should not specify a principal"),
        (doc(allow(Action="GetObject", Resource="*")), "prefaced by a vendor"),
        (doc(allow(Action="s3:*", Resource="*", Condition={"Nope": {"a": "b"}})), "Condition type"),
        (doc(allow(Action="s3:*", Resource="*", Extra=1)), "Syntax"),
    ],
)
def test_grammar_errors(text, message):
    with pytest.raises(MalformedPolicy, match=message):
        parse(text)


def test_resource_policies_need_a_principal():
    with pytest.raises(MalformedPolicy, match="Principal"):
        parse(doc(allow(Action="s3:*", Resource="*")), "resource")
    parse(
        doc(allow(Action="sts:AssumeRole", Principal={"Service": "lambda.amazonaws.com"})), "trust"
    )


def test_single_statement_object_and_string_lists():
    p = parse(json.dumps({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}))
    assert len(p.statements) == 1


# -- wildcards, Not* ---------------------------------------------------------------------------


def test_action_wildcards_are_case_insensitive():
    assert allowed([allow(Action="SQS:send*", Resource="*")])
    assert allowed([allow(Action="sqs:?endMessage", Resource="*")])
    assert allowed([allow(Action="*", Resource="*")])
    assert not allowed([allow(Action="sqs:Receive*", Resource="*")])
    assert not allowed([allow(Action="s3:*", Resource="*")])


def test_resource_wildcards_are_case_sensitive():
    assert allowed([allow(Action="sqs:*", Resource="arn:aws:sqs:*:111122223333:q")])
    assert allowed([allow(Action="sqs:*", Resource="arn:aws:sqs:us-east-1:*:?")])
    assert not allowed([allow(Action="sqs:*", Resource="arn:aws:sqs:us-east-1:111122223333:Q")])
    assert not allowed([allow(Action="sqs:*", Resource="arn:aws:sqs:us-west-2:*")])


def test_not_action_and_not_resource():
    assert allowed([allow(NotAction="s3:*", Resource="*")])
    assert not allowed([allow(NotAction=["sqs:Send*"], Resource="*")])
    assert allowed([allow(Action="sqs:*", NotResource="arn:aws:sqs:*:*:secret")])
    assert not allowed([allow(Action="sqs:*", NotResource="arn:aws:sqs:*:*:q")])


def test_explicit_deny_beats_allow_everywhere():
    grant = allow(Action="sqs:*", Resource="*")
    assert not allowed([grant, deny(Action="sqs:SendMessage", Resource="*")])
    request = Request("sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q", ALICE, {})
    identity = [parse(doc(grant))]
    rp = parse(doc(deny(Principal="*", Action="sqs:*", Resource="*")), "resource")
    decision = evaluate(request, identity, rp)
    assert not decision.allowed and decision.denied_by == "resource"
    decision = evaluate(request, [parse(doc(deny(Action="*", Resource="*")))], None)
    assert decision.denied_by == "identity"
    assert evaluate(request, [], None) == policy.Decision(False, None)


def test_policy_variables_in_resources():
    statement = allow(Action="s3:*", Resource="arn:aws:s3:::home/${aws:username}/*")
    ctx = {"aws:username": "alice"}
    assert allowed([statement], "s3:GetObject", "arn:aws:s3:::home/alice/x", context=ctx)
    assert not allowed([statement], "s3:GetObject", "arn:aws:s3:::home/bob/x", context=ctx)
    assert not allowed([statement], "s3:GetObject", "arn:aws:s3:::home//x", context={})


# -- principals in resource policies -----------------------------------------------------------


def test_resource_policy_principals():
    def rp(principal, caller=ALICE):
        return allowed(
            [],
            caller=caller,
            resource_policy=[allow(Principal=principal, Action="sqs:SendMessage", Resource="*")],
        )

    assert rp("*")
    assert rp({"AWS": "*"})
    assert rp({"AWS": ALICE.arn})
    assert not rp({"AWS": BOB.arn})
    assert rp({"AWS": ROLE_ARN}, SESSION)
    assert rp({"AWS": SESSION.arn}, SESSION)
    # Naming the account delegates to its identity policies: only the root itself.
    assert not rp({"AWS": ACCOUNT})
    assert rp({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ROOT)
    service = Caller("lambda.amazonaws.com", ACCOUNT, "service", service="lambda.amazonaws.com")
    assert rp({"Service": "lambda.amazonaws.com"}, service)
    assert not rp({"Service": "sns.amazonaws.com"}, service)


def test_not_principal_and_account_deny():
    statements = [
        allow(Principal="*", Action="sqs:*", Resource="*"),
        deny(NotPrincipal={"AWS": ALICE.arn}, Action="sqs:*", Resource="*"),
    ]
    assert allowed([], resource_policy=statements)
    assert not allowed([], caller=BOB, resource_policy=statements)
    account_deny = [
        allow(Principal="*", Action="sqs:*", Resource="*"),
        deny(Principal={"AWS": ACCOUNT}, Action="sqs:*", Resource="*"),
    ]
    assert not allowed([], resource_policy=account_deny)


# -- conditions -------------------------------------------------------------------------------


def cond(block: dict, context: dict) -> bool:
    return allowed([allow(Action="*", Resource="*", Condition=block)], context=context)


def test_string_operators():
    assert cond({"StringEquals": {"aws:username": "alice"}}, {"aws:username": "alice"})
    assert not cond({"StringEquals": {"aws:username": "Alice"}}, {"aws:username": "alice"})
    assert cond({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"})
    assert cond({"StringNotEquals": {"aws:username": "bob"}}, {"aws:username": "alice"})
    assert cond({"StringLike": {"s3:prefix": ["home/*", "pub"]}}, {"s3:prefix": "home/a"})
    assert not cond({"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/a"})
    assert cond({"StringNotEqualsIgnoreCase": {"k": "A"}}, {"k": "b"})
    # keys are case-insensitive
    assert cond({"StringEquals": {"AWS:UserName": "alice"}}, {"aws:username": "alice"})


def test_missing_keys_and_if_exists_and_null():
    assert not cond({"StringEquals": {"aws:username": "alice"}}, {})
    assert cond({"StringNotEquals": {"aws:username": "alice"}}, {})
    assert cond({"StringEqualsIfExists": {"aws:username": "alice"}}, {})
    assert not cond({"StringEqualsIfExists": {"aws:username": "alice"}}, {"aws:username": "x"})
    assert cond({"Null": {"s3:prefix": "true"}}, {})
    assert not cond({"Null": {"s3:prefix": "true"}}, {"s3:prefix": "a"})
    assert cond({"Null": {"s3:prefix": "false"}}, {"s3:prefix": "a"})


def test_arn_operators():
    source = {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"}
    assert cond(
        {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"}}, source
    )
    assert cond({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}}, source)
    assert not cond({"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:*:*"}}, source)
    assert cond({"ArnNotLike": {"aws:SourceArn": "arn:aws:sqs:*:*:*"}}, source)
    assert not cond({"ArnNotEquals": {"aws:SourceArn": source["aws:SourceArn"]}}, source)


def test_numeric_operators():
    ctx = {"s3:max-keys": "10"}
    assert cond({"NumericEquals": {"s3:max-keys": "10"}}, ctx)
    assert cond({"NumericNotEquals": {"s3:max-keys": "11"}}, ctx)
    assert cond({"NumericLessThan": {"s3:max-keys": "11"}}, ctx)
    assert cond({"NumericLessThanEquals": {"s3:max-keys": 10}}, ctx)
    assert not cond({"NumericGreaterThan": {"s3:max-keys": "10"}}, ctx)
    assert cond({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, ctx)
    assert not cond({"NumericEquals": {"s3:max-keys": "ten"}}, ctx)


def test_date_operators():
    ctx = {"aws:CurrentTime": "2026-01-15T12:00:00Z", "aws:EpochTime": "1768478400"}
    assert cond({"DateLessThan": {"aws:CurrentTime": "2026-02-01T00:00:00Z"}}, ctx)
    assert not cond({"DateGreaterThan": {"aws:CurrentTime": "2026-02-01T00:00:00Z"}}, ctx)
    assert cond({"DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-15T12:00:00Z"}}, ctx)
    assert cond({"DateLessThanEquals": {"aws:EpochTime": "1768478400"}}, ctx)
    assert cond({"DateEquals": {"aws:CurrentTime": "2026-01-15T12:00:00+00:00"}}, ctx)
    assert cond({"DateNotEquals": {"aws:CurrentTime": "2025-01-15T12:00:00Z"}}, ctx)


def test_bool_and_ip_operators():
    assert cond({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"})
    assert not cond({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"})
    ip = {"aws:SourceIp": "10.1.2.3"}
    assert cond({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, ip)
    assert cond({"IpAddress": {"aws:SourceIp": ["192.168.0.0/16", "10.1.2.3"]}}, ip)
    assert not cond({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, ip)
    assert cond({"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, ip)
    assert cond({"IpAddress": {"aws:SourceIp": "::1/128"}}, {"aws:SourceIp": "::1"})


def test_set_qualifiers():
    tags = {"aws:TagKeys": ["env", "team"]}
    assert cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team", "x"]}}, tags)
    assert not cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, tags)
    assert cond({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}, tags)
    assert not cond({"ForAnyValue:StringEquals": {"aws:TagKeys": ["nope"]}}, tags)
    assert cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {})
    assert not cond({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {})


def test_all_conditions_must_hold():
    block = {
        "StringEquals": {"aws:username": "alice"},
        "IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
    }
    assert cond(block, {"aws:username": "alice", "aws:SourceIp": "127.0.0.1"})
    assert not cond(block, {"aws:username": "alice", "aws:SourceIp": "10.0.0.1"})


# -- action names ----------------------------------------------------------------------------


def test_action_names_follow_iam_prefixes_and_s3_table():
    assert action_for("cloudwatch", "PutMetricData") == "cloudwatch:PutMetricData"
    assert action_for("elbv2", "CreateLoadBalancer") == "elasticloadbalancing:CreateLoadBalancer"
    assert action_for("elb", "CreateLoadBalancer") == "elasticloadbalancing:CreateLoadBalancer"
    assert action_for("s3", "ListObjectsV2") == "s3:ListBucket"
    assert action_for("s3", "ListBuckets") == "s3:ListAllMyBuckets"
    assert action_for("s3", "GetObject") == "s3:GetObject"
    assert action_for("sqs", "SendMessageBatch") == "sqs:SendMessage"
    assert action_for("lambda", "Invoke") == "lambda:InvokeFunction"
