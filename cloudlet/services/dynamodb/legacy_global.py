"""Global tables version 2017.11.29 (Legacy): the six operations as DynamoDB answers them now.

Why there is nothing to create: AWS no longer makes legacy global tables. In 2026
CreateGlobalTable is refused from every endpoint with "version 2017.11.29 is not
supported", so no account can hold one, and the other five operations answer as for a
name that names none: DescribeGlobalTable, DescribeGlobalTableSettings,
UpdateGlobalTableSettings and UpdateGlobalTable's Delete say the global table does not
exist (for a regional table and for a 2019.11.21 global table alike), UpdateGlobalTable's
Create gets the version refusal before the name is looked up, and ListGlobalTables lists
nothing. Texts, order and shapes are the ones recorded against live DynamoDB in
ack-api-quirks (DDB-GLOBALTABLE-001 to -004, DDB-GLOBALTABLESETTINGS-001, 2026-10-09).

A global table is built here the current way, UpdateTable's ``ReplicaUpdates``
(``replicas.py``), which is what AWS points these callers to.

One deliberate difference: AWS answers ListGlobalTables naming an unknown region with a
500 InternalServerError; a 500 invites a retry that can never succeed, so cloudlet answers
a ValidationException naming the region.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.dynamodb import errors
from cloudlet.services.dynamodb.backup_checks import AWS_REGIONS
from cloudlet.services.dynamodb.table_syntax import BILLING_MODES, check_table_name

Result = dict[str, Any]

LEGACY_REGIONS = (
    "eu-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-2",
    "eu-central-1",
    "ap-northeast-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
"""The eleven regions that ever had legacy global tables, in the order AWS lists them."""

_NOT_SUPPORTED = "DynamoDB global tables version 2017.11.29 is not supported"
_USE_CURRENT = (
    ". We recommend using DynamoDB global tables version 2019.11.21, instead of version "
    "2017.11.29 (Legacy)."
)


def version_refused(region: str) -> ServiceError:
    """The refusal of a new legacy global table or replica, worded for the endpoint's
    region: the eleven former regions get the recommendation, any other is told where the
    version once was."""
    if region in LEGACY_REGIONS:
        return errors.invalid_parameter(_NOT_SUPPORTED + _USE_CURRENT)
    return errors.invalid_parameter(
        f"{_NOT_SUPPORTED} in this region '{region}', supported regions are : "
        f"[{', '.join(LEGACY_REGIONS)}]"
    )


def not_found(name: str, *, described: bool = False) -> ServiceError:
    """GlobalTableNotFoundException; DescribeGlobalTable prefixes its text."""
    text = f"Global table with name: '{name}' does not exist."
    if described:
        text = "Global table not found: " + text
    return ServiceError("GlobalTableNotFoundException", text, 400)


def _name(params: dict[str, Any]) -> str:
    name = params["GlobalTableName"]
    check_table_name(name, "globalTableName")
    return name


class LegacyGlobalTableHandlers:
    """CreateGlobalTable, UpdateGlobalTable, DescribeGlobalTable, ListGlobalTables,
    DescribeGlobalTableSettings and UpdateGlobalTableSettings."""

    def create_global_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        _name(params)
        raise version_refused(ctx.region)

    def update_global_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = _name(params)
        updates = params["ReplicaUpdates"]
        if not updates:
            raise errors.validation("One or more parameter values were invalid")
        if any(u.get("Create") is not None for u in updates):
            raise version_refused(ctx.region)
        raise not_found(name)

    def describe_global_table(self, ctx: Any, params: dict[str, Any]) -> Result:
        raise not_found(_name(params), described=True)

    def list_global_tables(self, ctx: Any, params: dict[str, Any]) -> Result:
        limit = params.get("Limit")
        if limit is not None and limit < 1:
            raise errors.constraint(
                limit, "limit", "Member must have value greater than or equal to 1"
            )
        start = params.get("ExclusiveStartGlobalTableName")
        if start is not None:
            check_table_name(start, "exclusiveStartGlobalTableName")
        region = params.get("RegionName")
        if region is not None and region not in AWS_REGIONS:
            raise errors.invalid_parameter(f"Region {region} is not a valid AWS region")
        return {"GlobalTables": []}

    def describe_global_table_settings(self, ctx: Any, params: dict[str, Any]) -> Result:
        raise not_found(_name(params))

    def update_global_table_settings(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = _name(params)
        errors.check_enum(
            params.get("GlobalTableBillingMode"), "globalTableBillingMode", BILLING_MODES
        )
        units = params.get("GlobalTableProvisionedWriteCapacityUnits")
        if units is not None and units < 1:
            raise errors.constraint(
                units,
                "globalTableProvisionedWriteCapacityUnits",
                "Member must have value greater than or equal to 1",
            )
        raise not_found(name)
