"""S3 Object Lambda access points: S3 Control's ``...ForObjectLambda`` operations.

Why it is built this way:

- **An access point in front of an access point.** An Object Lambda access point names a
  supporting access point (``access_points.py``) and, for some of GetObject, HeadObject,
  ListObjects and ListObjectsV2, a Lambda function that answers in S3's place
  (``object_lambda_requests.py`` runs them). It keeps nothing of its own but its
  configuration, policy and alias: one row each in the S3 database, durable as the
  buckets are.
- **AWS's shapes.** ARNs ``arn:aws:s3-object-lambda:<region>:<account>:accesspoint/<name>``,
  aliases as access points' but ending ``--ol-s3`` (READY at once: nothing to provision),
  names of 3 to 45 lowercase letters, digits and hyphens, unique per account and
  region; the supporting access point must be the caller's, in the same region, and
  exist when the configuration is set.
- **Policies** are checked as access points' are (``access_point_control.py``), with
  ``s3-object-lambda:`` actions, stored and answered; ``GetAccessPointPolicyStatusForObjectLambda``
  judges them public as bucket policies are (``public.py``). Strict mode evaluates them
  for requests through the access point (``object_lambda_requests.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cloudlet.core.clock import clock, utc_datetime
from cloudlet.services.s3 import errors
from cloudlet.services.s3.access_point_control import parse_access_point_policy
from cloudlet.services.s3.access_points import ALIAS_SUFFIX as AP_ALIAS_SUFFIX
from cloudlet.services.s3.access_points import caller_account, make_alias
from cloudlet.services.s3.public import policy_is_public
from cloudlet.services.s3.store import S3Store

Result = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS object_lambda_access_points (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    alias TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    configuration TEXT NOT NULL,
    policy TEXT,
    PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
"""

ALIAS_SUFFIX = "--ol-s3"
ACTIONS = ("GetObject", "HeadObject", "ListObjects", "ListObjectsV2")
FEATURES = ("GetObject-Range", "GetObject-PartNumber", "HeadObject-Range", "HeadObject-PartNumber")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$")
_SUPPORTING = re.compile(r"^arn:[^:]+:s3:([^:]*):(\d{12}):accesspoint/(.+)$")


@dataclass
class ObjectLambdaAccessPoint:
    account: str
    region: str
    name: str
    alias: str
    created: float
    configuration: dict[str, Any]
    policy: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:s3-object-lambda:{self.region}:{self.account}:accesspoint/{self.name}"

    @property
    def supporting_arn(self) -> str:
        return str(self.configuration.get("SupportingAccessPoint") or "")

    def function_for(self, action: str) -> dict[str, Any] | None:
        """The ``AwsLambda`` transformation (FunctionArn, FunctionPayload) configured for
        ``action``; None when the action goes to the supporting access point as it is."""
        for transformation in self.configuration.get("TransformationConfigurations") or []:
            if action in (transformation.get("Actions") or []):
                found = (transformation.get("ContentTransformation") or {}).get("AwsLambda")
                return found or None
        return None

    def allows(self, feature: str) -> bool:
        return feature in (self.configuration.get("AllowedFeatures") or [])

    def alias_view(self) -> Result:
        return {"Value": self.alias, "Status": "READY"}


