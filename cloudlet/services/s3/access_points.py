"""S3 access points for general purpose buckets, as they are kept: a row per access point.

Why it is built this way:

- **In the S3 database.** An access point is a named door to one bucket: S3 Control
  creates and configures it (``access_point_control.py``), S3 serves requests through it
  (``access_point_requests.py``). Its row joins the S3 service's SQLite file, as Batch
  Operations jobs do, so access points and their policies and tags survive a restart,
  and a bucket with access points attached refuses to be deleted as S3 refuses it.
- **Keyed as AWS names them.** An access point's name is unique per account and Region
  (``arn:aws:s3:<region>:<account>:accesspoint/<name>``); its alias is unique everywhere,
  as it stands in for a bucket name (``<name prefix>-<34 characters>-s3alias``).
- **A small lookup API** (``get``, ``by_alias``, ``by_arn``) for whatever else names an
  access point: S3's data plane, and S3 Object Lambda access points, which name one as
  their supporting access point.

Aliases take AWS's shape (the S3 user guide's "Access point aliases": the access point
name's prefix, metadata, ``-s3alias``; AWS's published aliases, such as the guide's
``my-access-point-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias``): at most the first 20
characters of the name, so an alias is never longer than a bucket name's 63; then 34
lowercase letters and digits ending in the Region's short code (``use1`` for us-east-1,
``usw2`` for us-west-2) and a letter, as AWS's do; then ``-s3alias``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudlet.core.clock import utc_datetime
from cloudlet.core.ids import random_bits
from cloudlet.services.s3 import errors
from cloudlet.services.s3.directory import region_code
from cloudlet.services.s3.store import S3Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS access_points (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    alias TEXT NOT NULL UNIQUE,
    bucket TEXT NOT NULL,
    bucket_account TEXT NOT NULL,
    network_origin TEXT NOT NULL,
    vpc_id TEXT,
    public_access_block TEXT NOT NULL,
    policy TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS access_points_bucket ON access_points (bucket);
"""

_COLUMNS = (
    "account, region, name, alias, bucket, bucket_account, network_origin, vpc_id, "
    "public_access_block, policy, created"
)
ALIAS_SUFFIX = "-s3alias"
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
INTERNET, VPC = "Internet", "VPC"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,48}[a-z0-9]")
_ARN = re.compile(r"arn:aws[a-z-]*:s3:([a-z0-9-]+):(\d{12}):accesspoint/([a-z0-9-]+)")
_ALIAS_METADATA = 34
_ALIAS_NAME_PREFIX = 20
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(slots=True)
class AccessPoint:
    """One access point: what GetAccessPoint shows, and its policy."""

    name: str
    account: str
    region: str
    bucket: str
    bucket_account: str
    arn: str
    alias: str
    network_origin: str
    """``Internet``, or ``VPC`` when created with a VpcConfiguration."""
    vpc_id: str | None
    policy: str | None
    """The access point policy as stored (JSON text), None when it has none."""
    public_access_block: dict[str, bool] = field(default_factory=dict)
    created: datetime | None = None

    def blocks(self, flag: str) -> bool:
        return bool(self.public_access_block.get(flag))


def access_point_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:s3:{region}:{account}:accesspoint/{name}"


