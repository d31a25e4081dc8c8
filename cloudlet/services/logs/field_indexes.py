"""CloudWatch Logs field indexes: index policies, the index they build, and its use.

Why it exists: AWS indexes the fields an index policy names as events arrive, and Logs
Insights then reads only the events that hold the value a query asks for. Here the
same happens in the Logs database (``field_index_store``):

- Policies: a log group's own (Put/Describe/DeleteIndexPolicy, ``{"Fields": [...]}``
  and/or ``{"FieldsV2": {name: {"type": "FIELD_INDEX" | "FACET"}}}``, 20 fields of
  100 characters at most, ``@``-fields only those Insights generates, ``@@name`` for a
  field named ``@name``) or the account's ``FIELD_INDEX_POLICY`` (PutAccountPolicy, for
  every group or by ``LogGroupNamePrefix IN [...]``); the group's own wins.
- Default indexes, as AWS gives every Standard-class group: ``@logStream`` (the events
  table's stream index answers it) and ``traceId``. ``@aws.region``, ``@aws.account``
  and ``@source.log`` describe centralized logs, which cloudlet does not have.
- Ingestion: each event's indexed values (fields as Insights flattens a JSON event,
  generated ones such as ``@requestId``) are written in the event's transaction.
- Queries: ``filterIndex`` scans only groups and events the index holds with the asked
  values; a ``filter`` on an indexed field skips the events the index shows cannot match
  (same rows, fewer ``recordsScanned``). DescribeFieldIndexes reports what the index holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from cloudlet.services.logs import errors
from cloudlet.services.logs.account_policies import parse_criteria
from cloudlet.services.logs.field_index_store import Entries, key
from cloudlet.services.logs.groups import group_arn, name_from_identifier, now_ms, page
from cloudlet.services.logs.insights import Query, flatten, record
from cloudlet.services.logs.store import Row, Store

Result = dict[str, Any]
KIND = "index_policy"
MAX_FIELDS = 20
MAX_FIELD_CHARS = 100
MAX_PREFIX_POLICIES = 20
DEFAULTS = ("@logStream", "traceId")
GENERATED = frozenset(
    {
        "@logStream",
        "@ingestionTime",
        "@requestId",
        "@type",
        "@initDuration",
        "@duration",
        "@billedDuration",
        "@memorySize",
        "@maxMemoryUsed",
        "@xrayTraceId",
        "@xraySegmentId",
    }
)
TYPES = ("FIELD_INDEX", "FACET")
_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]+")
_PAGE = 100


@lru_cache(maxsize=256)
def parse_policy(text: str) -> dict[str, str]:
    """The fields of an index policy document and their index types, or
    ``InvalidParameterException`` saying what is wrong."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise errors.invalid("The field index policy document is not valid JSON.") from None
    if not isinstance(doc, dict) or not doc or set(doc) - {"Fields", "FieldsV2"}:
        raise errors.invalid(
            'A field index policy is a JSON object with "Fields" (a list of field names) '
            'and/or "FieldsV2" (field names to {"type": "FIELD_INDEX" | "FACET"}).'
        )
    fields: dict[str, str] = {}
    plain = doc.get("Fields", [])
    if not isinstance(plain, list) or not all(isinstance(f, str) for f in plain):
        raise errors.invalid('"Fields" must be a list of field names.')
    typed = doc.get("FieldsV2", {})
    if not isinstance(typed, dict):
        raise errors.invalid('"FieldsV2" must map field names to {"type": ...}.')
    for name in plain:
        if name in fields:
            raise errors.invalid(f"The field {name} is listed more than once.")
        fields[name] = "FIELD_INDEX"
    for name, spec in typed.items():
        if name in fields:
            raise errors.invalid(
                "Field names within Fields and FieldsV2 must be mutually exclusive: "
                f"{name} is in both."
            )
        if not isinstance(spec, dict) or set(spec) != {"type"} or spec["type"] not in TYPES:
            raise errors.invalid(
                f'The field {name} in FieldsV2 needs {{"type": "FIELD_INDEX"}} or '
                '{"type": "FACET"}.'
            )
        fields[name] = spec["type"]
    if not fields:
        raise errors.invalid("The policy document must include at least one field index.")
    if len(fields) > MAX_FIELDS:
        raise errors.invalid(f"A field index policy can include at most {MAX_FIELDS} fields.")
    for name in fields:
        _check_name(name)
    return fields


