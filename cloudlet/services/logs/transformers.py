"""Log transformers: Put/Get/Delete/TestTransformer, and the transformer a group's events get.

A mixin of ``LogsService``; the processors are ``processors``'s and ``mutators``'s. Why it
works this way (the PutTransformer reference and the user guide's "Transform logs during
ingestion"):

- Transformers are for log groups of the Standard class (``InvalidOperationException``
  otherwise). A group's own transformer wins over the account's ``TRANSFORMER_POLICY``
  (``account_policies``), which "is ignored" for that group.
- Transformation happens at ingestion: "ingested log events are converted and stored in
  a standard format", so the stored event (GetLogEvents, FilterLogEvents, Insights,
  Live Tail) is the transformed one; metric and subscription filters see the event as
  ingested unless they were put with ``applyOnTransformedLogs`` (``filters``). Events
  ingested before the transformer existed stay as they were.
- TestTransformer runs a configuration over up to 50 messages without storing anything;
  an event whose transformation fails has no ``transformedEventMessage``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.logs import errors
from cloudlet.services.logs.groups import now_ms
from cloudlet.services.logs.processors import check_config, transform
from cloudlet.services.logs.store import Row, Store

Result = dict[str, Any]
KIND = "transformer"
Steps = list[tuple[str, dict]]


@lru_cache(maxsize=256)
def _steps(config_json: str) -> Steps:
    return check_config(json.loads(config_json))


def steps_of(config: list) -> Steps:
    """A stored (so already checked) configuration's processors, compiled once."""
    return _steps(json.dumps(config, sort_keys=True))


class TransformersMixin:
    """Needs ``_group`` (GroupsMixin), ``store`` and ``_account_transformer``
    (AccountPoliciesMixin)."""

    store: Store

    _group: Callable[[Any, dict[str, Any]], Row]
    _account_transformer: Callable[[str, str, str], list | None]

    def put_transformer(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        if group["class"] != "STANDARD":
            raise ServiceError(
                "InvalidOperationException",
                "Transformers can be created only for log groups in the Standard log class.",
                400,
            )
        config = params["transformerConfig"]
        check_config(config)
        now = now_ms()
        current = self.store.group_doc(group["id"], KIND)
        doc = {
            "transformerConfig": config,
            "creationTime": current["creationTime"] if current else now,
            "lastModifiedTime": now,
        }
        self.store.put_group_doc(group["id"], KIND, doc)
        return {}

    def get_transformer(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        doc = self.store.group_doc(group["id"], KIND) or {}
        return {"logGroupIdentifier": params["logGroupIdentifier"], **doc}

    def delete_transformer(self, ctx: Any, params: dict[str, Any]) -> Result:
        group = self._group(ctx, params)
        if not self.store.delete_group_doc(group["id"], KIND):
            raise errors.not_found(f"The log group {group['name']} has no transformer.")
        return {}

    def test_transformer(self, ctx: Any, params: dict[str, Any]) -> Result:
        steps = check_config(params["transformerConfig"])
        messages = params.get("logEventMessages") or []
        if not 1 <= len(messages) <= 50:
            rule = "greater than or equal to 1" if not messages else "less than or equal to 50"
            raise errors.constraint("[...]", "logEventMessages", f"Member must have length {rule}")
        out = []
        for n, message in enumerate(messages, 1):
            record: Result = {"eventNumber": n, "eventMessage": message}
            transformed = transform(steps, message)
            if transformed is not None:
                record["transformedEventMessage"] = transformed
            out.append(record)
        return {"transformedLogs": out}

    def _transformer(self, ctx: Any, group: Row) -> Steps | None:
        """The processors the group's new events go through (None: no transformer)."""
        own = self.store.group_doc(group["id"], KIND)
        if own is not None:
            return steps_of(own["transformerConfig"])
        config = self._account_transformer(ctx.account_id, ctx.region, group["name"])
        return steps_of(config) if config else None
