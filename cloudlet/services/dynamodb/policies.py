"""Resource-based policies on tables and streams: Put/Get/DeleteResourcePolicy, and the
text strict mode evaluates.

Why it is built this way:

- **One policy slot per ARN.** A table and each of its streams have their own
  policy (a table's indexes use the table's). Rows of ``resource_policies`` in
  the DynamoDB database hold them, with the table's id so DeleteTable drops the
  table's and its streams' policies together; a dict by ARN in front of them
  answers strict mode's lookup on every request without SQL.
- **Documents are checked and canonicalised as DynamoDB does.** A document is
  parsed with IAM's grammar (``cloudlet.auth.policy``) plus DynamoDB's own rules
  (20 KB including whitespace, unique Sids, a Resource in every statement, no
  stream actions on a table, no Allow to everyone), with DynamoDB's messages.
  What Get returns is DynamoDB's canonical form (minified, fixed key order,
  one-element lists as strings, account ids as root ARNs); strict mode evaluates
  that same text.
- **RevisionId is the change time in epoch milliseconds**, strictly increasing.
  A put of an equivalent document is a no-op that returns the current id (as on
  AWS, a document without Version is not equivalent to one with the default).
  A delete leaves a tombstone row, so a repeated delete answers the deletion's
  id, as AWS does; a delete where there never was a policy answers nothing.
- ``ConfirmRemoveSelfResourceAccess``: the new document is evaluated for the
  caller; an explicit Deny of ``dynamodb:PutResourcePolicy`` needs the flag.

Not modelled (a local cloud answers at once): the seconds before Get sees a
change, the 15 s cool-down between policy writes, and the minutes before a
changed policy is enforced.

``PolicyHandlers`` is a mixin of ``DynamoDBService`` (which provides ``engine``
and ``env``); its store is created on first use.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cloudlet.auth import policy
from cloudlet.auth.authorizer import Identity, request_context
from cloudlet.auth.credentials import Principal
from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors, streams
from cloudlet.services.dynamodb.engine import Engine
from cloudlet.services.dynamodb.tables import Table

Result = dict[str, Any]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS resource_policies (arn TEXT PRIMARY KEY, tid INTEGER NOT NULL, "
    "policy TEXT, fingerprint TEXT, revision TEXT NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS resource_policies_by_table ON resource_policies (tid)",
)
"""``policy`` NULL is a tombstone: the policy was deleted at ``revision``."""

MAX_BYTES = 20480
NO_POLICY = "NO_POLICY"
STREAM_ACTIONS = frozenset(
    {"dynamodb:describestream", "dynamodb:getrecords", "dynamodb:getsharditerator"}
)
"""Actions only a stream's policy may name (a table's policy refuses them)."""
TRUSTED_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:UserId",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalIsAWSService",
        "aws:Ec2InstanceSourceVpc",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
    )
)
"""Condition keys that keep an Allow to ``*`` from being public (Block Public Access)."""
_STATEMENT_ORDER = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_ARN = re.compile(r"arn:([^:]*):([^:]*):([^:]*):([^:]*):(.*)")
_AWS_PRINCIPAL = re.compile(r"\*|\d{12}|arn:aws:(iam|sts)::\d{12}:.+", re.ASCII)
"""Both matched whole (``fullmatch``: ``$`` would let a final newline by)."""


# --------------------------------------------------------------------------- errors


def _invalid(detail: str) -> ServiceError:
    return errors.invalid_parameter(detail)


def invalid_document(detail: str) -> ServiceError:
    return errors.invalid_parameter(f"Invalid policy document: {detail}")


def _not_found(detail: str) -> ServiceError:
    return ServiceError(
        "PolicyNotFoundException",
        f"Resource-based policy not found for the provided ResourceArn: {detail}",
        400,
    )


def lockout() -> ServiceError:
    return ServiceError(
        "AccessDeniedException",
        "The new resource policy will not allow you to update the resource policy in the future.",
        400,
    )


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class Document:
    text: str
    """The canonical form: what Get returns and strict mode evaluates."""
    fingerprint: str
    """The canonical form of the document as sent (Version not filled in): equal
    fingerprints make a put a no-op."""
    compiled: policy.Policy


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _one(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _principal(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = {}
    for kind, names in value.items():
        names = _listify(names)
        if kind == "AWS":
            expanded = [f"arn:aws:iam::{n}:root" if _is_account(n) else n for n in names]
            names = list(dict.fromkeys(expanded))
        out[kind] = _one(names)
    return out


def _is_account(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 12 and value.isdigit()


def _statement(st: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _STATEMENT_ORDER:
        if key not in st:
            continue
        value = st[key]
        if key == "Effect":
            value = value.capitalize()
        elif key in ("Principal", "NotPrincipal"):
            value = _principal(value)
        elif key == "Condition":
            value = {
                op: {k: _one(_listify(v)) for k, v in pairs.items()} for op, pairs in value.items()
            }
        elif key != "Sid":
            value = _one(_listify(value))
        out[key] = value
    return out


def canonical(doc: dict[str, Any], *, fill_version: bool) -> str:
    """DynamoDB's canonical text of a (checked) document."""
    out: dict[str, Any] = {}
    if "Version" in doc or fill_version:
        out["Version"] = doc.get("Version", "2008-10-17")
    if "Id" in doc:
        out["Id"] = doc["Id"]
    out["Statement"] = [_statement(st) for st in _listify(doc["Statement"])]
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def _public(st: dict[str, Any]) -> bool:
    """An Allow anyone may use: ``*`` among its principals and no trusted condition key
    pinned to a value without wildcards."""
    principal = st.get("Principal")
    if principal is None:
        return False  # NotPrincipal: everyone but someone (IAM accepts it; so do we)
    names = ["*"] if principal == "*" else _listify(principal.get("AWS", []))
    if not any(isinstance(n, str) and "*" in n for n in names):
        return False
    for pairs in (st.get("Condition") or {}).values():
        for key, values in pairs.items():
            if key.lower() not in TRUSTED_KEYS:
                continue
            if all(isinstance(v, str) and not re.search(r"[*?]|\$\{", v) for v in _listify(values)):
                return False
    return True


