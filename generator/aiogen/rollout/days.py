"""Dates in the spec are days: a phase "began" on a day means at some moment of it (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (UTC): a phase begun that day may have acted until then."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def first_day_at_or_after(moment: datetime) -> date:
    """The first date whose start is not before ``moment``."""
    day = moment.astimezone(UTC).date()
    return day if start_of_day(day) >= moment else day + timedelta(days=1)
