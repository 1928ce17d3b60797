"""Roster upsert from JSON or CSV: each row validated on its own, bad rows reported, good rows kept."""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import ValidationError

from cme.adapters import store
from cme.api import decode_json, validation_details
from cme.auth import email_key
from cme.domain.models import Attendee
from cme.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_ROWS = 5000
#: A roster row is one DynamoDB item (at most 400 KB): no learner holds more board ids than this.
MAX_BOARDS = 20
MAX_BOARD_NAME = 40
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


def _too_many_rows() -> PayloadTooLarge:
    return PayloadTooLarge(f"at most {MAX_ROWS} rows per request; send the roster in several requests")


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_csv(reader)
    except csv.Error as exc:  # a cell over the csv module's field limit (128 KB)
        raise BadRequest(f"the CSV cannot be read at line {reader.line_num}: {exc}") from exc


def _read_csv(reader: csv.DictReader[str]) -> list[dict[str, Any]]:
    if not reader.fieldnames or "badge_id" not in reader.fieldnames:
        raise BadRequest("the CSV needs a header row with at least badge_id")
    rows: list[dict[str, Any]] = []
    for raw in reader:
        if len(rows) == MAX_ROWS:
            raise _too_many_rows()  # before reading the rest of a huge file
        row: dict[str, Any] = {k: v for k, v in raw.items() if k and v not in (None, "")}
        if "board_ids" in row:  # "ABIM:123456;ABP:7890"
            pairs = [p.split(":", 1) for p in str(row["board_ids"]).split(";") if ":" in p]
            row["board_ids"] = {board.strip(): number.strip() for board, number in pairs}
        if "moc_consent" in row:
            flag = str(row["moc_consent"]).strip().lower()
            row["moc_consent"] = True if flag in _TRUE else False if flag in _FALSE else row["moc_consent"]
        rows.append(row)
    return rows


def parse_roster(body: bytes, content_type: str) -> list[Any]:
    if content_type == "text/csv":
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadRequest("the CSV is not valid UTF-8") from exc
        rows: list[Any] = _csv_rows(text)
    elif content_type in ("application/json", ""):
        rows = decode_json(body)
        if isinstance(rows, dict) and isinstance(rows.get("attendees"), list):
            rows = rows["attendees"]
        if not isinstance(rows, list):
            raise BadRequest("expected a JSON list of attendees")
    else:
        raise UnsupportedMediaType(f"expected application/json or text/csv, got {content_type}")
    if len(rows) > MAX_ROWS:
        raise _too_many_rows()
    return rows


def _too_large(attendee: Attendee) -> str | None:
    """Why a valid row cannot be stored as one item, if it cannot."""
    if len(attendee.board_ids) > MAX_BOARDS:
        return f"board_ids: at most {MAX_BOARDS} boards"
    if any(len(board) > MAX_BOARD_NAME for board in attendee.board_ids):
        return f"board_ids: a board's name has at most {MAX_BOARD_NAME} characters"
    return None


def upsert_roster(activity_id: str, rows: list[Any], *, send_links: bool = True) -> dict[str, Any]:
    valid: dict[str, Attendee] = {}
    rejected: list[dict[str, Any]] = []
    for index, row in enumerate(rows, start=1):
        try:
            attendee = Attendee.model_validate(row)
        except ValidationError as exc:
            rejected.append(
                {"row": index, "error": "; ".join(f"{d['field']}: {d['message']}" for d in validation_details(exc))}
            )
            continue
        problem = _too_large(attendee)
        if problem:
            rejected.append({"row": index, "error": problem})
            continue
        valid[attendee.badge_id] = attendee  # a later row for the same badge wins
    known = store.existing_badges(activity_id, list(valid)) if valid else set()
    keys = {badge: email_key(a.email) for badge, a in valid.items() if a.email}
    store.put_attendees(activity_id, list(valid.values()), email_keys=keys, send_links=send_links)
    return {"created": len(set(valid) - known), "updated": len(set(valid) & known), "rejected": rejected}