def _lenient(st: Any) -> Any:
    if isinstance(st, dict) and isinstance(st.get("Effect"), str):
        return {**st, "Effect": st["Effect"].capitalize()}
    return st


def check_document(text: str, kind: str) -> Document:
    """Check a policy for a ``kind`` ("table" or "stream") resource as PutResourcePolicy
    does; ValidationException with DynamoDB's message when it is refused."""
    if len(text.encode()) > MAX_BYTES:
        raise _invalid(f"Maximum policy size of {MAX_BYTES} bytes exceeded")
    try:
        doc = json.loads(text)
    except ValueError:
        raise invalid_document("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise invalid_document("This policy contains invalid Json")
    raw = doc.get("Statement")
    if raw == []:
        raise invalid_document("Could not parse the policy: Statement is empty!")
    if raw is not None:
        # DynamoDB takes a lone statement object as a list, and "allow" as "Allow".
        doc = {**doc, "Statement": [_lenient(st) for st in _listify(raw)]}
    statements = [st for st in _listify(doc.get("Statement")) if isinstance(st, dict)]
    sids = [st["Sid"] for st in statements if "Sid" in st]
    if len(sids) != len(set(map(str, sids))):
        raise invalid_document("The Statement Ids in the policy are not unique")
    for st in statements:
        if "Resource" not in st and "NotResource" not in st:
            raise invalid_document("Missing required field Resource")
        for principal in (st.get("Principal"), st.get("NotPrincipal")):
            if principal is None or principal == "*":
                continue
            if not isinstance(principal, dict):
                raise invalid_document("Syntax errors in policy.")
            for name in _listify(principal.get("AWS", [])):
                if not isinstance(name, str) or not _AWS_PRINCIPAL.fullmatch(name):
                    raise _invalid("Invalid principal in policy document.")
    try:
        compiled = policy.parse(doc, "resource")
    except policy.MalformedPolicy as exc:
        raise invalid_document(str(exc)) from None
    if kind == "table":
        named = [a for st in statements for a in _listify(st.get("Action", []))]
        bad = [a for a in named if isinstance(a, str) and a.lower() in STREAM_ACTIONS]
        if bad:
            listed = ", ".join(f'"{a}"' for a in bad)
            raise invalid_document(f"The following action names are invalid: {listed}")
    if any(st["Effect"] == "Allow" and _public(st) for st in statements):
        raise errors.validation(
            "Resource-based policy grants unbounded access in one or more elements. "
            "Please revise the policy to ensure least-privilege form of access"
        )
    return Document(canonical(doc, fill_version=True), canonical(doc, fill_version=False), compiled)


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class Target:
    """What a ResourceArn names: a table, or one of its streams."""

    arn: str
    table: Table
    kind: str  # "table" | "stream"


def resolve(engine: Engine, account: str, region: str, arn: str) -> Target:
    """The table or stream ``arn`` names, with DynamoDB's errors for every other ARN."""
    if not arn.startswith("arn:"):
        raise _invalid(f"ARNs must start with 'arn:': {arn}")
    m = _ARN.fullmatch(arn)
    if m is None or m.group(2) != "dynamodb" or not m.group(5).startswith("table/"):
        raise _invalid(f"Provided Arn is not a DynamoDB resource arn: {arn}")
    partition, _, arn_region, arn_account, resource = m.groups()
    if arn_account != account:
        raise errors.validation(
            "This action is only supported by accounts that match the resource owner\u2019s "
            "account."
        )
    if partition != "aws" or arn_region != region:
        raise _invalid(f"Invalid resource Arn: {arn}")
    parts = resource.split("/")
    if len(parts) == 4 and parts[2] == "index":
        raise _invalid(
            "Invalid resource arn provided, only table or stream is accepted. "
            f"Provided resource arn: {arn}"
        )
    if len(parts) not in (2, 4) or (len(parts) == 4 and parts[2] != "stream"):
        raise _invalid(f"Provided Arn is not a DynamoDB resource arn: {arn}")
    table = engine.find(account, region, parts[1])
    if table is None:
        raise errors.table_not_found(parts[1])
    if len(parts) == 2:
        return Target(arn, table, "table")
    if not any(s.arn == arn for s in streams.streams_of(engine, table)):
        raise errors.resource_not_found(
            f"Requested resource not found: Stream: {parts[3]} not found for Table: {table.name}"
        )
    return Target(arn, table, "stream")


# --------------------------------------------------------------------------- storage


@dataclass(slots=True)
class Record:
    arn: str
    tid: int
    text: str | None
    """The canonical document; None once deleted (a tombstone)."""
    fingerprint: str | None
    revision: str


class PolicyStore:
    """The ``resource_policies`` rows, and a dict of them by ARN."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        conn = engine.store.conn
        # Statement by statement: executescript would commit a caller's open transaction.
        for statement in (*SCHEMA, streams.HISTORY_SCHEMA):
            conn.execute(statement)
        self.records: dict[str, Record] = {}
        orphans = []
        for arn, tid, text, fingerprint, revision in conn.execute(
            "SELECT arn, tid, policy, fingerprint, revision FROM resource_policies"
        ):
            if tid in engine.by_id:
                self.records[arn] = Record(arn, tid, text, fingerprint, revision)
            else:
                orphans.append(tid)  # the table went before its policies (a crash between)
        for tid in set(orphans):
            conn.execute("DELETE FROM resource_policies WHERE tid = ?", (tid,))
        self._last = max((int(r.revision) for r in self.records.values()), default=0)

    def live(self, arn: str) -> Record | None:
        record = self.records.get(arn)
        return record if record is not None and record.text is not None else None

    def text_for(self, arn: str) -> str | None:
        """The policy strict mode applies to ``arn`` (an index uses its table's)."""
        record = self.live(arn)
        if record is None and "/index/" in arn:
            record = self.live(arn.split("/index/", 1)[0])
        return record.text if record is not None else None

    def _revision(self) -> str:
        self._last = max(int(self.engine.clock() * 1000), self._last + 1)
        return str(self._last)

    def _save(self, record: Record) -> None:
        self.engine.store.conn.execute(
            "INSERT OR REPLACE INTO resource_policies (arn, tid, policy, fingerprint, revision) "
            "VALUES (?, ?, ?, ?, ?)",
            (record.arn, record.tid, record.text, record.fingerprint, record.revision),
        )
        self.records[record.arn] = record

    def put(self, arn: str, tid: int, doc: Document) -> str:
        record = Record(arn, tid, doc.text, doc.fingerprint, self._revision())
        with self.engine.store.transaction():
            self._save(record)
        return record.revision

    def delete(self, record: Record) -> None:
        with self.engine.store.transaction():
            self._save(Record(record.arn, record.tid, None, None, self._revision()))

    def drop_table(self, tid: int) -> None:
        with self.engine.store.transaction() as conn:
            conn.execute("DELETE FROM resource_policies WHERE tid = ?", (tid,))
        for arn in [a for a, r in self.records.items() if r.tid == tid]:
            del self.records[arn]


# --------------------------------------------------------------------------- handlers


def _check_expected(expected: str | None, live: Record | None, table: Table) -> None:
    if expected is None:
        return
    prefix = f"Requested update for policy with revision id {expected}, but"
    if expected == NO_POLICY and live is not None:
        raise _not_found(
            f"Requested policy update expecting none to be present for table {table.name}, "
            f"but a policy exists with revision id {live.revision}."
        )
    if expected == NO_POLICY:
        return
    if live is None:
        raise _not_found(f"{prefix} table {table.name} has no associated policy.")
    if live.revision != expected:
        raise _not_found(
            f"{prefix} the policy associated to target table {table.name} has revision id "
            f"{live.revision}."
        )


def requested_arn(ctx: Any, params: dict[str, Any]) -> str | None:
    """The ARN a request acts on: its table's, the index's (Query/Scan with IndexName), or the
    ResourceArn it names; None when it names none."""
    name = params.get("TableName") or params.get("TableArn") or params.get("ResourceArn")
    if not name and isinstance(params.get("GlobalTableName"), str):
        return f"arn:aws:dynamodb::{ctx.account_id}:global-table/{params['GlobalTableName']}"
    if not name and isinstance(params.get("RequestItems"), dict) and params["RequestItems"]:
        name = next(iter(params["RequestItems"]))
    if not isinstance(name, str) or not name:
        return None
    arn = (
        name
        if name.startswith("arn:")
        else f"arn:aws:dynamodb:{ctx.region}:{ctx.account_id}:table/{name}"
    )
    index = params.get("IndexName")
    if isinstance(index, str) and index and arn.count("/") == 1:
        arn = f"{arn}/index/{index}"
    return arn


REPLICA_ACTIONS = {
    "Create": ("dynamodb:CreateTable", "dynamodb:CreateTableReplica"),
    "Delete": ("dynamodb:DeleteTable", "dynamodb:DeleteTableReplica"),
}


def replica_actions(ctx: Any, params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The actions a replica added or removed needs, on the replica's ARN."""
    name = params["TableName"]
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    out = []
    for upd in params["ReplicaUpdates"]:
        for action, needed in REPLICA_ACTIONS.items():
            region = (upd.get(action) or {}).get("RegionName")
            if isinstance(region, str) and region:
                arn = f"arn:aws:dynamodb:{region}:{ctx.account_id}:table/{name}"
                out += [(a, arn) for a in needed]
    return tuple(out)


class PolicyHandlers:
    """PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy, mixed into
    ``DynamoDBService``."""

    engine: Engine
    env: Any

    def _policy_store(self) -> PolicyStore:
        store = self.__dict__.get("_policies")
        if store is None:
            store = self.__dict__["_policies"] = PolicyStore(self.engine)
        return store

    def _policy_target(self, ctx: Any, arn: str) -> Target:
        return resolve(self.engine, ctx.account_id, ctx.region, arn)

    def put_resource_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        target = self._policy_target(ctx, params["ResourceArn"])
        doc = check_document(params["Policy"], target.kind)
        store = self._policy_store()
        live = store.live(target.arn)
        _check_expected(params.get("ExpectedRevisionId"), live, target.table)
        if not params.get("ConfirmRemoveSelfResourceAccess"):
            self._check_lockout(ctx, target.arn, doc)
        if live is not None and live.fingerprint == doc.fingerprint:
            return {"RevisionId": live.revision}
        return {"RevisionId": store.put(target.arn, target.table.tid, doc)}

    def get_resource_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        arn = params["ResourceArn"]
        target = self._policy_target(ctx, arn)
        live = self._policy_store().live(target.arn)
        if live is None:
            raise _not_found(arn)
        return {"Policy": live.text, "RevisionId": live.revision}

    def delete_resource_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        target = self._policy_target(ctx, params["ResourceArn"])
        store = self._policy_store()
        live = store.live(target.arn)
        _check_expected(params.get("ExpectedRevisionId"), live, target.table)
        if live is None:
            # Idempotent: nothing, or the id of the deletion that already happened.
            record = store.records.get(target.arn)
            return {"RevisionId": record.revision} if record is not None else {}
        store.delete(live)
        return {"RevisionId": live.revision}

    def _check_lockout(self, ctx: Any, arn: str, doc: Document) -> None:
        """Refuse a document that would deny the caller future PutResourcePolicy calls."""
        principal = getattr(ctx, "principal", None) or Principal.root(ctx.account_id)
        source = getattr(self.env.credentials, "policies", None)
        identity = source.identity_for(principal) if source is not None else None
        if identity is None:
            caller = policy.Caller(principal.arn, principal.account_id, principal.kind)
            identity = Identity(caller, ())
        context = request_context(ctx, principal, identity)
        request = policy.Request("dynamodb:PutResourcePolicy", arn, identity.caller, context)
        if policy.evaluate(request, (), doc.compiled).denied_by == "resource":
            raise lockout()

    # ---- for CreateTable, DeleteTable and strict mode

    def _add_table(self, ctx: Any, table: Table, params: dict[str, Any]) -> None:
        """Create ``table`` with CreateTable's ``ResourcePolicy``, in one transaction."""
        text = params.get("ResourcePolicy")
        doc = check_document(text, "table") if text is not None else None
        store = self._policy_store()
        with self.engine.store.transaction():
            self.engine.add_table(table)
            if doc is not None:
                store.put(table.arn, table.tid, doc)

    def _drop_policies(self, table: Table) -> None:
        """DeleteTable: the table's policy and its streams' go with it."""
        self._policy_store().drop_table(table.tid)

    def _resource_policy_text(self, arn: str) -> str | None:
        """The policy that applies to a table, index or stream ARN (None when none)."""
        return self._policy_store().text_for(arn)

    def _policy_resource(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[str, str | None]:
        arn = requested_arn(ctx, params)
        if arn is None:
            return "*", None
        return arn, self._resource_policy_text(arn)

    def _dependent_actions(
        self, ctx: Any, operation: str, params: dict[str, Any]
    ) -> tuple[tuple[str, str], ...]:
        """CreateTable with a ``ResourcePolicy`` also needs ``dynamodb:PutResourcePolicy``
        on the new table, as AWS asks; UpdateTable's ReplicaUpdates need, on the replica
        in its region, CreateTable and CreateTableReplica to add it and DeleteTable and
        DeleteTableReplica to remove it (developer guide, V2gt_IAM)."""
        if operation == "CreateTable" and params.get("ResourcePolicy") is not None:
            arn = requested_arn(ctx, params)
            if arn is not None:
                return (("dynamodb:PutResourcePolicy", arn),)
        if operation == "UpdateTable" and params.get("ReplicaUpdates"):
            return replica_actions(ctx, params)
        return ()
