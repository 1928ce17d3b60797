"""The one clock every handler reads: the machine's, `CME_NOW` when set, or the local stack's override."""

from __future__ import annotations

import os
from datetime import UTC, datetime

_override: datetime | None = None


def set_override(moment: datetime | None) -> None:
    """The local stack moves its clock with this; deployed functions never call it."""
    global _override
    if moment is not None and moment.tzinfo is None:
        raise ValueError("the clock needs a timezone-aware time")
    _override = moment


def now() -> datetime:
    if _override is not None:
        return _override
    fixed = os.environ.get("CME_NOW")
    if fixed:
        return datetime.fromisoformat(fixed)
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
