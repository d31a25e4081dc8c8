"""Id-keyed bucket configurations: the CRUD that metrics and inventory share.

Why: S3 keys several kinds of bucket configuration by an ``Id`` (metrics, inventory;
analytics and intelligent-tiering too) and answers their Put/Get/Delete/List the same
way: at most 1,000 a bucket (``TooManyConfigurations``), a missing one 404
``NoSuchConfiguration``, lists of 100 a page with a continuation token. One kind's
configurations are one ``BucketConfigs`` document (``{id: configuration}``); the
modules that make a kind do something (``metrics.py``, ``inventory.py``) check its
document and read it from here.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.config import BucketConfigs

MAX_CONFIGURATIONS = 1000
PAGE = 100
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_id(config_id: str) -> None:
    """A configuration Id as S3 takes it: 1 to 64 letters, digits, ``.``, ``_``, ``-``."""
    if not _ID.fullmatch(config_id):
        raise errors.invalid_argument("Invalid id", "id", config_id)


def check_filter(flt: dict[str, Any] | None, kinds: tuple[str, ...]) -> None:
    """An Id-keyed configuration's Filter: exactly one of ``kinds`` (its single
    predicates, and ``And``), an ``And`` of two predicates or more (its tags and each
    other member it names), tag keys unique."""
    if flt is None:
        return
    if sum(kind in flt for kind in kinds) != 1:
        raise errors.malformed_xml()
    both = flt.get("And")
    if both is None:
        return
    tags = both.get("Tags") or []
    others = sum(v is not None for k, v in both.items() if k != "Tags")
    if len(tags) + others < 2:
        raise errors.malformed_xml()
    keys = [t.get("Key") for t in tags]
    if len(keys) != len(set(keys)):
        raise errors.invalid_request("Duplicate Tag Keys are not allowed.")


def not_found() -> Exception:
    return errors.s3_error(
        "NoSuchConfiguration", "The specified configuration does not exist.", 404
    )


def _token(config_id: str) -> str:
    return base64.urlsafe_b64encode(config_id.encode()).decode()


def _after(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise errors.invalid_argument(
            "The continuation token provided is incorrect", "continuation-token", token
        ) from None


class IdConfigs:
    """One kind of Id-keyed configuration (``kind`` in ``BucketConfigs``), listed under
    ``list_member`` (``MetricsConfigurationList``, ``InventoryConfigurationList``)."""

    def __init__(self, configs: BucketConfigs, kind: str, list_member: str) -> None:
        self.configs = configs
        self.kind = kind
        self.list_member = list_member

    def all(self, bucket: str) -> dict[str, dict[str, Any]]:
        """Every configuration of ``bucket``, by Id."""
        return self.configs.get(bucket, self.kind) or {}

    def put(self, bucket: str, config: dict[str, Any]) -> None:
        """Add or replace ``config`` (its Id already checked)."""
        configs = dict(self.all(bucket))
        if config["Id"] not in configs and len(configs) >= MAX_CONFIGURATIONS:
            raise errors.s3_error(
                "TooManyConfigurations",
                "You are attempting to create a new configuration but have already reached "
                "the 1,000-configuration limit.",
            )
        configs[config["Id"]] = config
        self.configs.put(bucket, self.kind, configs)

    def get(self, bucket: str, config_id: str) -> dict[str, Any]:
        config = self.all(bucket).get(config_id)
        if config is None:
            raise not_found()
        return config

    def delete(self, bucket: str, config_id: str) -> None:
        configs = dict(self.all(bucket))
        if configs.pop(config_id, None) is None:
            raise not_found()
        if configs:
            self.configs.put(bucket, self.kind, configs)
        else:
            self.configs.delete(bucket, self.kind)

    def page(self, bucket: str, token: str | None) -> Result:
        """A ``List*Configurations`` answer: 100 configurations in Id order from ``token``."""
        configs = self.all(bucket)
        ids = sorted(configs)
        if token is not None:
            after = _after(token)
            ids = [i for i in ids if i > after]
        page = ids[:PAGE]
        out: Result = {"IsTruncated": len(ids) > PAGE}
        if token is not None:
            out["ContinuationToken"] = token
        if page:
            out[self.list_member] = [configs[i] for i in page]
        if len(ids) > PAGE:
            out["NextContinuationToken"] = _token(page[-1])
        return out
