"""One way to read a point in time that a person typed, with one meaning everywhere (the audit
filters of the CLI, the console and the REST API, and the access policy's validity bounds)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from gatekeeper.core.access import zone
from gatekeeper.errors import InputError

AGE_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_when(text: str, tz_name: str, bound: Literal["since", "until"], now: datetime | None = None) -> datetime:
    """An age (``7d``, ``12h``, ``30m``: that long before ``now``), an ISO date, or an ISO time,
    as a UTC instant. A bare date is a calendar day in ``tz_name``: ``since`` its start, ``until``
    its end (``until 2026-12-11`` includes the 11th). A time without an offset is wall-clock time
    in ``tz_name``."""
    text = text.strip()
    if text[-1:] in AGE_UNITS and text[:-1].isdigit():
        try:
            return (now or datetime.now(timezone.utc)) - timedelta(**{AGE_UNITS[text[-1]]: int(text[:-1])})
        except OverflowError:
            raise InputError(f"{bound} {text!r} reaches before year 1: give a shorter age or an ISO time") from None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if bound == "until" else 0)
            return datetime.combine(day, time(0), zone(tz_name)).astimezone(timezone.utc)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{bound} {text[:40]!r} is not an age (7d, 12h, 30m), an ISO date (2026-12-07) or an ISO time (2026-12-07T09:30, 2026-12-07T09:30+01:00)") from None
    return (value if value.tzinfo else value.replace(tzinfo=zone(tz_name))).astimezone(timezone.utc)
