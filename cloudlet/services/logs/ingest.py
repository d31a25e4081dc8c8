"""What happens to a PutLogEvents batch between acceptance and storage.

Why a module of its own: two features rewrite events at ingestion, and their order is
the contract every reader depends on. A log group's transformer (``transformers``) runs
first, on the event as sent; then data protection (``data_protection``) masks what its
policies find in the result. The masked text is stored as the event (the unmasked one
beside it, for ``unmask``), the findings go to the policies' audit destinations, and the
filters that do not ask for transformed logs get the event as sent, masked too ("masked
at all egress points").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudlet.core.data_identifiers import Finding
from cloudlet.services.logs.data_protection import Protection
from cloudlet.services.logs.processors import transform
from cloudlet.services.logs.store import Row

Stored = list[tuple[int, str, str | None]]
"""(timestamp, message as stored, the unmasked message or None)."""


class IngestMixin:
    """Needs ``_transformer`` (TransformersMixin), ``_protection`` and ``_audit``
    (DataProtectionMixin)."""

    _transformer: Callable[[Any, Row], list | None]
    _protection: Callable[[Any, Row], Protection | None]
    _audit: Callable[[Any, Row, Protection, list[list[Finding]]], None]

    def _prepare(
        self, ctx: Any, group: Row, stream: Row, accepted: list[tuple[int, str]]
    ) -> tuple[Stored, list[tuple[int, str]] | None]:
        """The batch as stored, and as ingested (masked) when a transformer changed it."""
        steps = self._transformer(ctx, group)
        protection = self._protection(ctx, group)
        if steps is None and protection is None:
            return [(ts, m, None) for ts, m in accepted], None
        meta = {
            "@logGroupName": group["name"],
            "@logGroupStream": stream["name"],
            "@accountId": ctx.account_id,
            "@regionName": ctx.region,
        }
        rows: Stored = []
        ingested: list[tuple[int, str]] | None = [] if steps is not None else None
        found: list[list[Finding]] = []
        for ts, message in accepted:
            transformed = transform(steps, message, meta) if steps is not None else None
            text = message if transformed is None else transformed
            if protection is None:
                rows.append((ts, text, None))
            else:
                masked, findings = protection.apply(text)
                rows.append((ts, masked, text if masked != text else None))
                found.append(findings)
            if ingested is not None:
                ingested.append((ts, protection.mask(message) if protection else message))
        if protection is not None and any(found):
            self._audit(ctx, group, protection, found)
        return rows, ingested
