"""``core.environ.seconds_setting``: the one reader of the CLOUDLET_* timing settings."""

from __future__ import annotations

import pytest

from cloudlet.core.environ import seconds_setting


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 60.0),
        ("", 60.0),
        ("2.5", 2.5),
        ("0.01", 0.2),
        ("99", 10.0),
        ("soon", 60.0),
        ("nan", 60.0),
    ],
)
def test_seconds_setting(raw, expected):
    environ = {} if raw is None else {"CLOUDLET_X": raw}
    assert seconds_setting("CLOUDLET_X", 60.0, low=0.2, high=10.0, environ=environ) == expected
