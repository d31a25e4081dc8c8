"""The constraints of Pipes' botocore model (lengths, ranges, patterns, enums), checked
before an operation looks at its input.

Why here: Pipes answers every broken constraint as one ``ValidationException`` listing
each member at fault, with a ``fieldList`` entry per member, as AWS does; the walk of
the model is ``core.model_constraints``'s, shared with Firehose.
"""

from __future__ import annotations

from typing import Any

from cloudlet.core.model_constraints import violations
from cloudlet.services.pipes import errors

MAX_REPORTED = 10


def check(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException for every constraint of ``operation``'s input that
    ``params`` breaks."""
    broken = violations("pipes", operation, params)
    if broken:
        raise errors.constraints(broken[:MAX_REPORTED])