class ObjectLambdaStore:
    """The ``object_lambda_access_points`` table of the S3 database."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        store.add_schema(SCHEMA)

    def _rows(self, where: str, args: tuple[Any, ...]) -> list[ObjectLambdaAccessPoint]:
        rows = self.store.conn.execute(
            "SELECT account, region, name, alias, created, configuration, policy "
            f"FROM object_lambda_access_points WHERE {where} ORDER BY name",
            args,
        )
        return [
            ObjectLambdaAccessPoint(a, r, n, al, c, json.loads(cfg), p)
            for a, r, n, al, c, cfg, p in rows
        ]

    def get(self, account: str, region: str, name: str) -> ObjectLambdaAccessPoint | None:
        found = self._rows("account = ? AND region = ? AND name = ?", (account, region, name))
        return found[0] if found else None

    def by_alias(self, alias: str) -> ObjectLambdaAccessPoint | None:
        found = self._rows("alias = ?", (alias,))
        return found[0] if found else None

    def listed(self, account: str, region: str) -> list[ObjectLambdaAccessPoint]:
        return self._rows("account = ? AND region = ?", (account, region))

    def save(self, point: ObjectLambdaAccessPoint) -> None:
        self.store.conn.execute(
            "INSERT OR REPLACE INTO object_lambda_access_points "
            "(account, region, name, alias, created, configuration, policy) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                point.account,
                point.region,
                point.name,
                point.alias,
                point.created,
                json.dumps(point.configuration),
                point.policy,
            ),
        )

    def delete(self, point: ObjectLambdaAccessPoint) -> None:
        self.store.conn.execute(
            "DELETE FROM object_lambda_access_points WHERE account = ? AND region = ? AND name = ?",
            (point.account, point.region, point.name),
        )


class ObjectLambdaControlHandlers:
    """S3 Control's Object Lambda access point operations (a mixin of
    ``S3ControlService``, whose ``s3`` is the S3 service)."""

    s3: Any

    @property
    def _olaps(self) -> ObjectLambdaStore:
        return self.s3.object_lambda

    def create_access_point_for_object_lambda(self, ctx: Any, params: dict[str, Any]) -> Result:
        caller_account(ctx, params)
        name = params["Name"]
        if not 3 <= len(name) <= 45 or not _NAME.match(name):
            raise errors.invalid_request(
                "Object Lambda access point names must be 3 to 45 lowercase letters, "
                "numbers and hyphens, beginning and ending with a letter or number"
            )
        if self._olaps.get(ctx.account_id, ctx.region, name) is not None:
            raise errors.access_point_already_owned()
        configuration = self._checked_configuration(ctx, params.get("Configuration") or {})
        alias = make_alias(name, ctx.region).removesuffix(AP_ALIAS_SUFFIX) + ALIAS_SUFFIX
        point = ObjectLambdaAccessPoint(
            ctx.account_id, ctx.region, name, alias, clock.time(), configuration
        )
        self._olaps.save(point)
        return {"ObjectLambdaAccessPointArn": point.arn, "Alias": point.alias_view()}

    def get_access_point_for_object_lambda(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._olap(ctx, params)
        return {
            "Name": point.name,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
            "CreationDate": utc_datetime(point.created),
            "Alias": point.alias_view(),
        }

    def list_access_points_for_object_lambda(self, ctx: Any, params: dict[str, Any]) -> Result:
        caller_account(ctx, params)
        points = self._olaps.listed(ctx.account_id, ctx.region)
        start = 0
        token = params.get("NextToken")
        if token:
            start = next((i for i, p in enumerate(points) if p.name > token), len(points))
        most = params.get("MaxResults") or 1000
        shown = points[start : start + most]
        out: Result = {
            "ObjectLambdaAccessPointList": [
                {"Name": p.name, "ObjectLambdaAccessPointArn": p.arn, "Alias": p.alias_view()}
                for p in shown
            ]
        }
        if start + most < len(points):
            out["NextToken"] = shown[-1].name
        return out

    def delete_access_point_for_object_lambda(self, ctx: Any, params: dict[str, Any]) -> Result:
        self._olaps.delete(self._olap(ctx, params))
        return {}

    def get_access_point_configuration_for_object_lambda(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        return {"Configuration": self._olap(ctx, params).configuration}

    def put_access_point_configuration_for_object_lambda(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        point = self._olap(ctx, params)
        point.configuration = self._checked_configuration(ctx, params.get("Configuration") or {})
        self._olaps.save(point)
        return {}

    def put_access_point_policy_for_object_lambda(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._olap(ctx, params)
        text = params.get("Policy") or ""
        parse_access_point_policy(text, point.arn, actions="s3-object-lambda:")
        point.policy = text
        self._olaps.save(point)
        return {}

    def get_access_point_policy_for_object_lambda(self, ctx: Any, params: dict[str, Any]) -> Result:
        point = self._olap(ctx, params)
        if point.policy is None:
            raise errors.no_such_access_point_policy()
        return {"Policy": point.policy}

    def delete_access_point_policy_for_object_lambda(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        point = self._olap(ctx, params)
        point.policy = None
        self._olaps.save(point)
        return {}

    def get_access_point_policy_status_for_object_lambda(
        self, ctx: Any, params: dict[str, Any]
    ) -> Result:
        point = self._olap(ctx, params)
        if point.policy is None:
            raise errors.no_such_access_point_policy()
        return {"PolicyStatus": {"IsPublic": policy_is_public(json.loads(point.policy))}}

    # -- helpers -----------------------------------------------------------------------

    def _olap(self, ctx: Any, params: dict[str, Any]) -> ObjectLambdaAccessPoint:
        caller_account(ctx, params)
        point = self._olaps.get(ctx.account_id, ctx.region, params["Name"])
        if point is None:
            raise errors.no_such_access_point()
        return point

    def _checked_configuration(self, ctx: Any, configuration: dict[str, Any]) -> dict[str, Any]:
        """AWS's rules for ``ObjectLambdaConfiguration``: a supporting access point of the
        caller's in this region, known actions each transformed once, known features."""
        supporting = configuration.get("SupportingAccessPoint") or ""
        found = _SUPPORTING.match(supporting)
        if found is None or found.group(2) != ctx.account_id or found.group(1) != ctx.region:
            raise errors.invalid_request(
                "SupportingAccessPoint must be the ARN of an access point of this account "
                "in this Region"
            )
        if self.s3.access_points.by_arn(supporting) is None:
            raise errors.no_such_access_point()
        seen: set[str] = set()
        transformations = configuration.get("TransformationConfigurations") or []
        if not transformations:
            raise errors.invalid_request("TransformationConfigurations must not be empty")
        for transformation in transformations:
            actions = transformation.get("Actions") or []
            if not actions or any(a not in ACTIONS for a in actions) or seen & set(actions):
                raise errors.invalid_request(
                    "Each TransformationConfiguration names one or more of GetObject, "
                    "HeadObject, ListObjects and ListObjectsV2, each action at most once"
                )
            seen.update(actions)
            function = (transformation.get("ContentTransformation") or {}).get("AwsLambda") or {}
            if not str(function.get("FunctionArn") or "").startswith("arn:"):
                raise errors.invalid_request("ContentTransformation.AwsLambda needs a FunctionArn")
        if any(f not in FEATURES for f in configuration.get("AllowedFeatures") or []):
            raise errors.invalid_request(
                "AllowedFeatures are GetObject-Range, GetObject-PartNumber, HeadObject-Range "
                "and HeadObject-PartNumber"
            )
        return configuration
