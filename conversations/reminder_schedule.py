"""When reminders are due: pure rules, no I/O.

The schedule is a list of days before the deadline ("14,7,3,1,0"; 0 is the
morning of the last day). Each slot is at 09:00 local time on that day; one
falling outside working hours (09:00-19:00, Monday to Friday) moves to the
next opening, or, when that would be past the deadline, to the last opening
before it. Slots meeting at the same moment go out once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OPENS = time(9, 0)
CLOSES = time(19, 0)
DEFAULT_DAYS = (14, 7, 3, 1, 0)


def parse_days(text: str) -> list[int]:
    """'14,7,3,1,0' -> [14, 7, 3, 1, 0] (invalid parts are an error)."""
    days = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        value = int(part)
        if value < 0:
            raise ValueError(f"reminder days must be >= 0, got {value}")
        days.append(value)
    return sorted(set(days), reverse=True)


def in_working_hours(moment: datetime, tz: str) -> bool:
    local = moment.astimezone(ZoneInfo(tz))
    return local.weekday() < 5 and OPENS <= local.time() < CLOSES


def _opening(day: date, tz: str) -> datetime:
    return datetime.combine(day, OPENS, ZoneInfo(tz))


def next_opening(moment: datetime, tz: str) -> datetime:
    """`moment` itself within working hours, else the next 09:00 of a weekday."""
    if in_working_hours(moment, tz):
        return moment
    local = moment.astimezone(ZoneInfo(tz))
    day = local.date()
    if local.time() >= OPENS:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return _opening(day, tz)


def previous_opening(before: datetime, tz: str) -> datetime:
    """The latest 09:00 of a weekday strictly before `before`."""
    day = before.astimezone(ZoneInfo(tz)).date()
    while True:
        candidate = _opening(day, tz)
        if day.weekday() < 5 and candidate < before:
            return candidate
        day -= timedelta(days=1)


def schedule(deadline: datetime, days: Sequence[int], tz: str) -> list[datetime]:
    """The moments reminders are due (UTC), earliest first, all before the deadline."""
    last_day = deadline.astimezone(ZoneInfo(tz)).date()
    moments: set[datetime] = set()
    for before in days:
        when = next_opening(_opening(last_day - timedelta(days=before), tz), tz)
        if when >= deadline:
            when = previous_opening(deadline, tz)
        moments.add(when.astimezone(UTC))
    return sorted(moments)


def slot_key(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def due_slots(slots: Sequence[datetime], planned_from: datetime, now: datetime
              ) -> list[datetime]:
    """Slots of this plan that are due (earliest first; the last one is the one to send)."""
    return [s for s in slots if planned_from < s <= now]
