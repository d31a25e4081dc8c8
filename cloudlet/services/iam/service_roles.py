"""IAM service-linked roles: roles an AWS service owns in the account.

CreateServiceLinkedRole makes ``AWSServiceRoleFor<Service>`` under
``/aws-service-role/<service principal>/``, trusting only that service and with the
service's AWS managed policy attached (from ``managed``, under ``/aws-service-role/``); nobody but the service
changes it: DeleteRole and UpdateAssumeRolePolicy answer ``UnmodifiableEntity``
(``roles.unmodifiable``). DeleteServiceLinkedRole deletes it and
hands back a deletion task whose status GetServiceLinkedRoleDeletionStatus reports.

Only services cloudlet runs that have service-linked roles on AWS are known
(``SERVICES``); any other name is refused as AWS refuses a service without one.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from cloudlet.services.iam import errors
from cloudlet.services.iam.roles import public_role
from cloudlet.services.iam.store import Doc, key

Result = dict[str, Any]
PATH_PREFIX = "/aws-service-role/"


class _Known:
    def __init__(self, role: str, policy: str, suffix: bool) -> None:
        self.role, self.policy, self.suffix = role, policy, suffix


SERVICES = {
    "elasticloadbalancing.amazonaws.com": _Known(
        "AWSServiceRoleForElasticLoadBalancing",
        "arn:aws:iam::aws:policy/aws-service-role/AWSElasticLoadBalancingServiceRolePolicy",
        suffix=False,
    ),
    "autoscaling.amazonaws.com": _Known(
        "AWSServiceRoleForAutoScaling",
        "arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy",
        suffix=True,
    ),
}
_SUFFIX = re.compile(r"^[\w+=,.@-]{1,64}$")


class ServiceRoleHandlers:
    store: Any
    _changed: Callable[[], None]
    _now: Callable[[], float]
    create_role: Callable[[Any, dict[str, Any]], Result]
    _entity: Callable[[str, str, str], Doc]

    def create_service_linked_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, service = ctx.account_id, params["AWSServiceName"]
        known = SERVICES.get(service)
        if known is None:
            raise errors.invalid_input(f"Invalid service name: {service}")
        name = known.role
        suffix = params.get("CustomSuffix")
        if suffix:
            if not known.suffix:
                raise errors.invalid_input(f"Custom suffix is not allowed for {service}")
            if not _SUFFIX.match(suffix):
                raise errors.invalid_input(f"Invalid custom suffix: {suffix}")
            name = f"{name}_{suffix}"
        if self.store.get("role", key(account, name)) is not None:
            raise errors.invalid_input(
                f"Service role name {name} has been taken in this account, "
                "please try a different suffix."
            )
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": [service]},
                    "Action": ["sts:AssumeRole"],
                }
            ],
        }
        self.create_role(
            ctx,
            {
                "RoleName": name,
                "Path": f"{PATH_PREFIX}{service}/",
                "AssumeRolePolicyDocument": json.dumps(trust),
                "Description": params.get("Description") or "",
            },
        )
        doc = self.store.get("role", key(account, name))
        doc.update(ServiceLinked=service, Attached=[known.policy])
        self.store.save("role", doc)
        self._changed()
        return {"Role": public_role(doc)}

    def delete_service_linked_role(self, ctx: Any, params: dict[str, Any]) -> Result:
        account, name = ctx.account_id, params["RoleName"]
        doc = self._entity("role", account, name)
        service = doc.get("ServiceLinked")
        if not service:
            raise errors.invalid_input(f"Role {name} is not a service-linked role.")
        if any(name in p["Roles"] for p in self.store.all("instance_profile", account)):
            raise errors.delete_conflict(
                "Cannot delete entity, must remove roles from instance profile first."
            )
        task_id = f"task{doc['Path']}{name}/{uuid.uuid4()}"
        self.store.delete("role", key(account, name))
        self.store.put(
            "deletion_task",
            key(account, task_id),
            {"Status": "SUCCEEDED", "CreateDate": self._now()},
        )
        self._changed()
        return {"DeletionTaskId": task_id}

    def get_service_linked_role_deletion_status(self, ctx: Any, params: dict[str, Any]) -> Result:
        task_id = params["DeletionTaskId"]
        if not task_id.startswith(f"task{PATH_PREFIX}"):
            raise errors.invalid_input(f"Invalid deletion task id: {task_id}")
        task = self.store.get("deletion_task", key(ctx.account_id, task_id))
        if task is None:
            raise errors.no_such_entity(f"Deletion task {task_id} cannot be found.")
        return {"Status": task["Status"]}
