"""A new deadline as a coordinator types it: '15/09/2019', '15/09/2019 18:00',
'15 settembre 2019 alle 18.30', '2019-09-15', or ISO 8601 with a time.

The day goes through the same Italian date parser as the answers; a day
without a time means the end of that day, local time.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

from conversations.parsing import parse_date

END_OF_DAY = time(23, 59)

_ISO_WITH_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d")
_WITH_TIME = re.compile(
    r"(?P<day>.+?)(?:[\s,]+(?:(?:alle|ore|at|h)\s*)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2}))?",
    re.IGNORECASE,
)


def parse_deadline(text: str, tz: str) -> datetime:
    """The moment meant, aware in `tz` (ValueError when it is not a date)."""
    text = " ".join(text.split())
    zone = ZoneInfo(tz)
    if _ISO_WITH_TIME.match(text):
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=zone)
    match = _WITH_TIME.fullmatch(text)
    if match is None:
        raise ValueError(text)
    day = parse_date(match["day"])
    when = END_OF_DAY
    if match["hour"] is not None:
        when = time(int(match["hour"]), int(match["minute"]))  # ValueError past 23:59
    return datetime.combine(day, when, zone)