def _check_name(name: str) -> None:
    if len(name) > MAX_FIELD_CHARS:
        raise errors.invalid(
            f"The field name {name[:40]}... is longer than {MAX_FIELD_CHARS} characters."
        )
    bare = name[2:] if name.startswith("@@") else name[1:] if name.startswith("@") else name
    if not _NAME.fullmatch(bare):
        raise errors.invalid(
            f"The field name {name} is not valid: use letters, digits and . - _ / #."
        )
    if name.startswith("@") and not name.startswith("@@") and name not in GENERATED:
        raise errors.invalid(
            f"{name} is not a field CloudWatch Logs generates that can be indexed; to index "
            f"a field of your log events whose name starts with @, write it as @{name}."
        )


def _json_fields(message: str) -> Result:
    if not message.startswith("{"):
        return {}
    try:
        doc = json.loads(message)
    except ValueError:
        return {}
    return flatten(doc) if isinstance(doc, dict) else {}


def _value(rec: Result, name: str) -> Any:
    return rec.get(name[1:] if name.startswith("@@") else name)


class FieldIndexesMixin:
    """Needs ``store`` and ``_account_documents`` (AccountPoliciesMixin)."""

    store: Store
    _account_documents: Callable[[str, str, str], list[Result]]

    # --- which policy applies ------------------------------------------------------------

    def _index_policy(self, group: Row) -> tuple[Result, str] | None:
        """The policy that indexes ``group`` (a log group's own wins) and its source."""
        own = self.store.group_doc(group["id"], KIND)
        if own is not None:
            return own, "LOG_GROUP"
        fallback = None
        for doc in self._account_documents(group["account"], group["region"], "FIELD_INDEX_POLICY"):
            criteria = doc.get("selectionCriteria")
            if not criteria:
                fallback = doc
            elif any(group["name"].startswith(p) for p in _prefixes(criteria)):
                return doc, "ACCOUNT"
        return (fallback, "ACCOUNT") if fallback is not None else None

    def _indexed_fields(self, group: Row) -> dict[str, str]:
        """Every field indexed in ``group`` with its type: the policy's and the defaults."""
        if group["class"] != "STANDARD":
            return {}
        found = self._index_policy(group)
        fields = dict(parse_policy(found[0]["policyDocument"])) if found else {}
        for name in DEFAULTS:
            fields.setdefault(name, "FIELD_INDEX")
        return fields

    # --- ingestion -----------------------------------------------------------------------

    def _index_batch(
        self, group: Row, stream: Row, rows: list[tuple[int, str, str | None]], now: int
    ) -> tuple[set[str], Entries] | None:
        """What ``Store.append`` writes to the index for a batch as stored."""
        fields = set(self._indexed_fields(group)) - {"@logStream"}
        if not fields:
            return None
        only_trace = fields == {"traceId"}
        generated = any(name.startswith("@") for name in fields)
        entries: Entries = []
        for ts, message, _raw in rows:
            if only_trace and not (message.startswith("{") and '"traceId"' in message):
                entries.append([])
                continue
            if generated:
                rec = record(ts, now, message, stream["name"], "", "")
            else:  # only a JSON event has fields of its own (record's, without the rest)
                rec = _json_fields(message)
            pairs = []
            for name in fields:
                value = _value(rec, name)
                if value is not None and not isinstance(value, dict | list):
                    pairs.append((name, key(value)))
            entries.append(pairs)
        return fields, entries

    # --- Insights ------------------------------------------------------------------------

    def _scan_for_query(
        self, group: Row, query: Query, start: int, end: int, with_raw: bool
    ) -> Iterator[tuple[Any, ...]]:
        """The group's events a query has to read, narrowed by its field indexes."""
        gid, where, args = group["id"], [], []
        for name, values in query.plan.required:
            if name == "@logStream":
                where.append(self._stream_clause(gid, values, args))
                continue
            if not self.store.fields.has_field(gid, name):
                return iter(())  # filterIndex skips groups not indexed on the field
            sql, more = self.store.fields.holding(gid, name, [key(v) for v in values])
            where.append(f"id IN ({sql})")
            args += more
        covered = self.store.fields.covered(gid) if query.plan.optional else {}
        for name, values in query.plan.optional:
            if name == "@logStream":
                where.append(self._stream_clause(gid, values, args))
            elif name in covered:
                sql, more = self.store.fields.holding(gid, name, [key(v) for v in values])
                where.append(f"(id <= ? OR id IN ({sql}))")
                args += [covered[name], *more]
        return self.store.scan(
            gid, None, None, start, end, with_raw=with_raw, where_sql=(where, args)
        )

    def _stream_clause(self, gid: int, values: list[Any], args: list[Any]) -> str:
        keys = {key(v) for v in values}
        sids = [s["id"] for s in self.store.streams(gid) if key(s["name"]) in keys]
        args += sids
        return f"sid IN ({','.join('?' * len(sids))})" if sids else "0"

    # --- operations ----------------------------------------------------------------------

    def _indexable_group(self, ctx: Any, identifier: str) -> Row:
        group = self.store.group(ctx.account_id, ctx.region, name_from_identifier(identifier))
        if group is None:
            raise errors.group_not_found()
        return group

    def put_index_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._indexable_group(ctx, params["logGroupIdentifier"])
        if group["class"] != "STANDARD":
            raise errors.invalid(
                "Only log groups in the Standard log class support field index policies."
            )
        text = params["policyDocument"]
        parse_policy(text)
        doc = {"policyDocument": text, "lastUpdateTime": now_ms()}
        self.store.put_group_doc(group["id"], KIND, doc)
        return {"indexPolicy": self._shape(ctx, group, doc, "LOG_GROUP")}

    def describe_index_policies(self, ctx: Any, params: dict[str, Any]) -> Result:
        found = []
        for identifier in params["logGroupIdentifiers"]:
            group = self._indexable_group(ctx, identifier)
            policy = self._index_policy(group)
            if policy is not None:
                found.append(self._shape(ctx, group, *policy))
        chunk, token = page(found, params.get("nextToken"), _PAGE)
        out: Result = {"indexPolicies": chunk}
        if token:
            out["nextToken"] = token
        return out

    def delete_index_policy(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._indexable_group(ctx, params["logGroupIdentifier"])
        if not self.store.delete_group_doc(group["id"], KIND):
            raise errors.not_found(
                f"The log group {group['name']} has no log group-level field index policy."
            )
        return {}

    def describe_field_indexes(self, ctx: Any, params: dict[str, Any]) -> Result:
        found: list[Result] = []
        for identifier in params["logGroupIdentifiers"]:
            group = self._indexable_group(ctx, identifier)
            arn = group_arn(ctx, group["name"])
            types = self._indexed_fields(group)
            rows = [
                (name, first, last, scan)
                for name, first, last, scan in self.store.fields.summary(group["id"])
            ]
            streams = [s for s in self.store.streams(group["id"]) if s["first_ts"] is not None]
            if streams and group["class"] == "STANDARD":
                rows.append(
                    (
                        "@logStream",
                        min(s["first_ts"] for s in streams),
                        max(s["last_ts"] for s in streams),
                        max(s["last_ingest"] or 0 for s in streams),
                    )
                )
            for name, first, last, scan in sorted(rows):
                item: Result = {
                    "logGroupIdentifier": arn,
                    "fieldIndexName": name,
                    "firstEventTime": first,
                    "lastEventTime": last,
                    "type": types.get(name, "FIELD_INDEX"),
                }
                if scan:
                    item["lastScanTime"] = scan
                found.append(item)
        chunk, token = page(found, params.get("nextToken"), _PAGE)
        out: Result = {"fieldIndexes": chunk}
        if token:
            out["nextToken"] = token
        return out

    @staticmethod
    def _shape(ctx: Any, group: Row, doc: Result, source: str) -> Result:
        out: Result = {
            "logGroupIdentifier": group_arn(ctx, group["name"]),
            "lastUpdateTime": doc.get("lastUpdateTime") or doc.get("lastUpdatedTime"),
            "policyDocument": doc["policyDocument"],
            "source": source,
        }
        if source == "ACCOUNT":
            out["policyName"] = doc["policyName"]
        return out

    # --- the account's FIELD_INDEX_POLICY (PutAccountPolicy) --------------------------

    def _check_field_index_account_policy(
        self, text: str, criteria: tuple[str, bool, list[str]] | None, others: list[Result]
    ) -> None:
        """A FIELD_INDEX_POLICY's document and selection against the account's others:
        20 prefix policies whose prefixes do not overlap, or one for every group."""
        parse_policy(text)
        mine = criteria[2] if criteria else None
        if others and (mine is None or any(not o.get("selectionCriteria") for o in others)):
            raise errors.invalid(
                "An account-level field index policy for all log groups cannot be combined "
                f"with other account-level field index policies ({others[0]['policyName']})."
            )
        if len(others) >= MAX_PREFIX_POLICIES:
            raise errors.limit_exceeded(
                f"An account can have at most {MAX_PREFIX_POLICIES} field index policies "
                "selected by log group name prefix."
            )
        for other in others:
            for a in mine or []:
                for b in _prefixes(other["selectionCriteria"]):
                    if a.startswith(b) or b.startswith(a):
                        raise errors.invalid(
                            f"The log group name prefix {a} overlaps {b} of the field index "
                            f"policy {other['policyName']}."
                        )


def _prefixes(criteria: str) -> list[str]:
    return parse_criteria("FIELD_INDEX_POLICY", criteria)[2]
