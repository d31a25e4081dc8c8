"""Replay operations: StartReplay, DescribeReplay, ListReplays, CancelReplay, and the
replay itself.

StartReplay answers ``STARTING``; the replay then runs after the response, as a
background task of the service: ``RUNNING``, it re-sends each event its archive holds
from ``EventStartTime`` to ``EventEndTime`` (the event's own time, both ends included),
oldest first, through the enabled rules of the archive's bus (only those
``Destination.FilterArns`` names, when it names some), then ``COMPLETED``. A replayed
event is the archived envelope with ``"replay-name": "<name>"`` added, as AWS delivers
it, and is not archived again. CancelReplay moves a starting or running replay to
``CANCELLING``; it stops before its next event, ``CANCELLED``.

Replays are durable; one that a restart interrupted is ``FAILED`` (a ``CANCELLING`` one
``CANCELLED``) rather than resumed, since its targets may have had part of it.
``CLOUDLET_EVENTS_REPLAY_DELAY`` seconds (default 0) pass in ``STARTING`` before a
replay runs, standing for AWS's start-up time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from cloudlet.core.background import Background
from cloudlet.core.clock import clock
from cloudlet.core.environ import seconds_setting
from cloudlet.services.events import errors
from cloudlet.services.events.common import (
    ARCHIVE_ARN,
    BUS_ARN,
    check_length,
    check_rule_name,
    epoch,
    filtered_page,
    replay_arn,
)
from cloudlet.services.events.store import Doc, EventsStore

Result = dict[str, Any]
START_DELAY = seconds_setting("CLOUDLET_EVENTS_REPLAY_DELAY", 0.0, high=3600.0)
STATES = ("STARTING", "RUNNING", "CANCELLING", "COMPLETED", "CANCELLED", "FAILED")
ACTIVE = ("STARTING", "RUNNING")
BATCH = 100
"""Events re-sent between two saves of the replay's progress."""
Dispatch = Callable[..., int]


def replay_view(replay: Doc, full: bool = False) -> Result:
    """A replay as ListReplays (``full``: DescribeReplay) shows it."""
    keys = ["ReplayName", "ReplayArn", "Description"] if full else ["ReplayName"]
    keys += ["EventSourceArn", "State", "StateReason"]
    keys += ["Destination"] if full else []
    keys += ["EventStartTime", "EventEndTime", "EventLastReplayedTime"]
    keys += ["ReplayStartTime", "ReplayEndTime"]
    return {k: replay[k] for k in keys if replay.get(k) is not None}


