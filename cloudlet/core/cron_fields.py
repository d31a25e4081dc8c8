"""The fields of cron expressions: numbers or names, ``*``, ``a-b`` ranges, ``,`` lists
and ``/n`` steps, as the sets of values they allow.

Why shared: EventBridge's six-field ``cron(...)`` (``events/schedule.py``) and EC2 Auto
Scaling's five-field crontab recurrences (``autoscaling/cron.py``) read their plain
fields the same way; what differs (``?``, ``L``, ``W``, ``#``; day-of-week numbering;
how far a step may go) stays with each. Each caller names the error it raises, which its
own callers already catch.
"""

from __future__ import annotations


def number(
    text: str,
    low: int,
    high: int,
    names: dict[str, int] | None = None,
    *,
    error: type[ValueError] = ValueError,
) -> int:
    """``text`` as a number in ``[low, high]`` (or one of ``names``, case-insensitive)."""
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise error(text)
    value = int(text)
    if not low <= value <= high:
        raise error(text)
    return value


def values(
    field: str,
    low: int,
    high: int,
    names: dict[str, int] | None = None,
    *,
    error: type[ValueError] = ValueError,
    step_limit: int | None = None,
) -> set[int]:
    """A field of lists, ranges, ``*`` and steps as the set of values it allows; a step
    is a positive number, at most ``step_limit`` when one is given."""
    out: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            step = number(step_text, 1, step_limit or 10**9, error=error)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first = number(a, low, high, names, error=error)
            last = number(b, low, high, names, error=error)
            if first > last:
                raise error(item)
        else:
            first = number(base, low, high, names, error=error)
            last = high if step_text else first
        out.update(range(first, last + 1, step))
    return out
