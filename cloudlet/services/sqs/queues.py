"""Queues: the in-memory registry, written through to SQLite.

Every queue lives in a dict keyed by (account, region, name) with its settings
already parsed, so the hot path never reads the ``queues`` table or parses an
attribute; any change is written to SQLite before the call returns. Here too:
the rules that span queues (a ``RedrivePolicy`` must name an existing queue of
the same type that allows it), tags, and the ``Policy`` document that
AddPermission/RemovePermission edit.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from typing import Any

from cloudlet.core import clock as _clock
from cloudlet.core.ids import arn as make_arn
from cloudlet.services.sqs import errors
from cloudlet.services.sqs.attributes import (
    JSON_ATTRIBUTES,
    QueueConfig,
    apply,
    check_queue_name,
    config_from_wire,
    is_fifo_request,
    normalize,
    redrive_allowed,
)

RECENTLY_DELETED = 60.0
MAX_TAGS = 50
PERMISSION_ACTIONS = frozenset(
    {
        "*",
        "ChangeMessageVisibility",
        "DeleteMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ReceiveMessage",
        "SendMessage",
    }
)
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")


class Queue:
    """One queue's identity, settings and the waiters of its long polls."""

    __slots__ = (
        "id",
        "account",
        "region",
        "name",
        "arn",
        "config",
        "tags",
        "created",
        "modified",
        "purged_at",
        "deleted",
        "last_seq",
        "attempts",
        "_event",
        "_event_loop",
    )

    def __init__(
        self,
        queue_id: int,
        account: str,
        region: str,
        name: str,
        config: QueueConfig,
        tags: dict[str, str],
        created: float,
        modified: float,
        purged_at: float | None = None,
    ) -> None:
        self.id = queue_id
        self.account = account
        self.region = region
        self.name = name
        self.arn = make_arn("sqs", region, account, name)
        self.config = config
        self.tags = tags
        self.created = created
        self.modified = modified
        self.purged_at = purged_at
        self.deleted = False
        self.last_seq = 0
        self.attempts: dict[str, Any] = {}
        self._event: asyncio.Event | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None

    @property
    def fifo(self) -> bool:
        return self.config.fifo

    def url(self, host: str) -> str:
        return f"http://{host}/{self.account}/{self.name}"

    def next_seq(self, now: float) -> int:
        """FIFO sequence numbers: increasing, and still increasing after a restart."""
        self.last_seq = max(self.last_seq + 1, int(now * 1_000_000))
        return self.last_seq

    # Long polling: one Event per generation. A waiter awaits the current one;
    # ``notify`` sets it and starts a new generation, so a send costs one
    # attribute check when nobody waits.
    def waiter(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._event is None or self._event_loop is not loop:
            self._event = asyncio.Event()
            self._event_loop = loop
        return self._event

    def notify(self) -> None:
        event = self._event
        if event is not None:
            self._event = None
            event.set()


def parse_arn(arn: str) -> tuple[str, str, str] | None:
    """``arn:aws:sqs:region:account:name`` -> (account, region, name)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        return None
    return parts[4], parts[3], parts[5]


class QueueRegistry:
    """All queues of all accounts and regions, loaded once at start-up."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.queues: dict[tuple[str, str, str], Queue] = {}
        rows = conn.execute(
            "SELECT id, account, region, name, attributes, tags, created, modified, purged_at "
            "FROM queues"
        ).fetchall()
        for qid, account, region, name, attrs, tags, created, modified, purged in rows:
            queue = Queue(
                qid,
                account,
                region,
                name,
                config_from_wire(json.loads(attrs)),
                json.loads(tags),
                created,
                modified,
                purged,
            )
            self.queues[(account, region, name)] = queue

    # --- lookup -------------------------------------------------------------------------

    def get(self, account: str, region: str, name: str) -> Queue | None:
        return self.queues.get((account, region, name))

    def by_arn(self, arn: str) -> Queue | None:
        key = parse_arn(arn)
        return self.queues.get(key) if key else None

    def list(self, account: str, region: str, prefix: str = "") -> list[Queue]:
        found = [
            q
            for (a, r, n), q in self.queues.items()
            if a == account and r == region and n.startswith(prefix)
        ]
        return sorted(found, key=lambda q: q.name)

    def dead_letter_sources(self, dlq: Queue) -> list[Queue]:
        found = [
            q
            for q in self.queues.values()
            if q.config.redrive_policy is not None
            and q.config.redrive_policy.dead_letter_target_arn == dlq.arn
        ]
        return sorted(found, key=lambda q: q.name)

    # --- create / delete ----------------------------------------------------------------

    def create(
        self,
        account: str,
        region: str,
        name: str,
        attributes: dict[str, str],
        tags: dict[str, str],
    ) -> Queue:
        fifo = is_fifo_request(attributes)
        check_queue_name(name, fifo)
        values = {k: normalize(k, v, fifo, creating=True) for k, v in attributes.items()}
        config = QueueConfig(fifo=fifo)
        apply(config, values)
        arn = make_arn("sqs", region, account, name)
        self._check_redrive(arn, config)

        existing = self.get(account, region, name)
        if existing is not None:
            if existing.fifo != fifo:
                raise errors.queue_name_exists("FifoQueue")
            mine, theirs = config.to_wire(), existing.config.to_wire()
            for key in attributes:
                if not _same(key, mine.get(key), theirs.get(key)):
                    raise errors.queue_name_exists(key)
            return existing

        now = _clock.clock.time()
        row = self.conn.execute(
            "SELECT deleted_at FROM deleted_queues WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        ).fetchone()
        if row is not None and now - row[0] < RECENTLY_DELETED:
            raise errors.queue_deleted_recently()
        _check_tags(name, tags)
        cur = self.conn.execute(
            "INSERT INTO queues (account, region, name, attributes, tags, created, modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (account, region, name, json.dumps(config.to_wire()), json.dumps(tags), now, now),
        )
        queue = Queue(cur.lastrowid, account, region, name, config, dict(tags), now, now)
        queue.last_seq = int(now * 1_000_000)
        self.queues[(account, region, name)] = queue
        return queue

    def delete(self, queue: Queue) -> None:
        """Forget the queue and everything in it; its name rests for 60 seconds."""
        conn = self.conn
        now = _clock.clock.time()
        conn.execute("BEGIN")
        try:
            for table in ("messages", "fifo_groups", "fifo_dedup"):
                conn.execute(f"DELETE FROM {table} WHERE queue_id = ?", (queue.id,))
            conn.execute("DELETE FROM queues WHERE id = ?", (queue.id,))
            conn.execute(
                "INSERT OR REPLACE INTO deleted_queues (account, region, name, deleted_at) "
                "VALUES (?, ?, ?, ?)",
                (queue.account, queue.region, queue.name, now),
            )
            conn.execute("DELETE FROM deleted_queues WHERE deleted_at < ?", (now - 3600,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.queues.pop((queue.account, queue.region, queue.name), None)
        queue.deleted = True
        queue.notify()

    # --- attributes ---------------------------------------------------------------------

    def set_attributes(self, queue: Queue, attributes: dict[str, str]) -> None:
        values = {k: normalize(k, v, queue.fifo, creating=False) for k, v in attributes.items()}
        config = queue.config.copy()
        apply(config, values)
        if "RedrivePolicy" in values:
            self._check_redrive(queue.arn, config)
        self._save_config(queue, config)

    def _save_config(self, queue: Queue, config: QueueConfig) -> None:
        now = _clock.clock.time()
        self.conn.execute(
            "UPDATE queues SET attributes = ?, modified = ? WHERE id = ?",
            (json.dumps(config.to_wire()), now, queue.id),
        )
        queue.config = config
        queue.modified = now
        # A shorter delay or wait may let a waiting receive return sooner.
        queue.notify()

    def _check_redrive(self, source_arn: str, config: QueueConfig) -> None:
        policy = config.redrive_policy
        if policy is None:
            return
        text = policy.to_json()
        target = self.by_arn(policy.dead_letter_target_arn)
        if target is None:
            raise errors.invalid_value(text, "RedrivePolicy", "Dead letter target does not exist.")
        if target.fifo != config.fifo:
            raise errors.invalid_value(
                text,
                "RedrivePolicy",
                "Dead-letter queue must be same type of queue as the source.",
            )
        if not redrive_allowed(target.config.redrive_allow_policy, source_arn):
            raise errors.invalid_value(
                text,
                "RedrivePolicy",
                f"Queue {target.arn} does not allow {source_arn} to use it as a dead-letter queue.",
            )

    def mark_purged(self, queue: Queue, now: float) -> None:
        self.conn.execute("UPDATE queues SET purged_at = ? WHERE id = ?", (now, queue.id))
        queue.purged_at = now

    # --- tags ---------------------------------------------------------------------------

    def tag(self, queue: Queue, tags: dict[str, str]) -> None:
        if not tags:
            raise errors.missing_parameter("Tags")
        merged = {**queue.tags, **tags}
        _check_tags(queue.name, merged)
        self._save_tags(queue, merged)

    def untag(self, queue: Queue, keys: list[str]) -> None:
        if not keys:
            raise errors.missing_parameter("TagKeys")
        self._save_tags(queue, {k: v for k, v in queue.tags.items() if k not in set(keys)})

    def _save_tags(self, queue: Queue, tags: dict[str, str]) -> None:
        self.conn.execute("UPDATE queues SET tags = ? WHERE id = ?", (json.dumps(tags), queue.id))
        queue.tags = tags

    # --- permissions --------------------------------------------------------------------

    def add_permission(
        self, queue: Queue, label: str, account_ids: list[str], actions: list[str]
    ) -> None:
        if not _LABEL.fullmatch(label):
            raise errors.invalid_value(
                label,
                "Label",
                "Can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length",
            )
        if not account_ids:
            raise errors.missing_parameter("AWSAccountIds")
        if not actions:
            raise errors.missing_parameter("Actions")
        if len(actions) > 7:
            raise errors.over_limit(f"{len(actions)} Actions were found, maximum allowed is 7.")
        for action in actions:
            if action not in PERMISSION_ACTIONS:
                raise errors.invalid_value(
                    f"SQS:{action}",
                    "ActionName",
                    "Please refer to the appropriate WSDL for a list of valid actions.",
                )
        policy = self._policy(queue)
        if any(s.get("Sid") == label for s in policy["Statement"]):
            raise errors.invalid_value(label, "Label", "Already exists.")
        principals = [f"arn:aws:iam::{a}:root" for a in account_ids]
        sqs_actions = [f"SQS:{a}" for a in actions]
        policy["Statement"].append(
            {
                "Sid": label,
                "Effect": "Allow",
                "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                "Action": sqs_actions[0] if len(sqs_actions) == 1 else sqs_actions,
                "Resource": queue.arn,
            }
        )
        config = queue.config.copy()
        config.policy = json.dumps(policy, separators=(",", ":"))
        self._save_config(queue, config)

    def remove_permission(self, queue: Queue, label: str) -> None:
        policy = self._policy(queue)
        kept = [s for s in policy["Statement"] if s.get("Sid") != label]
        if len(kept) == len(policy["Statement"]):
            raise errors.invalid_value(label, "Label", "can't find label on existing policy.")
        config = queue.config.copy()
        policy["Statement"] = kept
        config.policy = json.dumps(policy, separators=(",", ":")) if kept else None
        self._save_config(queue, config)

    @staticmethod
    def _policy(queue: Queue) -> dict[str, Any]:
        if queue.config.policy:
            policy = json.loads(queue.config.policy)
            if not isinstance(policy.get("Statement"), list):
                statement = policy.get("Statement")
                policy["Statement"] = [statement] if statement else []
            return policy
        return {"Version": "2008-10-17", "Id": f"{queue.arn}/SQSDefaultPolicy", "Statement": []}


def _same(key: str, a: str | None, b: str | None) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return False
    if key in JSON_ATTRIBUTES:
        try:
            return json.loads(a) == json.loads(b)
        except ValueError:
            return False
    return False


def _check_tags(name: str, tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.invalid_parameter(f"Too many tags added for queue {name}.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise errors.invalid_parameter(
                "Tag keys must be between 1 and 128 characters and tag values at most 256 "
                "characters in length."
            )
