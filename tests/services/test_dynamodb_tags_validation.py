"""DynamoDB tag validation with real boto3: TagResource, UntagResource, ListTagsOfResource
and CreateTable's Tags answer what real DynamoDB answers.

Every expected message is AWS's own text from the ack-api-quirks lab's captures of real
DynamoDB (services/dynamodb, verified 2026-10-08/09), cited per case by finding id:

- DDB-TABLE-105: upserts; ``aws:`` prefix (any case) refused on TagResource and UntagResource.
- DDB-TABLE-106: empty values kept; Unicode letters and spaces accepted; ``#`` refused.
- DDB-TABLE-107: all-or-nothing ValidationExceptions; empty lists; UntagResource limits.
- DDB-TABLE-108: the 50-tag limit is a ValidationException on the post-merge set.
- DDB-TABLE-110: CreateTable with bad or more than 50 tags creates nothing.
- DDB-TABLE-372: the tag alphabet (letters, digits, spaces, ``_ . : / = + - @``).
- DDB-TABLE-442: the ResourceArn texts (non-ARN, index ARN, other region).
- DDB-TABLE-457: degenerate inputs (``UntagResource ['']``, empty TagKeys).
- DDB-BACKUP-013: backups are not taggable.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.services.dynamodb_helpers import assert_error, client, index, make_table, tname

VALIDATION = "ValidationException"
INVALID = "One or more parameter values were invalid: "
TOO_MANY = "Number of Tags exceed the current limit for the provided ResourceArn"


@pytest.fixture(scope="module")
def ddb(cloudlet_server):
    return client(cloudlet_server)


@pytest.fixture(scope="module")
def raw(cloudlet_server):
    """Lets empty keys and lists botocore would refuse reach the server."""
    return client(cloudlet_server, validate=False)


def _arn(ddb, name: str) -> str:
    return ddb.describe_table(TableName=name)["Table"]["TableArn"]


def _tags(ddb, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


@pytest.fixture()
def arn(ddb):
    name = make_table(ddb, tname("tagv"))
    yield _arn(ddb, name)
    ddb.delete_table(TableName=name)


def _refused(call, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert_error(exc, VALIDATION, message)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("key", ["aws:foo", "AWS:foo", "Aws:x"])
def test_aws_prefixed_key_is_refused_on_tag_and_untag(ddb, arn, key):
    # DDB-TABLE-105: 'aws:' in any case is refused on TagResource and on UntagResource
    msg = f"Tag Key cannot be prefixed with aws:, Key: {key}"
    _refused(lambda: ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": key, "Value": "x"}]), msg)
    _refused(lambda: ddb.untag_resource(ResourceArn=arn, TagKeys=[key]), msg)
    assert _tags(ddb, arn) == {}


def test_key_merely_containing_aws_is_fine(ddb, arn):
    # DDB-TABLE-105: 'myaws:foo' -> 200
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "myaws:foo", "Value": "x"}])
    assert _tags(ddb, arn) == {"myaws:foo": "x"}


@pytest.mark.parametrize(
    "text",
    ["bad#char", "\U0001f511", "100%", "a,b", 'it\'s "q"', "(x)[y]{z}", "a&b", "a*b", "a;b"]
    + ["a?b", "a|b", "a\\b", "<a>", "~a"],
)
def test_characters_outside_the_tag_alphabet_are_refused(ddb, arn, text):
    # DDB-TABLE-106 ('#' in key and value), DDB-TABLE-372 (the rest)
    _refused(
        lambda: ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": text, "Value": "v"}]),
        f"The Tag Key provided is invalid, Key: {text}",
    )
    _refused(
        lambda: ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": text}]),
        f"The Tag Value provided is invalid, Value: {text}",
    )
    assert _tags(ddb, arn) == {}


def test_the_tag_alphabet_is_accepted(ddb, arn):
    # DDB-TABLE-106 (spaces, + - = . _ : / @, Unicode, empty value, case-sensitive keys),
    # DDB-TABLE-372 (Cyrillic, Latin-1, CJK, NBSP and ideographic space)
    tags = {
        "sp ace": "a b+c-d=e.f_g:h/i@j",
        " lead": "x",
        "ключ": "значение",
        "café": "表",
        "nb\u00a0sp": "ideo\u3000graphic",
        "Env": "",
        "env": "x",
    }
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    assert _tags(ddb, arn) == tags


def test_empty_keys_and_lists(raw, arn):
    # DDB-TABLE-107 (empty key on TagResource, Tags=[], TagKeys=[]),
    # DDB-TABLE-457 (UntagResource [''])
    _refused(
        lambda: raw.tag_resource(ResourceArn=arn, Tags=[{"Key": "", "Value": "v"}]),
        "The Tag Key provided is invalid, Key: ",
    )
    _refused(
        lambda: raw.untag_resource(ResourceArn=arn, TagKeys=[""]),
        "The Tag Key provided is invalid, Key: ",
    )
    _refused(
        lambda: raw.tag_resource(ResourceArn=arn, Tags=[]),
        "Atleast one Tag needs to be provided as Input.",
    )
    _refused(
        lambda: raw.untag_resource(ResourceArn=arn, TagKeys=[]),
        "Atleast one Tag Key needs to be provided as Input.",
    )


def test_untag_key_limits(ddb, arn):
    # DDB-TABLE-107: UntagResource with a 129-character key, and with 51 keys
    _refused(
        lambda: ddb.untag_resource(ResourceArn=arn, TagKeys=["k" * 129]),
        f"The Tag Key provided is invalid, Key: {'k' * 129}",
    )
    _refused(
        lambda: ddb.untag_resource(ResourceArn=arn, TagKeys=[f"k{i}" for i in range(51)]),
        TOO_MANY,
    )
    ddb.untag_resource(ResourceArn=arn, TagKeys=[f"k{i}" for i in range(50)])  # 200


def test_duplicate_keys_are_refused(ddb, arn):
    # DDB-TABLE-107: duplicate keys in one request, nothing stored
    _refused(
        lambda: ddb.tag_resource(
            ResourceArn=arn, Tags=[{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}]
        ),
        "Duplicate Tag Keys provided as input: Duplicate Tag Key found dup",
    )
    assert _tags(ddb, arn) == {}


def test_a_bad_tag_fails_the_whole_call(ddb, arn):
    # DDB-TABLE-107: mixed [good, aws:zzz] and [good, bad] apply nothing
    good = {"Key": "good", "Value": "1"}
    _refused(
        lambda: ddb.tag_resource(ResourceArn=arn, Tags=[good, {"Key": "aws:zzz", "Value": "x"}]),
        "Tag Key cannot be prefixed with aws:, Key: aws:zzz",
    )
    _refused(
        lambda: ddb.tag_resource(ResourceArn=arn, Tags=[good, {"Key": "k", "Value": "a,b"}]),
        "The Tag Value provided is invalid, Value: a,b",
    )
    assert _tags(ddb, arn) == {}


# --------------------------------------------------------------------------- the 50-tag limit


def test_fifty_tags_after_the_merge(ddb, arn):
    # DDB-TABLE-108: ValidationException (not LimitExceededException) on the merged set
    fifty = [{"Key": f"k{i:02}", "Value": f"v{i:02}"} for i in range(50)]
    _refused(
        lambda: ddb.tag_resource(ResourceArn=arn, Tags=[*fifty, {"Key": "k51", "Value": "x"}]),
        TOO_MANY,
    )
    ddb.tag_resource(ResourceArn=arn, Tags=fifty)
    _refused(
        lambda: ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k51", "Value": "x"}]), TOO_MANY
    )
    _refused(
        lambda: ddb.tag_resource(
            ResourceArn=arn, Tags=[{"Key": "k00", "Value": "new"}, {"Key": "k51", "Value": "x"}]
        ),
        TOO_MANY,
    )
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k00", "Value": "new"}])  # upsert: 200
    got = ddb.list_tags_of_resource(ResourceArn=arn)
    assert len(got["Tags"]) == 50 and "NextToken" not in got
    assert _tags(ddb, arn)["k00"] == "new"


# --------------------------------------------------------------------------- CreateTable


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([{"Key": "aws:foo", "Value": "x"}], "Tag Key cannot be prefixed with aws:, Key: aws:foo"),
        ([{"Key": f"k{i}", "Value": "v"} for i in range(51)], TOO_MANY),
        ([{"Key": "bad#char", "Value": "v"}], "The Tag Key provided is invalid, Key: bad#char"),
        (
            [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}],
            "Duplicate Tag Keys provided as input: Duplicate Tag Key found dup",
        ),
    ],
    ids=["aws-prefix", "51-tags", "hash-char", "dup-keys"],
)
def test_create_table_with_bad_tags_creates_nothing(ddb, tags, message):
    # DDB-TABLE-110 (texts of the aws: and 51-tag cases; '#' and duplicates are
    # ValidationException there, with the TagResource texts of DDB-TABLE-106/107)
    name = tname("tagc")
    _refused(lambda: make_table(ddb, name, Tags=tags), message)
    with pytest.raises(ClientError) as exc:
        ddb.describe_table(TableName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_create_table_with_fifty_or_no_tags(ddb):
    # DDB-TABLE-110: 50 tags -> 200, Tags=[] -> 200
    name = make_table(ddb, tname("tag50"), Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert len(_tags(ddb, _arn(ddb, name))) == 50
    empty = make_table(ddb, tname("tag0"), Tags=[])
    assert _tags(ddb, _arn(ddb, empty)) == {}
    for n in (name, empty):
        ddb.delete_table(TableName=n)


# --------------------------------------------------------------------------- ResourceArn


def test_resource_arn_must_name_a_table(ddb):
    name = make_table(ddb, tname("tagarn"), range=("sk", "S"), gsis=[index("byg", ("g", "S"))])
    arn = _arn(ddb, name)
    backup = ddb.create_backup(TableName=name, BackupName="bk1")["BackupDetails"]["BackupArn"]
    bad = {
        # DDB-BACKUP-013: TagResource, ListTagsOfResource and UntagResource alike
        backup: f"{INVALID}Provided Arn is not a DynamoDB resource arn: {backup}",
        # DDB-TABLE-442 (index ARNs, ListTagsOfResource and TagResource)
        f"{arn}/index/byg": (
            f"{INVALID}Invalid resource arn provided, only table or stream is accepted. "
            f"Provided resource arn: {arn}/index/byg"
        ),
        # DDB-TABLE-442: ARNs must start with 'arn:' (ListTagsOfResource, TagResource)
        "not-an-arn": f"{INVALID}ARNs must start with 'arn:': not-an-arn",
    }
    for target, message in bad.items():
        calls = [
            lambda t=target: ddb.tag_resource(ResourceArn=t, Tags=[{"Key": "k", "Value": "v"}]),
            lambda t=target: ddb.untag_resource(ResourceArn=t, TagKeys=["k"]),
            lambda t=target: ddb.list_tags_of_resource(ResourceArn=t),
        ]
        for call in calls:
            _refused(call, message)
    # DDB-TABLE-442: another region's table ARN (ListTagsOfResource)
    other = arn.replace(":us-east-1:", ":eu-west-1:")
    assert other != arn
    _refused(
        lambda: ddb.list_tags_of_resource(ResourceArn=other),
        f"Invalid TableArn: Invalid ResourceArn provided as input {other}",
    )
    assert _tags(ddb, arn) == {}
    ddb.delete_backup(BackupArn=backup)
    ddb.delete_table(TableName=name)


def test_another_accounts_table_is_access_denied(ddb):
    # dynamodb-conformance tests/tier2/tags/basic.test.ts, against DynamoDB: an ARN of an
    # account that is not the caller's is AccessDeniedException, found or not
    foreign = "arn:aws:dynamodb:us-east-1:111122223333:table/foreign"
    for call, kwargs in (
        (ddb.list_tags_of_resource, {}),
        (ddb.tag_resource, {"Tags": [{"Key": "k", "Value": "v"}]}),
        (ddb.untag_resource, {"TagKeys": ["k"]}),
    ):
        with pytest.raises(ClientError) as exc:
            call(ResourceArn=foreign, **kwargs)
        assert_error(exc, "AccessDeniedException", "Access is denied")
