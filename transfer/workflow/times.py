"""Times and calendar periods of the transfer workflow.

Every time in a workflow document is an RFC 3339 UTC timestamp with second
precision and a ``Z`` suffix (``2025-03-01T08:00:00Z``): one spelling per instant,
so canonical JSON (RFC 8785) of a document is unique. Deadline periods are
calendar months (转递时限 "两个月内"), clamped to the end of a shorter month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class TimeFormatError(ValueError):
    """A timestamp is not RFC 3339 UTC with second precision."""


def format_utc(moment: datetime) -> str:
    """RFC 3339 UTC, seconds precision; naive datetimes are refused (ambiguous)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a workflow time must carry its time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    if not isinstance(text, str) or not _RFC3339_UTC.fullmatch(text):
        raise TimeFormatError(f"{text!r} is not an RFC 3339 UTC time like 2025-03-01T08:00:00Z")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise TimeFormatError(f"{text!r} is not a valid calendar time") from None


def truncate(moment: datetime) -> datetime:
    """``moment`` in UTC without sub-second part: what a document can carry."""
    return parse_utc(format_utc(moment))


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar period: whole months, then days."""

    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if self.months < 0 or self.days < 0 or (self.months == 0 and self.days == 0):
            raise ValueError("a period is a positive number of months and/or days")

    def after(self, start: datetime) -> datetime:
        return add_months(start, self.months) + timedelta(days=self.days)


def add_months(start: datetime, months: int) -> datetime:
    """Same day-of-month ``months`` later; the 31st becomes the last day of a shorter month."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


# ---------------------------------------------------------------- shown to staff

# The deployment's time zone (Settings.timezone) in the words staff use; a zone not
# listed is named by its UTC offset ("UTC+08:00").
ZONE_WORDS = {
    "Asia/Shanghai": "北京时间",
    "Asia/Chongqing": "北京时间",
    "Asia/Harbin": "北京时间",
    "Asia/Urumqi": "乌鲁木齐时间",
    "Asia/Hong_Kong": "香港时间",
    "Asia/Macau": "澳门时间",
    "Asia/Taipei": "台北时间",
    "UTC": "协调世界时",
}


def zone(name: str) -> ZoneInfo:
    """The zone named ``name`` (IANA); ValueError for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r:.60} (an IANA name like Asia/Shanghai)"
        ) from None


def utc_offset(name: str, at: datetime | None = None) -> str:
    """``+08:00``: the zone's offset at ``at`` (now by default)."""
    moment = (at or datetime.now(UTC)).astimezone(zone(name))
    total = int((moment.utcoffset() or timedelta()).total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    return f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def zone_label(name: str, at: datetime | None = None) -> str:
    """北京时间, or UTC+hh:mm for a zone without a common Chinese name."""
    return ZONE_WORDS.get(name) or f"UTC{utc_offset(name, at)}"


def local_minutes(moment: datetime, name: str) -> str:
    """``2026-12-05 14:03``: the instant in the zone, to the minute (no seconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the database keeps UTC
    return moment.astimezone(zone(name)).strftime("%Y-%m-%d %H:%M")


def local_date(moment: datetime, name: str) -> str:
    """``2026-12-05``: the calendar day of the instant in the zone."""
    return local_minutes(moment, name)[:10]


def labelled(moment: datetime, name: str) -> str:
    """``2026-12-05 14:03（北京时间）``: how every time is shown to staff."""
    return f"{local_minutes(moment, name)}（{zone_label(name, moment)}）"
