"""Every e2e test that drives the local stack in this process has the functions' log lines captured at
INFO and searched: no email address, birth date, board id or NPI of the test roster may appear."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from builders import roster_rows

_captured: list[int] = []


def personal_data_in(text: str) -> list[str]:
    """The kinds of the test roster's personal data present in `text` (the chaos run's search)."""
    from cme.domain.models import Attendee
    from cme_local.chaos_run import personal_data_in as search

    return search(text, [Attendee.model_validate(row) for row in roster_rows()])


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    if "stack" not in request.fixturenames:
        yield
        return
    from cme.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    level = logger.log_level
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    logger.setLevel("INFO")
    try:
        yield
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        logger.setLevel(level)
    text = buffer.getvalue()
    _captured.append(text.count("\n"))
    assert personal_data_in(text) == [], "personal data in the functions' log lines"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The search above must have had log lines to search (else it proved nothing).
    if _captured and sum(_captured) == 0 and exitstatus == 0:
        session.exitstatus = 1
        print("\nno function log line was captured in the e2e tests: the personal-data search saw nothing")
