"""Archive operations: Create/Describe/List/Update/DeleteArchive, keeping a bus's events
in its archives, and the retention sweep.

An archive belongs to one bus of the caller's account and region and keeps every event
put on it (PutEvents, AWS service events, events forwarded from another bus) that its
pattern matches (no pattern: all of them), except replayed ones, as on AWS. The events
are rows of the service's SQLite database (``archived.py``), written before PutEvents
answers; EventCount and SizeBytes (the JSON envelope's UTF-8 bytes) count those rows.
AWS also shows a managed rule per archive (``Events-Archive-<name>``); cloudlet archives
without one, so ListRules shows only the caller's rules. An archive is always
``ENABLED``. Deleting its bus leaves it, holding what it kept.

Retention: every ``CLOUDLET_EVENTS_ARCHIVE_SWEEP_SECONDS`` (default an hour), events
whose time is more than ``RetentionDays`` days ago are deleted (0 keeps them forever).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.events import errors
from cloudlet.services.events.common import (
    BUS_ARN,
    archive_arn,
    check_length,
    check_rule_name,
    event_seconds,
    filtered_page,
)
from cloudlet.services.events.patterns import check_pattern, compiled, matches
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
SWEEP_SECONDS = seconds_setting("CLOUDLET_EVENTS_ARCHIVE_SWEEP_SECONDS", 3600.0, low=0.05)
DAY = 86400
STATES = ("ENABLED", "DISABLED", "CREATING", "UPDATING", "CREATE_FAILED", "UPDATE_FAILED")


def archive_view(archive: Doc, store: EventsStore, full: bool = False) -> Result:
    """An archive as ListArchives (``full``: DescribeArchive) shows it."""
    count, size = store.archived.totals(archive["ArchiveArn"])
    out: Result = {"ArchiveName": archive["ArchiveName"]}
    if full:
        out["ArchiveArn"] = archive["ArchiveArn"]
    out["EventSourceArn"] = archive["EventSourceArn"]
    if full:
        for key in ("Description", "EventPattern", "KmsKeyIdentifier"):
            if archive.get(key):
                out[key] = archive[key]
    out.update(
        State=archive["State"],
        RetentionDays=archive["RetentionDays"],
        SizeBytes=size,
        EventCount=count,
        CreationTime=archive["CreationTime"],
    )
    return out


def _summary(archive: Doc) -> Result:
    """What Create/UpdateArchive answer."""
    return {
        "ArchiveArn": archive["ArchiveArn"],
        "State": archive["State"],
        "CreationTime": archive["CreationTime"],
    }


def _check(params: dict[str, Any]) -> None:
    """The members Create and UpdateArchive share."""
    check_length(params.get("Description"), "description", 512)
    if params.get("EventPattern"):
        check_pattern(params["EventPattern"])
    days = params.get("RetentionDays")
    if days is not None and days < 0:
        raise errors.constraint(
            days, "retentionDays", "Member must have value greater than or equal to 0"
        )


class ArchiveHandlers:
    store: EventsStore
    _bus: Callable[..., Doc]
    """``BusHandlers._bus``: the bus a request names, or AWS's not-found error."""

    def _archive_named(self, ctx: Any, name: str) -> Doc:
        check_rule_name(name, "archiveName", 48)
        found = self.store.archives.get(archive_arn(ctx.region, ctx.account_id, name))
        if found is None:
            raise errors.not_found(f"Archive {name} does not exist.")
        return found

    def create_archive(self, ctx: Any, params: dict[str, Any]) -> Result:
        name, source = params["ArchiveName"], params["EventSourceArn"]
        check_rule_name(name, "archiveName", 48)
        _check(params)
        m = BUS_ARN.fullmatch(source)
        if m is None:
            raise errors.validation(
                f"Parameter EventSourceArn is not valid. Reason: {source} is not an event bus ARN."
            )
        region, account, bus_name = m.groups()
        if (region, account) != (ctx.region, ctx.account_id):
            raise errors.bus_not_found(bus_name)
        bus = self._bus(ctx, source)
        arn = archive_arn(ctx.region, ctx.account_id, name)
        if arn in self.store.archives:
            raise errors.already_exists(f"Archive {name} already exists.")
        archive: Doc = {
            "ArchiveName": name,
            "ArchiveArn": arn,
            "EventSourceArn": bus["Arn"],
            "State": "ENABLED",
            "RetentionDays": params.get("RetentionDays") or 0,
            "CreationTime": clock.time(),
        }
        for key in ("Description", "EventPattern", "KmsKeyIdentifier"):
            if params.get(key):
                archive[key] = params[key]
        self.store.save_archive(archive)
        return _summary(archive)

    def describe_archive(self, ctx: Any, params: dict[str, Any]) -> Result:
        return archive_view(self._archive_named(ctx, params["ArchiveName"]), self.store, True)

    def list_archives(self, ctx: Any, params: dict[str, Any]) -> Result:
        shown, token = filtered_page(
            "ListArchives",
            params,
            self.store.archives,
            archive_arn(ctx.region, ctx.account_id, ""),
            "ArchiveName",
            STATES,
        )
        out: Result = {"Archives": [archive_view(a, self.store) for a in shown]}
        if token:
            out["NextToken"] = token
        return out

    def update_archive(self, ctx: Any, params: dict[str, Any]) -> Result:
        archive = self._archive_named(ctx, params["ArchiveName"])
        _check(params)
        for key in ("Description", "EventPattern", "KmsKeyIdentifier", "RetentionDays"):
            if key in params:
                archive[key] = params[key]
        self.store.save_archive(archive)
        return _summary(archive)

    def delete_archive(self, ctx: Any, params: dict[str, Any]) -> Result:
        self.store.delete_archive(self._archive_named(ctx, params["ArchiveName"]))
        return {}

    # -- the work ---------------------------------------------------------------------

    def _archive(self, bus: Doc, event: Doc) -> None:
        """Keep ``event``, just put on ``bus``, in each of its archives that wants it."""
        text = None
        for archive in self.store.archives_of(bus["Arn"]):
            pattern = archive.get("EventPattern")
            if pattern and not matches(compiled(pattern), event):
                continue
            text = text or json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            self.store.archived.add(archive["ArchiveArn"], event_seconds(event), text)

    def _sweep_archives(self, now: float | None = None) -> int:
        """Delete archived events past their archive's retention; how many."""
        now = clock.time() if now is None else now
        gone = 0
        for archive in list(self.store.archives.values()):
            if archive.get("RetentionDays"):
                before = now - archive["RetentionDays"] * DAY
                gone += self.store.archived.expire(archive["ArchiveArn"], before)
        return gone
