"""The arithmetic of restored copies: S3's expiry rule and the ``x-amz-restore`` header."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudlet.core.clock import clock
from cloudlet.services.s3.restore import _restore_expiry, needs_restore, restore_header
from cloudlet.services.s3.store import ObjectVersion


def _ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_expiry_is_rounded_up_to_the_next_midnight_utc():
    # The S3 User Guide's example: restored Oct 15, 2012 10:30 UTC for 3 days
    # expires Oct 19, 2012 00:00 UTC.
    assert _restore_expiry(_ts(2012, 10, 15, 10, 30), 3) == _ts(2012, 10, 19)
    # Completion exactly at midnight needs no rounding.
    assert _restore_expiry(_ts(2012, 10, 15), 1) == _ts(2012, 10, 16)


def _version(storage_class: str, **extra) -> ObjectVersion:
    return ObjectVersion(
        bucket="b",
        key="k",
        version_id="null",
        last_modified=datetime.now(UTC),
        owner="000000000000",
        storage_class=storage_class,
        extra=extra,
    )


def test_restore_state_and_header():
    later = clock.time() + 86400
    restored = _version("GLACIER", restore={"expiry": _ts(2099, 1, 2), "days": 1})
    assert not needs_restore(restored)
    assert restore_header(restored) == (
        'ongoing-request="false", expiry-date="Fri, 02 Jan 2099 00:00:00 GMT"'
    )
    expired = _version("DEEP_ARCHIVE", restore={"expiry": _ts(2001, 1, 1), "days": 1})
    assert needs_restore(expired) and restore_header(expired) is None
    assert needs_restore(_version("GLACIER"))
    assert not needs_restore(_version("GLACIER_IR", restore={"expiry": later}))
    assert restore_header(_version("STANDARD", restore={"expiry": later})) is None
