"""The evaluation form as posted by a browser (form-encoded, no JavaScript) → the `POST /evaluations`
body, with errors named by the same dotted fields the JSON API uses."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from cme.errors import PayloadTooLarge

MAX_FIELDS = 500


def form_fields(body: bytes) -> dict[str, str]:
    """The posted fields (the last value wins for a repeated name); undecodable bytes are replaced."""
    try:
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as exc:
        raise PayloadTooLarge(f"a form may have at most {MAX_FIELDS} fields") from exc
    return dict(pairs)


def submission_from_form(
    fields: Mapping[str, str],
    questions: list[Mapping[str, Any]],
    options: Mapping[str, Mapping[str, Decimal]],
    session_id: str | None,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(the submission body, errors found before it reaches the API's own checks)."""
    answers: dict[str, Any] = {}
    for question in questions:
        qid = str(question["id"])
        value = fields.get(f"answers.{qid}", "").strip()
        if value:
            # A rating is a few ASCII digits ("²" is a digit to str.isdigit, and int() refuses it).
            small_number = value.isascii() and value.isdigit() and len(value) <= 4
            answers[qid] = int(value) if question["type"] == "scale" and small_number else value
        comment = fields.get(f"answers.{qid}_comment", "").strip()
        if comment:
            answers[f"{qid}_comment"] = comment
    errors: list[dict[str, str]] = []
    claims: dict[str, dict[str, Decimal]] = {}
    changed = False
    for credit_type, by_session in options.items():
        for sid, most in by_session.items():
            name = f"claims.{credit_type}.{sid}"
            if most <= 0 or name not in fields:
                continue
            text = fields[name].strip().replace(",", ".")
            try:
                amount = Decimal(text)
                if not amount.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                errors.append({"field": name, "message": "enter a number such as 1.5"})
                continue
            claims.setdefault(credit_type, {})[sid] = amount
            changed = changed or amount != most
    body = {
        "session_id": session_id,
        "answers": answers,
        # Left as offered: claim everything claimable (the API's default), which also picks up credit
        # that late scans add before the claim is recorded.
        "claims": claims if changed else None,
        "attest": fields.get("attest") in ("yes", "on", "true"),
    }
    return body, errors
