"""The reminder schedule: days before the deadline, working hours, weekends."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from conversations.deadlines import parse_deadline
from conversations.reminder_schedule import (
    due_slots,
    in_working_hours,
    next_opening,
    parse_days,
    previous_opening,
    schedule,
    slot_key,
)

TZ = "Europe/Rome"
ROME = ZoneInfo(TZ)
DEADLINE = datetime(2019, 7, 31, 23, 59, tzinfo=ROME)  # the shipped questionnaire's (Wednesday)


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def test_parse_days() -> None:
    assert parse_days("14,7,3,1,0") == [14, 7, 3, 1, 0]
    assert parse_days(" 0, 7 ,7,14 ") == [14, 7, 0]
    assert parse_days("3;1") == [3, 1]
    for wrong in ("7,x", "-1"):
        with pytest.raises(ValueError):
            parse_days(wrong)


def test_working_hours() -> None:
    assert in_working_hours(rome(2019, 7, 26, 9, 0), TZ)  # Friday at opening
    assert in_working_hours(rome(2019, 7, 26, 18, 59), TZ)
    assert not in_working_hours(rome(2019, 7, 26, 19, 0), TZ)
    assert not in_working_hours(rome(2019, 7, 29, 8, 59), TZ)  # Monday before opening
    assert not in_working_hours(rome(2019, 7, 27, 11, 0), TZ)  # Saturday
    assert next_opening(rome(2019, 7, 26, 19, 30), TZ) == rome(2019, 7, 29, 9, 0)
    assert next_opening(rome(2019, 7, 28, 10, 0), TZ) == rome(2019, 7, 29, 9, 0)
    assert next_opening(rome(2019, 7, 29, 7, 0), TZ) == rome(2019, 7, 29, 9, 0)
    assert next_opening(rome(2019, 7, 29, 12, 0), TZ) == rome(2019, 7, 29, 12, 0)
    assert previous_opening(rome(2019, 7, 29, 9, 0), TZ) == rome(2019, 7, 26, 9, 0)


def test_schedule_moves_weekend_slots_to_the_next_opening() -> None:
    slots = schedule(DEADLINE, [14, 7, 3, 1, 0], TZ)
    assert [s.astimezone(ROME) for s in slots] == [
        rome(2019, 7, 17, 9, 0),  # 14 days before, a Wednesday
        rome(2019, 7, 24, 9, 0),
        rome(2019, 7, 29, 9, 0),  # 3 days before is Sunday 28: Monday morning
        rome(2019, 7, 30, 9, 0),
        rome(2019, 7, 31, 9, 0),  # 0 = the morning of the last day
    ]
    assert all(s.utcoffset() == UTC.utcoffset(None) for s in slots)


def test_schedule_never_past_the_deadline() -> None:
    # A Sunday deadline: Saturday's and Sunday's reminders would move to Monday, after
    # it; they go out on Friday morning instead, once.
    sunday = rome(2019, 9, 15, 23, 59)
    slots = [s.astimezone(ROME) for s in schedule(sunday, [14, 7, 3, 1, 0], TZ)]
    assert slots == [rome(2019, 9, 2, 9, 0), rome(2019, 9, 9, 9, 0), rome(2019, 9, 12, 9, 0),
                     rome(2019, 9, 13, 9, 0)]


def test_due_slots_only_after_the_plan_started() -> None:
    slots = schedule(DEADLINE, [14, 7, 3], TZ)
    planned = rome(2019, 7, 20, 10, 0)
    assert due_slots(slots, planned, rome(2019, 7, 23, 12, 0)) == []
    assert due_slots(slots, planned, rome(2019, 7, 29, 9, 0)) == [
        rome(2019, 7, 24, 9, 0).astimezone(UTC), rome(2019, 7, 29, 9, 0).astimezone(UTC)]
    assert slot_key(rome(2019, 7, 24, 9, 0)) == "2019-07-24T07:00:00+00:00"


def test_parse_deadline_forms() -> None:
    assert parse_deadline("15/09/2019", TZ) == rome(2019, 9, 15, 23, 59)
    assert parse_deadline("15/09/2019 18:00", TZ) == rome(2019, 9, 15, 18, 0)
    assert parse_deadline("15/9/2019 alle 18.30", TZ) == rome(2019, 9, 15, 18, 30)
    assert parse_deadline("31/12/2099 23:59", TZ) == datetime(2099, 12, 31, 23, 59, tzinfo=ROME)
    assert parse_deadline("15 settembre 2019", TZ) == rome(2019, 9, 15, 23, 59)
    assert parse_deadline("2019-09-15", TZ) == rome(2019, 9, 15, 23, 59)
    assert parse_deadline("2019-09-15T12:00:00+02:00", TZ) == rome(2019, 9, 15, 12, 0)
    assert parse_deadline("2019-09-15T12:00", TZ) == rome(2019, 9, 15, 12, 0)
    for wrong in ("domani", "31/02/2019", "15/09", "15/09/2019 24:30", "", "2019-13-01T10:00"):
        with pytest.raises(ValueError):
            parse_deadline(wrong, TZ)
