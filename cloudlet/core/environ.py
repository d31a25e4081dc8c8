"""Settings read from the environment (``CLOUDLET_*`` intervals, delays, waits).

Why: every background loop and test hook takes its timing from an environment
variable, and each wrote the same parse-clamp-warn dance; a value that is not a
number is a warning and the default, never an import-time crash.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)


def seconds_setting(
    name: str,
    default: float,
    *,
    low: float = 0.0,
    high: float = math.inf,
    environ: Mapping[str, str] | None = None,
) -> float:
    """Environment variable ``name`` as seconds, clamped to ``[low, high]``; ``default``
    when unset, empty or not a number (the last logged)."""
    raw = (os.environ if environ is None else environ).get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    if math.isnan(value):
        return default
    return min(high, max(low, value))
