"""What time is it, and which moment does a ``--now`` value name? (UTC throughout)

Every command that takes ``--now`` (`aiogen.cli.options`, `aiogen ca lint`) reads it here: a date
(``2026-12-15``) means 00:00 UTC that day, an ISO timestamp without a zone is UTC, one with a
zone is converted to UTC. Each caller words its own error (a usage error, or a located one).
"""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """The UTC moment ``text`` names; ValueError when it is neither a date nor an ISO timestamp."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