class ReplayHandlers:
    store: EventsStore
    replays: Background
    _dispatch: Dispatch
    """``PublishHandlers._dispatch``: an event through a bus's rules."""

    def _replay_named(self, ctx: Any, name: str) -> Doc:
        check_rule_name(name, "replayName")
        found = self.store.replays.get(replay_arn(ctx.region, ctx.account_id, name))
        if found is None:
            raise errors.not_found(f"Replay {name} does not exist.")
        return found

    def start_replay(self, ctx: Any, params: dict[str, Any]) -> Result:
        name, source = params["ReplayName"], params["EventSourceArn"]
        check_rule_name(name, "replayName")
        check_length(params.get("Description"), "description", 512)
        m = ARCHIVE_ARN.fullmatch(source)
        archive = self.store.archives.get(source) if m else None
        if archive is None:
            archive_name = m.group(3) if m else source
            raise errors.validation(
                f"Parameter EventSourceArn is not valid. Reason: Archive {archive_name} "
                "does not exist."
            )
        destination = params["Destination"]
        bus = BUS_ARN.fullmatch(destination["Arn"])
        if bus is None:
            raise errors.validation(
                "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN."
            )
        region, account, bus_name = bus.groups()
        if self.store.bus(account, region, bus_name) is None:
            raise errors.bus_not_found(bus_name)
        if destination["Arn"] != archive["EventSourceArn"]:
            raise errors.validation(
                "Parameter Destination.Arn is not valid. "
                "Reason: Cross event bus replay is not permitted."
            )
        start, end = epoch(params["EventStartTime"]), epoch(params["EventEndTime"])
        if end <= start:
            raise errors.validation(
                "Parameter EventEndTime is not valid. "
                "Reason: EventStartTime must be before EventEndTime."
            )
        now = clock.time()
        if end > now:
            raise errors.validation(
                "Parameter EventEndTime is not valid. Reason: EventEndTime cannot be in the future."
            )
        arn = replay_arn(ctx.region, ctx.account_id, name)
        if arn in self.store.replays:
            raise errors.already_exists(f"Replay {name} already exists.")
        replay: Doc = {
            "ReplayName": name,
            "ReplayArn": arn,
            "Description": params.get("Description"),
            "EventSourceArn": source,
            "Destination": destination,
            "State": "STARTING",
            "EventStartTime": start,
            "EventEndTime": end,
            "ReplayStartTime": now,
        }
        self.store.save_replay(replay)
        self.replays.spawn(self._run_replay(arn))
        return {"ReplayArn": arn, "State": "STARTING", "ReplayStartTime": now}

    def describe_replay(self, ctx: Any, params: dict[str, Any]) -> Result:
        return replay_view(self._replay_named(ctx, params["ReplayName"]), True)

    def list_replays(self, ctx: Any, params: dict[str, Any]) -> Result:
        shown, token = filtered_page(
            "ListReplays",
            params,
            self.store.replays,
            replay_arn(ctx.region, ctx.account_id, ""),
            "ReplayName",
            STATES,
        )
        out: Result = {"Replays": [replay_view(r) for r in shown]}
        if token:
            out["NextToken"] = token
        return out

    def cancel_replay(self, ctx: Any, params: dict[str, Any]) -> Result:
        replay = self._replay_named(ctx, params["ReplayName"])
        if replay["State"] not in ACTIVE:
            raise errors.illegal_status(replay["ReplayName"])
        replay["State"] = "CANCELLING"
        self.store.save_replay(replay)
        return {"ReplayArn": replay["ReplayArn"], "State": "CANCELLING"}

    # -- the work ---------------------------------------------------------------------

    def _interrupted_replays(self) -> None:
        """At start: what a restart cut short ends, FAILED (or CANCELLED)."""
        for replay in self.store.replays.values():
            if replay["State"] in ACTIVE:
                replay["StateReason"] = "The replay was interrupted by a restart of cloudlet."
                self._end_replay(replay, "FAILED")
            elif replay["State"] == "CANCELLING":
                self._end_replay(replay, "CANCELLED")

    def _end_replay(self, replay: Doc, state: str) -> None:
        replay["State"] = state
        replay["ReplayEndTime"] = clock.time()
        self.store.save_replay(replay)

    async def _run_replay(self, arn: str) -> None:
        await asyncio.sleep(START_DELAY)
        replay = self.store.replays[arn]
        if replay["State"] == "CANCELLING":
            return self._end_replay(replay, "CANCELLED")
        bus = self.store.buses.get(replay["Destination"]["Arn"])
        if bus is None or replay["EventSourceArn"] not in self.store.archives:
            replay["StateReason"] = "The archive or its event bus no longer exists."
            return self._end_replay(replay, "FAILED")
        replay["State"] = "RUNNING"
        self.store.save_replay(replay)
        filters = replay["Destination"].get("FilterArns")
        only = frozenset(filters) if filters else None
        found = self.store.archived.window(
            replay["EventSourceArn"], replay["EventStartTime"], replay["EventEndTime"]
        )
        for n, (when, text) in enumerate(found, 1):
            if replay["State"] == "CANCELLING":
                return self._end_replay(replay, "CANCELLED")
            event = json.loads(text)
            event["replay-name"] = replay["ReplayName"]
            self._dispatch(bus, event, only=only)
            replay["EventLastReplayedTime"] = when
            if n % BATCH == 0:
                self.store.save_replay(replay)
                await asyncio.sleep(0)
        self._end_replay(replay, "COMPLETED")
