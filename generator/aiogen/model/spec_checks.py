"""Which checks does the spec's validation run besides types? Each is a plain function (no pydantic).

`aiogen.model.spec` attaches them to its pydantic models (a duration or date field's before-validator,
Root's and Intermediate's one-source rule); the validator built ahead of time
(`aiogen.model.spec_compiled`) calls these very functions, so both run the same code.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogen.model.durations import parse_duration

if TYPE_CHECKING:
    from aiogen.model.spec import Intermediate, Root


def duration(value: Any) -> Any:
    """A duration field's value: ``720h``, ``30d``, ``1y`` → timedelta (a timedelta stays one)."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, timedelta):
        return value
    raise ValueError("must be a duration string such as 720h, 30d or 1y")


def calendar_date(value: Any) -> Any:
    """A date field's value: ``YYYY-MM-DD`` (YAML reads an unquoted one as a date already)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date in the form YYYY-MM-DD") from None
    raise ValueError("must be a date in the form YYYY-MM-DD")


def root_one_source(root: Root) -> Root:
    """A root is known by its certificate or bootstrapped in-cluster, its keypair in one place at most."""
    if root.self_signed is not None:
        if root.certificate or root.key_vault or root.secret:
            raise ValueError("a selfSigned root is created in-cluster; drop certificate, keyVault and secret")
    elif root.certificate is None:
        raise ValueError("a root needs its public `certificate` (or `selfSigned` to bootstrap it in-cluster)")
    if root.key_vault is not None and root.secret is not None:
        raise ValueError("give the root keypair either through keyVault or secret, not both")
    return root


def intermediate_one_source(intermediate: Intermediate) -> Intermediate:
    """An intermediate's keypair comes from exactly one source."""
    given = [n for n in ("key_vault", "secret", "in_cluster") if getattr(intermediate, n) is not None]
    if len(given) != 1:
        raise ValueError("set exactly one of keyVault, secret or inCluster")
    return intermediate
