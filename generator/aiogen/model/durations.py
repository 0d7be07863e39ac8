"""How long is "720h", "30d" or "1y"? Durations in the spec and in rendered output.

The spec accepts Go durations (``720h``, ``1h30m``, ``45m``) and the friendlier ``30d``/``1y``
(1d = 24h, 1y = 365d). Output is always Go form in hours (``8760h``, ``1h30m``), which is what
cert-manager and the AIO BrokerListener expect (Go time.Duration format:
https://pkg.go.dev/time#ParseDuration).
"""

from __future__ import annotations

import re
from datetime import timedelta

from aiogen.model.problems import shown

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
# ASCII digits only: int() would read "٧٢٠" or "７２０" too, which no Go parser accepts
_TERM = re.compile(r"([0-9]+)(y|w|d|h|m|s)")
_WHOLE = re.compile(r"(?:[0-9]+(?:y|w|d|h|m|s))+")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse ``720h``, ``1h30m``, ``30d``, ``1y``; raise `DurationError` with a usable message."""
    value = text.strip()
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        raise DurationError(f"{shown(text)} has non-ASCII digits; write durations with 0-9, like 720h")
    if not _WHOLE.fullmatch(value):
        raise DurationError(
            f"{shown(text)} is not a duration; use Go form like 720h or 1h30m, or 30d / 1y"
        )
    seconds = 0
    seen: list[str] = []
    for amount, unit in _TERM.findall(value):
        if unit in seen:
            raise DurationError(f"{shown(text)} names the unit {unit!r} twice")
        seen.append(unit)
        seconds += int(amount) * _UNITS[unit]
    if seconds <= 0:
        raise DurationError(f"{shown(text)} is zero; a duration must be positive")
    if seconds > 200 * 365 * 86400:
        raise DurationError(f"{shown(text)} is longer than 200 years")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Go form, always in hours: 8760h, 1h30m, 5m, 90s."""
    total = int(value.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if seconds or not out:
        out += f"{seconds}s"
    return out


def describe(value: timedelta) -> str:
    """Human form for messages: 8760h (365d)."""
    days = value.total_seconds() / 86400
    go = format_duration(value)
    if days >= 1 and days == int(days):
        return f"{go} ({int(days)}d)"
    return go
