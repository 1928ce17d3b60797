"""Every e2e test that drives the local stack in this process has the functions' log lines captured at
INFO and searched: no email address, birth date, board id or NPI of the test roster may appear."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from builders import roster_rows

_captured: list[int] = []


def _token(value: str) -> re.Pattern[str]:
    """`value` as a whole token (a board id "123456" is not the start of an account number)."""
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")


def personal_data_in(text: str) -> list[str]:
    """The kinds of the roster's personal data present in `text` (never the values themselves)."""
    found = set()
    lowered = text.lower()
    for row in roster_rows():
        if row["email"].lower() in lowered:
            found.add("email")
        if row.get("npi") and _token(row["npi"]).search(text):
            found.add("npi")
        if row.get("birth_mmdd") and f'"{row["birth_mmdd"]}"' in text:
            found.add("birth date")
        if any(_token(board_id).search(text) for board_id in (row.get("board_ids") or {}).values()):
            found.add("board id")
    return sorted(found)


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
