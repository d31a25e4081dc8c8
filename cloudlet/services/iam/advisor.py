"""Access advisor: service (and action) last accessed reports for a user, group, role
or managed policy, from what strict mode recorded (``tracking``).

GenerateServiceLastAccessedDetails starts a job (``IN_PROGRESS``) that a background
pass completes moments later (``COMPLETED``, or ``FAILED`` with its ``Error`` when
the entity is gone by then); the report is a snapshot taken then, kept with the job.
It lists every namespace the permissions policies in scope grant
(``namespaces.granted``), sorted by namespace, each with the last attempt of the
entities in scope: the user or role itself; a group's members; the users (directly
or through a group) and roles a policy is attached to. A service nobody attempted
shows ``TotalAuthenticatedEntities`` 0 and nothing else, as AWS shows it. At
``ACTION_LEVEL`` each service lists the actions attempted
(``TrackedActionsLastAccessed``, the action's name without its prefix); cloudlet
tracks every action of every service. GetServiceLastAccessedDetailsWithEntities
lists the entities in scope for one granted namespace, most recent first.

As AWS documents, a job's id is good only for whoever generated it (the same user,
or the same role session); anyone else gets ``NoSuchEntity``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.iam import errors
from cloudlet.services.iam.common import check_constraints, dt, page
from cloudlet.services.iam.namespaces import granted, namespace_of, service_name
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
Attempt = tuple[float, str, str]
"""(epoch seconds, Region, entity ARN) of an attempt."""
_REPORT_KINDS = ("user", "group", "role", "policy")
_ID_KEYS = {"user": ("UserName", "UserId"), "role": ("RoleName", "RoleId")}


def _info(kind: str, doc: Doc) -> Result:
    name, ident = _ID_KEYS[kind]
    return {
        "Arn": doc["Arn"],
        "Name": doc[name],
        "Type": kind.upper(),
        "Id": doc[ident],
        "Path": doc["Path"],
    }


def _latest(current: Attempt | None, candidate: Attempt) -> Attempt:
    return candidate if current is None or candidate[0] > current[0] else current


class AdvisorHandlers:
    store: Any
    tracker: Any
    _now: Callable[[], float]
    _entity_by_arn: Callable[[str, str, tuple[str, ...]], tuple[str, Doc]]
    _permission_policies: Callable[[str, str, Doc], list[tuple[Result, str]]]
    _groups_of: Callable[[str, Doc], list[Doc]]

    def generate_service_last_accessed_details(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("GenerateServiceLastAccessedDetails", params)
        account = ctx.account_id
        self._entity_by_arn(account, params["Arn"], _REPORT_KINDS)
        principal = getattr(ctx, "principal", None)
        job_id = str(uuid.uuid4())
        job: Doc = {
            "JobId": job_id,
            "Account": account,
            "Arn": params["Arn"],
            "Granularity": params.get("Granularity") or "SERVICE_LEVEL",
            "Status": "IN_PROGRESS",
            "Created": self._now(),
            "Caller": principal.arn if principal is not None else None,
        }
        self.store.put("access_job", job_id, job)
        return {"JobId": job_id}

    def _job(self, ctx: Any, job_id: str) -> Doc:
        job = self.store.get("access_job", job_id)
        principal = getattr(ctx, "principal", None)
        caller = principal.arn if principal is not None else None
        if job is None or job["Account"] != ctx.account_id or job["Caller"] != caller:
            raise errors.no_such_entity(f"No report exists with the job ID {job_id}.")
        return job

    @staticmethod
    def _job_status(job: Doc) -> Result:
        out: Result = {"JobStatus": job["Status"], "JobCreationDate": dt(job["Created"])}
        if job.get("Completed") is not None:
            out["JobCompletionDate"] = dt(job["Completed"])
        if job.get("Error"):
            out["Error"] = job["Error"]
        return out

    def get_service_last_accessed_details(self, ctx: Any, params: dict[str, Any]) -> Result:
        check_constraints("GetServiceLastAccessedDetails", params)
        job = self._job(ctx, params["JobId"])
        services = [_shown_service(s) for s in job.get("Services", [])]
        out = page(services, params, "ServicesLastAccessed")
        out.update(self._job_status(job))
        out["JobType"] = job["Granularity"]
        return out

    def get_service_last_accessed_details_with_entities(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        check_constraints("GetServiceLastAccessedDetailsWithEntities", params)
        job = self._job(ctx, params["JobId"])
        namespace = params["ServiceNamespace"].lower()
        rows: list[tuple[float, Result]] = []
        if any(s["ServiceNamespace"] == namespace for s in job.get("Services", [])):
            for entity in job.get("Entities", []):
                row: Result = {"EntityInfo": entity["Info"]}
                last = entity["Last"].get(namespace)
                if last is not None:
                    row["LastAuthenticated"] = dt(last)
                rows.append((last or 0.0, row))
        rows.sort(key=lambda r: -r[0])
        out = page([row for _, row in rows], params, "EntityDetailsList")
        out.update(self._job_status(job))
        return out

    # -- the background pass ------------------------------------------------------------

    def _complete_access_jobs(self) -> None:
        for job in list(self.store.data["access_job"].values()):
            if job["Status"] == "IN_PROGRESS":
                self._run_job(job)

    def _run_job(self, job: Doc) -> None:
        account = job["Account"]
        try:
            kind, doc = self._entity_by_arn(account, job["Arn"], _REPORT_KINDS)
        except ServiceError as exc:
            job.update(Status="FAILED", Completed=self._now())
            job["Error"] = {"Code": exc.code, "Message": exc.message}
            self.store.save("access_job", job)
            return
        texts, entities = self._report_scope(account, kind, doc)
        namespaces = sorted(set().union(*(granted(t) for t in texts)))
        seen = {info["Arn"]: self._attempts_by_namespace(info["Arn"]) for info in entities}
        services = [
            self._service_entry(ns, seen, action_level=job["Granularity"] == "ACTION_LEVEL")
            for ns in namespaces
        ]
        job["Services"] = services
        job["Entities"] = [
            {
                "Info": info,
                "Last": {
                    ns: max(t for t, _ in actions.values())
                    for ns, actions in seen[info["Arn"]].items()
                },
            }
            for info in entities
        ]
        job.update(Status="COMPLETED", Completed=self._now())
        self.store.save("access_job", job)

    def _report_scope(self, account: str, kind: str, doc: Doc) -> tuple[list[str], list[Result]]:
        """The report's policy documents and the users and roles whose attempts count."""
        if kind == "policy":
            version = doc["Versions"][doc["DefaultVersionId"]]
            texts = [version["Document"]]
            arn = doc["Arn"]
            entities: dict[str, Result] = {}
            for user in self.store.all("user", account):
                groups = self._groups_of(account, user)
                if arn in user["Attached"] or any(arn in g["Attached"] for g in groups):
                    entities[user["Arn"]] = _info("user", user)
            for role in self.store.all("role", account):
                if arn in role["Attached"]:
                    entities[role["Arn"]] = _info("role", role)
            return texts, sorted(entities.values(), key=lambda e: e["Arn"])
        texts = [text for _, text in self._permission_policies(account, kind, doc)]
        if kind == "group":
            members = [self.store.get("user", key(account, name)) for name in doc["Members"]]
            return texts, [_info("user", u) for u in members if u is not None]
        return texts, [_info(kind, doc)]

    def _attempts_by_namespace(self, entity: str) -> dict[str, dict[str, tuple[float, str]]]:
        out: dict[str, dict[str, tuple[float, str]]] = {}
        for action, attempt in self.tracker.actions_of(entity).items():
            prefix, _, name = action.partition(":")
            out.setdefault(namespace_of(prefix), {})[name] = attempt
        return out

    @staticmethod
    def _service_entry(
        namespace: str, seen: dict[str, dict[str, dict[str, tuple[float, str]]]], action_level: bool
    ) -> Result:
        last: Attempt | None = None
        tracked: dict[str, Attempt] = {}
        count = 0
        for entity, by_namespace in seen.items():
            actions = by_namespace.get(namespace)
            if not actions:
                continue
            count += 1
            for name, (when, region) in actions.items():
                last = _latest(last, (when, region, entity))
                tracked[name] = _latest(tracked.get(name), (when, region, entity))
        entry: Result = {
            "ServiceName": service_name(namespace),
            "ServiceNamespace": namespace,
            "TotalAuthenticatedEntities": count,
        }
        if last is not None:
            entry.update(
                LastAuthenticated=last[0],
                LastAuthenticatedEntity=last[2],
                LastAuthenticatedRegion=last[1],
            )
        if action_level and tracked:
            entry["Tracked"] = [[name, *tracked[name]] for name in sorted(tracked)]
        return entry


def _shown_service(entry: Result) -> Result:
    out = {k: v for k, v in entry.items() if k not in ("LastAuthenticated", "Tracked")}
    if entry.get("LastAuthenticated") is not None:
        out["LastAuthenticated"] = dt(entry["LastAuthenticated"])
    if entry.get("Tracked"):
        out["TrackedActionsLastAccessed"] = [
            {
                "ActionName": name,
                "LastAccessedEntity": entity,
                "LastAccessedTime": dt(when),
                "LastAccessedRegion": region,
            }
            for name, when, region, entity in entry["Tracked"]
        ]
    return out
