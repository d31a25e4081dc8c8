"""MFA delete: a bucket whose versioning says ``MFADelete`` Enabled refuses to lose
versions unless the request carries ``x-amz-mfa``.

As S3 does (the user guide's "Configuring MFA delete"; AWS's answers quoted in public
write-ups: "AccessDenied: Mfa Authentication must be used for this request"):

- PutBucketVersioning that enables MFA delete, names it on a bucket that has it, or
  changes the versioning state of such a bucket needs ``x-amz-mfa``;
- DeleteObject with a version id on such a bucket needs it (a plain delete only adds a
  delete marker and does not);
- DeleteObjects needs it when any entry names a version id, and without it the whole
  request fails (DeleteObjects' API reference), non-versioned entries included.

``x-amz-mfa`` is ``<device serial or ARN> <code>``. cloudlet's IAM has no MFA devices,
so a well-formed header is taken as the device's own; a missing or malformed one is
refused. In strict mode only the account's root may use it ("This operation may only
be performed by the bucket owner", as AWS answers an IAM user with a valid code).
"""

from __future__ import annotations

import re
from typing import Any

from cloudlet.services.s3 import errors
from cloudlet.services.s3.common import Result, S3Handlers

_MFA = re.compile(r"\S+ \d{6}")


def _require_mfa(ctx: Any, params: dict[str, Any]) -> None:
    if not _MFA.fullmatch((params.get("MFA") or "").strip()):
        raise errors.s3_error(
            "AccessDenied", "Mfa Authentication must be used for this request", 403
        )
    principal = ctx.principal
    if principal is not None and principal.kind != "root":
        raise errors.s3_error(
            "AccessDenied", "This operation may only be performed by the bucket owner", 403
        )


class MfaDeleteHandlers(S3Handlers):
    """The checks above, ahead of every other handler of these operations."""

    def _mfa_delete_on(self, name: str) -> bool:
        bucket = self.store.get_bucket(name)
        return bucket is not None and bucket.mfa_delete == "Enabled"

    def put_bucket_versioning(self, ctx: Any, params: dict[str, Any]) -> Result:
        config = params.get("VersioningConfiguration") or {}
        bucket = self.store.get_bucket(params["Bucket"])
        if bucket is not None:
            asked, on = config.get("MFADelete"), bucket.mfa_delete == "Enabled"
            changes = asked is not None or config.get("Status") != bucket.versioning
            if asked == "Enabled" or (on and changes):
                _require_mfa(ctx, params)
        return super().put_bucket_versioning(ctx, params)  # type: ignore[misc]

    def delete_object(self, ctx: Any, params: dict[str, Any]) -> Result:
        if params.get("VersionId") is not None and self._mfa_delete_on(params["Bucket"]):
            _require_mfa(ctx, params)
        return super().delete_object(ctx, params)  # type: ignore[misc]

    def delete_objects(self, ctx: Any, params: dict[str, Any]) -> Result:
        entries = (params.get("Delete") or {}).get("Objects") or []
        if any(e.get("VersionId") for e in entries) and self._mfa_delete_on(params["Bucket"]):
            _require_mfa(ctx, params)
        return super().delete_objects(ctx, params)  # type: ignore[misc]
