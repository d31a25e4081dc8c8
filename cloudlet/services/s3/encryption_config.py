"""A bucket's default encryption (Put/Get/DeleteBucketEncryption) and what it decides.

The configuration is one rule (S3 refuses two): the algorithm a write gets when it
names none, KMS's key and BucketKeyEnabled, and ``BlockedEncryptionTypes``, which
since April 2026 blocks SSE-C on every new bucket. GetBucketEncryption always
carries the block, and a configuration put without one keeps the bucket's current
block (what AWS's answers show since then); deleting the configuration resets the
default to SSE-S3 and keeps the block too.

``_new_encryption`` is where a write learns its object's encryption
(``encryption.for_write``), refused with 403 when it asks for blocked SSE-C.
"""

from __future__ import annotations

from typing import Any

from cloudlet.services.s3 import encryption, errors
from cloudlet.services.s3.common import Result
from cloudlet.services.s3.config import ConfigHandlers
from cloudlet.services.s3.store import Bucket

_ALGORITHMS = frozenset(("AES256", "aws:kms", "aws:kms:dsse"))
_BLOCKABLE = frozenset(("NONE", encryption.SSE_C))


class EncryptionHandlers(ConfigHandlers):
    """Bucket default encryption, and each new object's encryption."""

    def _encryption_rule(self, bucket: Bucket) -> dict[str, Any]:
        document = self.configs.get(bucket.name, "encryption")
        if document is None:
            return encryption.default_rule(bucket.region)
        rule = document["Rules"][0]
        if "BlockedEncryptionTypes" not in rule:  # a configuration kept before blocks were
            blocked = encryption.default_rule(bucket.region)["BlockedEncryptionTypes"]
            rule = {**rule, "BlockedEncryptionTypes": blocked}
        return rule

    def _new_encryption(
        self,
        principal: Any,
        bucket: Bucket,
        key: str,
        params: dict[str, Any],
        action: str,
        extra: dict[str, Any],
    ) -> encryption.Sse | None:
        """The encryption a write (``action``, for the 403) gives ``key``'s new object,
        kept in its ``extra`` unless SSE-S3 (None)."""
        rule = self._encryption_rule(bucket)
        if encryption.customer_given(params) and encryption.blocks_sse_c(rule):
            who = getattr(principal, "arn", None) or "anonymous"
            raise encryption.blocked_error(who, action, f"arn:aws:s3:::{bucket.name}/{key}")
        sse = encryption.for_write(params, rule, bucket.region, bucket.account)
        if sse is not None:
            extra["sse"] = sse
        return sse

    def put_bucket_encryption(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        document = params.get("ServerSideEncryptionConfiguration") or {}
        rules = document.get("Rules") or []
        if len(rules) != 1:
            raise errors.malformed_xml()
        rule = dict(rules[0])
        default = rule.get("ApplyServerSideEncryptionByDefault")
        if default is not None:
            algorithm = default.get("SSEAlgorithm")
            if algorithm not in _ALGORITHMS:
                raise errors.malformed_xml()
            if algorithm == "AES256" and default.get("KMSMasterKeyID"):
                raise errors.invalid_argument(
                    "a KMSMasterKeyID is not applicable if the default sse algorithm is not "
                    "aws:kms or aws:kms:dsse",
                    "ApplyServerSideEncryptionByDefault",
                )
        blocked = rule.get("BlockedEncryptionTypes")
        if blocked is None:
            rule["BlockedEncryptionTypes"] = self._encryption_rule(bucket)["BlockedEncryptionTypes"]
        elif not blocked.get("EncryptionType") or not set(blocked["EncryptionType"]) <= _BLOCKABLE:
            raise errors.malformed_xml()
        self.configs.put(bucket.name, "encryption", {"Rules": [rule]})
        return {}

    def get_bucket_encryption(self, ctx: Any, params: dict[str, Any]) -> Result:
        # S3 encrypts every bucket with SSE-S3 unless told otherwise (since 2023).
        bucket = self._bucket(params["Bucket"])
        return {"ServerSideEncryptionConfiguration": {"Rules": [self._encryption_rule(bucket)]}}

    def delete_bucket_encryption(self, ctx: Any, params: dict[str, Any]) -> Result:
        bucket = self._bucket(params["Bucket"])
        rule = {
            **encryption.default_rule(bucket.region),
            "BlockedEncryptionTypes": self._encryption_rule(bucket)["BlockedEncryptionTypes"],
        }
        self.configs.put(bucket.name, "encryption", {"Rules": [rule]})
        return {}
