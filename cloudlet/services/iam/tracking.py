"""Access advisor's raw data: when each IAM user or role last attempted each action.

Strict mode evaluates every signed request against the principal's policies; as it
does, the authorizer tells the principal's ``Identity.record`` the IAM action and
Region (``cloudlet.auth.authorizer._check``, denied attempts included, as AWS counts
them). ``Identities`` binds that callable to the entity the attempt counts for: the
user's ARN, or the role's ARN behind an assumed-role session. The request path pays
one dict write (``record``); open mode never authorizes, so it records nothing.

``flush`` (a background pass every ``CLOUDLET_IAM_ACCESS_FLUSH_INTERVAL`` seconds,
and at stop) folds what was recorded into the per-entity view and writes the changed
entities to IAM's store, one ``access_record`` document per entity ARN, so the
history survives restarts. Readers (reports, RoleLastUsed) flush first and see
everything recorded so far. AWS reports the trailing 400 days; older attempts are
left out of what readers get.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from cloudlet.core.clock import clock
from cloudlet.services.iam.store import IamStore

TRACKING_PERIOD = 400 * 86400
Attempt = tuple[float, str]
"""(epoch seconds, Region) of an entity's last attempt at one action."""


def _store_key(entity: str) -> str:
    return f"{entity.split(':', 5)[4]}|{entity}"


class AccessTracker:
    def __init__(self, store: IamStore) -> None:
        self.store = store
        self.pending: dict[tuple[str, str], Attempt] = {}
        self.seen: dict[str, dict[str, Attempt]] = {}
        for doc in store.data["access_record"].values():
            self.seen[doc["Entity"]] = {a: (t, r) for a, (t, r) in doc["Actions"].items()}

    # -- the request path -------------------------------------------------------------

    def record(self, entity: str, action: str, region: str) -> None:
        """``entity`` (a user's or role's ARN) attempted ``action`` in ``region`` now."""
        self.pending[(entity, action)] = (clock.time(), region)

    def recorder(self, entity: str) -> Callable[[str, str], None]:
        """What an ``Identity`` calls for each action it is asked about."""
        return partial(self.record, entity)

    # -- off the request path ---------------------------------------------------------

    def flush(self) -> None:
        """Fold what was recorded into the view and write the entities that changed."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        changed: set[str] = set()
        for (entity, action), attempt in pending.items():
            actions = self.seen.setdefault(entity, {})
            known = actions.get(action)
            if known is None or known[0] <= attempt[0]:
                actions[action] = attempt
                changed.add(entity)
        for entity in changed:
            actions = self.seen[entity]
            doc = {"Entity": entity, "Actions": {a: list(v) for a, v in actions.items()}}
            self.store.put("access_record", _store_key(entity), doc)

    def forget(self, entity: str) -> None:
        """A deleted user's or role's history goes with it."""
        self.flush()
        if self.seen.pop(entity, None) is not None:
            self.store.delete("access_record", _store_key(entity))

    def rename(self, old: str, new: str) -> None:
        """A renamed (or moved) user or role keeps its history under its new ARN."""
        self.flush()
        actions = self.seen.pop(old, None)
        if actions is None or old == new:
            if actions is not None:
                self.seen[old] = actions
            return
        self.store.delete("access_record", _store_key(old))
        self.seen[new] = actions
        doc = {"Entity": new, "Actions": {a: list(v) for a, v in actions.items()}}
        self.store.put("access_record", _store_key(new), doc)

    def actions_of(self, entity: str) -> dict[str, Attempt]:
        """The entity's last attempt at each action within the tracking period."""
        self.flush()
        since = clock.time() - TRACKING_PERIOD
        return {a: v for a, v in self.seen.get(entity, {}).items() if v[0] >= since}

    def last_used(self, entity: str) -> Attempt | None:
        """The entity's most recent attempt at anything (a role's ``RoleLastUsed``)."""
        attempts = self.actions_of(entity).values()
        return max(attempts, default=None)
