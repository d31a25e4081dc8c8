"""Multi-account global tables: replicas of one table kept by other accounts.

Why it is built this way:

- **A member is found by its ARN.** A same-account global table's replicas are the
  tables of its name in the other regions (``replicas.py``); a multi-account one's
  are in other accounts and may be named otherwise, so each member keeps the ARNs of
  the others by region (``Table.remote``, read by ``Table.member_key``). AWS allows
  one replica per account and per region, so the region still names a member, and
  everything ``replicas.py`` does by region (replicating writes in the transaction
  that makes them, aligned settings, TTL, the day a source must stay) works unchanged.
- **Joining is a CreateTable in the joining account** naming the source with
  ``GlobalTableSourceArn`` (the developer guide's tutorial, "Creating multi-account
  global tables"). The new table takes its keys, indexes, capacity mode, stream and
  class from the source and is ``CREATING`` while the items are copied, as a
  same-account replica is; its tags, deletion protection, resource policy and
  encryption key are its own ("How global tables use AWS KMS": each replica's key is
  its account's, and AWS managed keys are not supported).
- **Settings replication.** ``GlobalTableSettingsReplicationMode`` is ``ENABLED`` on
  every member (the API reference: "the only supported value"); a regional table
  becomes a source once its owner sets it ``ENABLED`` (CreateTable or UpdateTable),
  and a table of a same-account global table shows ``ENABLED_WITH_OVERRIDES``, which
  cannot be sent (lab captures DDB-TABLE-048/320).
- **Leaving is DeleteTable in the member's account**: the security guide says
  ``UpdateTable`` cannot delete a replica of a multi-account global table, so its
  ReplicaUpdates are refused; the last table left is a regional table again.
- **Policies.** AWS checks at joining that every member's resource policy lets the
  caller's account ``dynamodb:AssociateTableReplica`` and DynamoDB's replication
  principal read, write and replicate settings. Strict mode holds one account (its
  root keys and their IAM users), so a multi-account global table is made in open
  mode, which evaluates no policies: they are stored with each table, not checked.

The refusals' texts are cloudlet's: AWS's are not on record. Each says what is wrong.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.dynamodb import encryption, errors, replicas, strong
from cloudlet.services.dynamodb.backup_checks import AWS_REGIONS
from cloudlet.services.dynamodb.describe import key_schema_of
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.tables import Table, new_stream, parse_attribute_definitions
from cloudlet.services.dynamodb.tags import check_tags

MODE = "GlobalTableSettingsReplicationMode"
ENABLED = "ENABLED"
FROM_SOURCE = (
    "LocalSecondaryIndexes",
    "GlobalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "StreamSpecification",
    "OnDemandThroughput",
    "WarmThroughput",
    "TableClass",
)
"""CreateTable members a new member takes from its source, refused beside
``GlobalTableSourceArn`` (KeySchema and AttributeDefinitions are taken when they are
the source's)."""
_INVALID = "One or more parameter values were invalid: "


def set_mode(table: Table, mode: str) -> None:
    """UpdateTable's mode: a regional table's only (the API reference: "only on a
    regional table"); a member of a global table keeps the mode of its kind."""
    if table.replicas:
        raise errors.validation(
            f"{_INVALID}{MODE} can only be updated on a regional table, and table "
            f"{table.name} is a replica of a global table"
        )
    table.settings = mode


def refuse_replica_updates(table: Table) -> None:
    """UpdateTable's ReplicaUpdates on a member of a multi-account global table."""
    if table.remote:
        raise errors.validation(
            f"{_INVALID}ReplicaUpdates cannot change a multi-account global table: add a "
            "replica with CreateTable and GlobalTableSourceArn in the new replica's account, "
            "and remove one with DeleteTable in its own account"
        )


def source_of(arn: Any) -> tuple[str, str, str]:
    """(account, region, name) of a GlobalTableSourceArn."""
    fields = arn.split(":", 5) if isinstance(arn, str) else []
    name = fields[5][len("table/") :] if len(fields) == 6 else ""
    if (
        len(fields) != 6
        or fields[:3] != ["arn", "aws", "dynamodb"]
        or not fields[3]
        or not (fields[4].isdigit() and len(fields[4]) == 12)
        or not fields[5].startswith("table/")
        or not name
        or "/" in name
    ):
        raise errors.validation(f"{_INVALID}Invalid GlobalTableSourceArn: {arn}")
    return fields[4], fields[3], name


def new_member(
    engine: Engine, account: str, region: str, params: dict[str, Any], now: float
) -> tuple[Table, list[Table]]:
    """CreateTable with GlobalTableSourceArn: the new member (not yet added) and the
    members of the group it joins, every check made."""
    arn = params["GlobalTableSourceArn"]
    src_account, src_region, src_name = source_of(arn)
    if params.get(MODE) != ENABLED:
        raise errors.validation(
            f"{_INVALID}{MODE} must be ENABLED to create a replica of a multi-account global table"
        )
    for member in FROM_SOURCE:
        if params.get(member) is not None:
            raise errors.validation(
                f"{_INVALID}{member} cannot be specified with GlobalTableSourceArn: a replica "
                "takes it from its global table"
            )
    if src_account == account:
        raise errors.validation(
            f"{_INVALID}GlobalTableSourceArn names a table of this account: add a replica "
            "in this account with UpdateTable's ReplicaUpdates"
        )
    if region not in AWS_REGIONS:
        raise errors.validation(
            f"Region {region} is not supported. The latest version of global tables are "
            f"only supported in the following regions: [{', '.join(sorted(AWS_REGIONS))}]."
        )
    source = engine.tables.get((src_account, src_region, src_name))
    if source is None:
        raise errors.resource_not_found(f"Requested resource not found: Table: {arn} not found")
    _check_keys(source, params)
    group = replicas.members(engine, source)
    _check_source(source, group)
    if region in {t.region for t in group}:
        raise errors.validation(
            f"{_INVALID}The global table of {arn} already has a replica in region {region}"
        )
    if account in {t.account for t in group}:
        raise errors.validation(
            f"{_INVALID}The global table of {arn} already has a replica in account {account}"
        )
    replica = replicas.replica_of(source, region, now, account=account, name=params["TableName"])
    replica.sse = _own_key(account, region, params.get("SSESpecification"))
    replica.tags = check_tags(params.get("Tags") or [])
    replica.deletion_protection = bool(params.get("DeletionProtectionEnabled"))
    replica.settings = ENABLED
    return replica, group


def _check_keys(source: Table, params: dict[str, Any]) -> None:
    """KeySchema and AttributeDefinitions, when sent, must be the source's key."""
    schema = params.get("KeySchema")
    defs = params.get("AttributeDefinitions")
    if schema is None and defs is None:
        return
    wanted = key_schema_of(source.hash, source.range)
    types = dict(a for a in (source.hash, source.range) if a is not None)
    given = parse_attribute_definitions(defs) if defs is not None else types
    key_given = [(k.get("AttributeName"), k.get("KeyType")) for k in schema or wanted]
    if key_given != [(k["AttributeName"], k["KeyType"]) for k in wanted] or any(
        given.get(n) != t for n, t in types.items()
    ):
        raise errors.validation(
            f"{_INVALID}KeySchema and AttributeDefinitions must be those of the source table "
            f"{source.arn}"
        )


def _check_source(source: Table, group: list[Table]) -> None:
    arn = source.arn
    if source.status != "ACTIVE" or any(t.replicating is not None for t in group):
        raise errors.resource_in_use(
            f"Attempt to change a resource which is still in use: Table {arn} is not ACTIVE"
        )
    if strong.is_strong(source):
        raise errors.validation(
            f"{_INVALID}{arn} has MultiRegionConsistency STRONG: multi-account global tables "
            "are eventually consistent only"
        )
    if source.replicas and not source.remote:
        raise errors.validation(
            f"{_INVALID}{arn} is a replica of a global table of one account, whose settings "
            "replication is ENABLED_WITH_OVERRIDES"
        )
    if source.settings != ENABLED:
        raise errors.validation(
            f"{_INVALID}Settings replication is not ENABLED on the source table {arn}: set "
            f"its {MODE} to ENABLED first"
        )
    if source.billing != "PAY_PER_REQUEST":
        raise errors.validation(
            "Table write capacity should either be Pay-Per-Request or AutoScaled."
        )
    if source.sse is not None and source.sse.get("KMSMasterKeyArn") == (
        encryption.managed_key_arn(source.account, source.region)
    ):
        raise errors.validation(
            f"{_INVALID}{arn} is encrypted with an AWS managed key, which multi-account "
            "global tables do not support"
        )


def _own_key(account: str, region: str, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The new member's encryption: an AWS owned key, or a customer managed key of its
    account; an AWS managed key is refused."""
    if not spec or not spec.get("Enabled"):
        return None
    if not spec.get("KMSMasterKeyId"):
        raise errors.validation(
            f"{_INVALID}Multi-account global tables do not support AWS managed keys: give "
            "SSESpecification a KMSMasterKeyId of this account, or leave it out"
        )
    return encryption.description(account, region, {**spec, "SSEType": "KMS"})


def link(engine: Engine, replica: Table, group: list[Table], now: float) -> None:
    """Make ``replica`` (added) a member of ``group``, in the caller's transaction."""
    everyone = [*group, replica]
    regions = sorted(t.region for t in everyone)
    source = engine.by_id[replica.replicating["source"]] if replica.replicating else group[0]
    replicas.enable_stream(source, now)
    assert source.stream is not None
    replica.stream = new_stream(replica, source.stream["view"], now)  # its own, alike
    source.sourced[replica.region] = now
    for t in everyone:
        t.replicas = regions
        t.remote = {o.region: o.arn for o in everyone if o is not t}
        t.settings = ENABLED
        engine.save(t)