def parse_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of an access point ARN, None for anything else (an
    object's ARN through it, a Multi-Region Access Point, an Object Lambda one)."""
    m = _ARN.fullmatch(arn)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def valid_name(name: str) -> bool:
    """The naming rules: 3 to 50 lowercase letters, digits and hyphens, beginning and
    ending with a letter or digit, not ending in the alias suffix."""
    return bool(_NAME.fullmatch(name)) and not name.endswith(ALIAS_SUFFIX)


def check_name(name: str) -> None:
    if not valid_name(name):
        raise errors.s3_error(
            "InvalidAccessPoint", "The specified access point name or account is not valid.", 400
        )


def _random_text(length: int) -> str:
    value = random_bits(length * 6)
    return "".join(_ALPHABET[(value >> (6 * i)) % 36] for i in range(length))


def make_alias(name: str, region: str) -> str:
    """A new alias for access point ``name`` of ``region`` (see the module docstring)."""
    code = region_code(region)[: _ALIAS_METADATA - 2]
    letter = _ALPHABET[10 + random_bits(16) % 26]
    metadata = _random_text(_ALIAS_METADATA - len(code) - 1) + code + letter
    return f"{name[:_ALIAS_NAME_PREFIX]}-{metadata}{ALIAS_SUFFIX}"


def default_public_access_block(given: dict[str, Any] | None) -> dict[str, bool]:
    """CreateAccessPoint's settings: every flag on unless the request turns it off (the
    S3 user guide: "All block public access settings are enabled by default for access
    points. You must explicitly disable any settings that you don't want")."""
    given = given or {}
    return {flag: bool(given.get(flag, True)) for flag in FLAGS}


def _point(row: tuple) -> AccessPoint:
    account, region, name, alias, bucket, bucket_account, origin, vpc, pab, policy, created = row
    return AccessPoint(
        name=name,
        account=account,
        region=region,
        bucket=bucket,
        bucket_account=bucket_account,
        arn=access_point_arn(region, account, name),
        alias=alias,
        network_origin=origin,
        vpc_id=vpc,
        policy=policy,
        public_access_block=json.loads(pab),
        created=utc_datetime(created),
    )


class AccessPointStore:
    """The ``access_points`` table of the S3 database (event-loop thread only)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        store.add_schema(SCHEMA)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    # -- lookups: S3's data plane, S3 Control, S3 Object Lambda --------------------------

    def get(self, account: str, region: str, name: str) -> AccessPoint | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM access_points WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        ).fetchone()
        return _point(row) if row else None

    def by_alias(self, alias: str) -> AccessPoint | None:
        if not alias.endswith(ALIAS_SUFFIX):
            return None
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM access_points WHERE alias = ?", (alias,)
        ).fetchone()
        return _point(row) if row else None

    def by_arn(self, arn: str) -> AccessPoint | None:
        parsed = parse_arn(arn)
        return self.get(parsed[1], parsed[0], parsed[2]) if parsed else None

    def attached(self, bucket: str) -> bool:
        """Whether any access point (of any account) is attached to ``bucket``."""
        row = self.conn.execute(
            "SELECT 1 FROM access_points WHERE bucket = ? LIMIT 1", (bucket,)
        ).fetchone()
        return row is not None

    def page(
        self, account: str, region: str, *, bucket: str | None, after: str, limit: int
    ) -> list[AccessPoint]:
        """The account's access points in the Region by name, after ``after``."""
        query = (
            f"SELECT {_COLUMNS} FROM access_points WHERE account = ? AND region = ? AND name > ?"
        )
        args: list[Any] = [account, region, after]
        if bucket is not None:
            query += " AND bucket = ?"
            args.append(bucket)
        query += " ORDER BY name LIMIT ?"
        args.append(limit)
        return [_point(row) for row in self.conn.execute(query, args)]

    # -- changes ---------------------------------------------------------------------

    def create(self, point: AccessPoint, tags: list[dict[str, str]]) -> bool:
        """Store a new access point; False when the account has one of that name in the
        Region. A clash of aliases (random) draws another."""
        assert point.created is not None
        with self.store.transaction() as conn:
            if self.get(point.account, point.region, point.name) is not None:
                return False
            while self.by_alias(point.alias) is not None:
                point.alias = make_alias(point.name, point.region)
            conn.execute(
                f"INSERT INTO access_points ({_COLUMNS}, tags) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    point.account,
                    point.region,
                    point.name,
                    point.alias,
                    point.bucket,
                    point.bucket_account,
                    point.network_origin,
                    point.vpc_id,
                    json.dumps(point.public_access_block),
                    point.policy,
                    point.created.timestamp(),
                    json.dumps(tags),
                ),
            )
        return True

    def delete(self, point: AccessPoint) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "DELETE FROM access_points WHERE account = ? AND region = ? AND name = ?",
                (point.account, point.region, point.name),
            )

    def set_policy(self, point: AccessPoint, text: str | None) -> None:
        self._update(point, "policy", text)
        point.policy = text

    def tags(self, point: AccessPoint) -> list[dict[str, str]]:
        row = self.conn.execute(
            "SELECT tags FROM access_points WHERE account = ? AND region = ? AND name = ?",
            (point.account, point.region, point.name),
        ).fetchone()
        return json.loads(row[0]) if row else []

    def set_tags(self, point: AccessPoint, tags: list[dict[str, str]]) -> None:
        self._update(point, "tags", json.dumps(tags))

    def _update(self, point: AccessPoint, column: str, value: Any) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                f"UPDATE access_points SET {column} = ? "
                "WHERE account = ? AND region = ? AND name = ?",
                (value, point.account, point.region, point.name),
            )


def caller_account(ctx: Any, params: dict[str, Any]) -> str:
    """S3 Control's ``AccountId`` (``x-amz-account-id``), which must be the caller's:
    cloudlet's S3 Control takes no cross-account calls."""
    if params.get("AccountId") != ctx.account_id:
        raise errors.s3_error("AccessDenied", "Access Denied", 403)
    return ctx.account_id
