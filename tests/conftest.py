"""Shared fixtures: the tests directory on sys.path (for `builders`), one local stack per test session,
an HTTP client of it, a fresh activity id per test and a setter for the stack's clock."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from stack_support import Api, new_activity_id, start_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    local = start_stack()
    yield local
    local.stop()


@pytest.fixture
def api(stack) -> Api:  # type: ignore[no-untyped-def]
    return Api(stack)


@pytest.fixture
def activity_id() -> str:
    return new_activity_id()


@pytest.fixture
def clock(stack):  # type: ignore[no-untyped-def]
    """Set the stack's clock: clock('2027-10-14T12:00:00-05:00')."""

    def set_clock(moment: str) -> None:
        stack.set_clock(datetime.fromisoformat(moment))

    return set_clock
