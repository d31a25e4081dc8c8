"""Attribute-based access control (ABAC) for general purpose buckets, and bucket tags as
S3 Control's TagResource, UntagResource and ListTagsForResource see them.

Why it is built this way:

- **One tag set per bucket.** PutBucketTagging, CreateBucket's ``Tags`` and S3 Control's
  TagResource all write the bucket's one tag set (the ``tagging`` configuration), which
  GetBucketTagging and ListTagsForResource both read ("Enabling ABAC in general
  purpose buckets": GetBucketTagging keeps working). TagResource adds and replaces the
  keys it names; PutBucketTagging replaces the whole set.
- **ABAC is a bucket setting** (PutBucketAbac, GetBucketAbac; disabled until enabled).
  Once enabled, the bucket's tags take part in authorization: strict mode answers
  ``aws:ResourceTag/<key>`` and ``s3:BucketTag/<key>`` from them
  (``condition_keys.py``), and the bucket's tags change only through TagResource and
  UntagResource, as PutBucketTagging and DeleteBucketTagging are refused. A directory
  bucket has ABAC always (the user guide: "enabled by default" for directory buckets
  and access points), and tags only through S3 Control.
- The texts of the refusals are cloudlet's where AWS's are not on record.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.config import check_bucket_tags
from cloudlet.services.s3.directory import is_directory

Result = dict[str, Any]
STATUSES = ("Enabled", "Disabled")


class AbacHandlers:
    """PutBucketAbac, GetBucketAbac and the bucket-tag hooks (mixed into ``S3Service``)."""

    def put_bucket_abac(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])  # type: ignore[attr-defined]
        status = (params.get("AbacStatus") or {}).get("Status")
        if status not in STATUSES:
            raise errors.malformed_xml()
        if status == "Enabled":
            self.configs.put(bucket.name, "abac", status)  # type: ignore[attr-defined]
        else:
            self.configs.delete(bucket.name, "abac")  # type: ignore[attr-defined]
        return {}

    def get_bucket_abac(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])  # type: ignore[attr-defined]
        enabled = self.configs.get(bucket.name, "abac") == "Enabled"  # type: ignore[attr-defined]
        return {"AbacStatus": {"Status": "Enabled" if enabled else "Disabled"}}

    # ---- for PutBucketTagging, DeleteBucketTagging and strict mode

    def _refuse_tagging_under_abac(self, name: str, operation: str) -> None:
        if abac_on(self.store, self.configs, name):  # type: ignore[attr-defined]
            raise errors.invalid_request(
                f"{operation} is not allowed on a bucket with ABAC enabled: use S3 Control's "
                "TagResource and UntagResource to change its tags"
            )

    def _abac_tags(self, name: str) -> dict[str, str] | None:
        """The tags strict mode's ``aws:ResourceTag`` and ``s3:BucketTag`` read: the
        bucket's, when ABAC is on for it; None when it is off (the keys are absent)."""
        return abac_tags(self.store, self.configs, name)  # type: ignore[attr-defined]


def abac_on(store: Any, configs: Any, name: str) -> bool:
    """Whether bucket ``name``'s tags take part in authorization."""
    bucket = store.get_bucket(name)
    if bucket is None:
        return False
    return is_directory(bucket) or configs.get(name, "abac") == "Enabled"


def abac_tags(store: Any, configs: Any, name: str) -> dict[str, str] | None:
    """The bucket's tags when ABAC is on for it, else None."""
    return bucket_tags(configs, name) if abac_on(store, configs, name) else None


# ---- the bucket's tag set, as S3 Control changes it (``control.py``)


def bucket_tags(configs: Any, name: str) -> dict[str, str]:
    tag_set = configs.get(name, "tagging") or []
    return {t["Key"]: t["Value"] for t in tag_set}


def tag_bucket(configs: Any, name: str, tags: list[dict[str, str]]) -> None:
    """TagResource: add the tags, replacing the values of keys the bucket has."""
    merged = bucket_tags(configs, name)
    given = check_bucket_tags(tags)  # duplicates, lengths, aws: before the merge
    merged.update({t["Key"]: t["Value"] for t in given})
    configs.put(
        name, "tagging", check_bucket_tags([{"Key": k, "Value": v} for k, v in merged.items()])
    )


def untag_bucket(configs: Any, name: str, keys: list[str]) -> None:
    gone = set(keys)
    kept = [{"Key": k, "Value": v} for k, v in bucket_tags(configs, name).items() if k not in gone]
    if kept:
        configs.put(name, "tagging", kept)
    else:
        configs.delete(name, "tagging")
