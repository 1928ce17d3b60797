"""Roster upload (shared/cme/service/roster.py): JSON or CSV in, each row validated on its own as an
`Attendee`, bad rows reported by their 1-based row number, good rows stored as created or updated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from builders import roster_rows
from cme.adapters import store
from cme.domain.models import Attendee
from cme.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from cme.service import roster
from cme.service.roster import MAX_ROWS, parse_roster, upsert_roster

pytestmark = pytest.mark.unit

ACT = "asa-2027"
HEADER = "badge_id,given_name,family_name,email,profession,degree,npi,board_ids,birth_mmdd,moc_consent"


def _csv(*lines: str, bom: bool = False) -> bytes:
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _row(badge: str = "B-1001", **overrides: Any) -> dict[str, Any]:
    base = {
        "badge_id": badge,
        "given_name": "Ana",
        "family_name": "Pérez",
        "email": "ana.perez@example.org",
        "profession": "physician",
        "degree": "MD",
    }
    return {**base, **overrides}


# ---- parse_roster: JSON ----------------------------------------------------------------------------


def test_a_json_list_is_the_rows() -> None:
    rows = roster_rows()
    assert parse_roster(json.dumps(rows).encode(), "application/json") == rows


def test_a_json_object_with_attendees_is_the_rows() -> None:
    rows = roster_rows()
    assert parse_roster(json.dumps({"attendees": rows}).encode(), "application/json") == rows


def test_no_content_type_is_read_as_json() -> None:
    assert parse_roster(b'[{"badge_id": "B-1"}]', "") == [{"badge_id": "B-1"}]


@pytest.mark.parametrize(
    "body",
    [b'{"badge_id": "B-1"}', b'{"attendees": "B-1"}', b'"B-1"', b"42", b"null"],
    ids=["bare-object", "attendees-not-a-list", "string", "number", "null"],
)
def test_json_that_is_not_a_list_of_rows_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_roster(body, "application/json")


@pytest.mark.parametrize(
    "body",
    [b"[{", b"", b"\xff\xfe[]", '[{"given_name": "José"}]'.encode("latin-1")],
    ids=["truncated", "empty", "utf16-bom", "latin-1"],
)
def test_broken_or_non_utf8_json_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_roster(body, "application/json")
    assert caught.value.status == 400


# ---- parse_roster: CSV -----------------------------------------------------------------------------


def test_a_csv_with_a_bom_reads_its_first_column() -> None:
    body = _csv(HEADER, "B-1001,Ana,Pérez,ana.perez@example.org,physician,MD,1234567890,ABIM:123456,0314,yes", bom=True)
    [row] = parse_roster(body, "text/csv")
    assert row == {
        "badge_id": "B-1001",
        "given_name": "Ana",
        "family_name": "Pérez",
        "email": "ana.perez@example.org",
        "profession": "physician",
        "degree": "MD",
        "npi": "1234567890",
        "board_ids": {"ABIM": "123456"},
        "birth_mmdd": "0314",
        "moc_consent": True,
    }
    assert Attendee.model_validate(row).badge_id == "B-1001"


def test_csv_board_ids_are_board_number_pairs_separated_by_semicolons() -> None:
    body = _csv("badge_id,board_ids", "B-1,ABIM:1;ABP:2", "B-2, ABIM : 123 ; junk ;ABS:9")
    first, second = parse_roster(body, "text/csv")
    assert first["board_ids"] == {"ABIM": "1", "ABP": "2"}
    assert second["board_ids"] == {"ABIM": "123", "ABS": "9"}


@pytest.mark.parametrize(
    ("text", "consent"),
    [
        ("yes", True),
        ("YES", True),
        ("true", True),
        ("1", True),
        ("y", True),
        ("no", False),
        ("false", False),
        ("0", False),
        ("n", False),
    ],
)
def test_csv_moc_consent_words_become_booleans(text: str, consent: bool) -> None:
    [row] = parse_roster(_csv("badge_id,moc_consent", f"B-1,{text}"), "text/csv")
    assert row["moc_consent"] is consent


def test_an_unknown_moc_consent_word_is_left_for_row_validation_to_reject() -> None:
    [row] = parse_roster(_csv(f"{HEADER}", "B-1,Ana,Pérez,a@example.org,physician,MD,,,,maybe"), "text/csv")
    assert row["moc_consent"] == "maybe"
    result = _upsert_with_fakes([row])
    assert result["created"] == 0 and "moc_consent" in result["rejected"][0]["error"]


def test_empty_csv_cells_are_left_out_so_defaults_apply() -> None:
    [row] = parse_roster(_csv(HEADER, "B-1,Ana,Pérez,a@example.org,nurse,RN,,,,"), "text/csv")
    assert set(row) == {"badge_id", "given_name", "family_name", "email", "profession", "degree"}
    attendee = Attendee.model_validate(row)
    assert attendee.npi is None and attendee.board_ids == {} and attendee.moc_consent is False


def test_quoted_csv_cells_keep_commas_and_accents() -> None:
    body = _csv("badge_id,given_name,family_name", 'B-1,"Ana, María",Żółć')
    [row] = parse_roster(body, "text/csv")
    assert row == {"badge_id": "B-1", "given_name": "Ana, María", "family_name": "Żółć"}


@pytest.mark.parametrize(
    "body",
    [_csv("given_name,family_name", "Ana,Pérez"), b"", _csv("badge", "B-1")],
    ids=["no-badge-column", "empty", "misspelt-header"],
)
def test_a_csv_without_a_badge_id_header_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_roster(body, "text/csv")
    assert "badge_id" in caught.value.message


def test_a_csv_that_is_not_utf8_is_a_bad_request() -> None:
    body = "badge_id,given_name\r\nB-1,José\r\n".encode("latin-1")
    with pytest.raises(BadRequest) as caught:
        parse_roster(body, "text/csv")
    assert "UTF-8" in caught.value.message


@pytest.mark.parametrize(
    "content_type", ["application/xml", "text/plain", "multipart/form-data", "text/tab-separated-values"]
)
def test_other_content_types_are_unsupported(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        parse_roster(b"badge_id\nB-1\n", content_type)
    assert caught.value.status == 415


def test_up_to_five_thousand_rows_are_accepted() -> None:
    rows = [{"badge_id": f"B-{n}"} for n in range(MAX_ROWS)]
    assert MAX_ROWS == 5000
    assert len(parse_roster(json.dumps(rows).encode(), "application/json")) == 5000
    body = _csv("badge_id", *(f"B-{n}" for n in range(MAX_ROWS)))
    assert len(parse_roster(body, "text/csv")) == 5000


@pytest.mark.parametrize("kind", ["json-list", "json-object", "csv"])
def test_more_than_five_thousand_rows_is_payload_too_large(kind: str) -> None:
    rows = [{"badge_id": f"B-{n}"} for n in range(MAX_ROWS + 1)]
    if kind == "csv":
        body, content_type = _csv("badge_id", *(r["badge_id"] for r in rows)), "text/csv"
    else:
        payload: Any = rows if kind == "json-list" else {"attendees": rows}
        body, content_type = json.dumps(payload).encode(), "application/json"
    with pytest.raises(PayloadTooLarge) as caught:
        parse_roster(body, content_type)
    assert caught.value.status == 413


# ---- rows through Attendee -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "ana.perez-at-example.org"}, "email"),
        ({"email": "ana perez@example.org"}, "email"),
        ({"birth_mmdd": "1332"}, "birth_mmdd"),
        ({"birth_mmdd": "0000"}, "birth_mmdd"),
        ({"birth_mmdd": "314"}, "birth_mmdd"),
        ({"npi": "123456789"}, "npi"),
        ({"npi": "12345678901"}, "npi"),
        ({"npi": "12345abcde"}, "npi"),
        ({"profession": "surgeon"}, "profession"),
        ({"badge_id": "B 1001"}, "badge_id"),
        ({"given_name": ""}, "given_name"),
        ({"nickname": "Annie"}, "nickname"),
    ],
    ids=[
        "email-no-at",
        "email-space",
        "mmdd-month-13",
        "mmdd-zero",
        "mmdd-short",
        "npi-9",
        "npi-11",
        "npi-letters",
        "profession",
        "badge-space",
        "empty-name",
        "unknown-column",
    ],
)
def test_a_bad_row_is_refused_naming_its_field(overrides: dict[str, Any], field: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Attendee.model_validate(_row(**overrides))
    result = _upsert_with_fakes([_row(**overrides)])
    assert result["created"] == result["updated"] == 0
    [rejected] = result["rejected"]
    assert rejected["row"] == 1
    assert rejected["error"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"npi": "1234567890"},
        {"birth_mmdd": "1231"},
        {"board_ids": {"ABIM": "1"}},
        {"moc_consent": True},
        {"profession": "physician_assistant"},
        {"degree": ""},
    ],
)
def test_good_rows_are_attendees(overrides: dict[str, Any]) -> None:
    assert Attendee.model_validate(_row(**overrides)).badge_id == "B-1001"


# ---- upsert_roster ---------------------------------------------------------------------------------


class FakeStore:
    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.asked: list[tuple[str, list[str]]] = []
        self.stored: list[tuple[str, list[Attendee]]] = []

    def existing_badges(self, activity_id: str, badge_ids: list[str]) -> set[str]:
        self.asked.append((activity_id, list(badge_ids)))
        return {b for b in badge_ids if b in self.known}

    def put_attendees(
        self, activity_id: str, attendees: list[Attendee], *, email_keys: dict[str, str], send_links: bool
    ) -> int:
        self.stored.append((activity_id, list(attendees)))
        self.email_keys = dict(email_keys)
        self.send_links = send_links
        return len(attendees)


@pytest.fixture
def fake_store(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    fake = FakeStore(known=set())
    monkeypatch.setattr(store, "existing_badges", fake.existing_badges)
    monkeypatch.setattr(store, "put_attendees", fake.put_attendees)
    monkeypatch.setattr(roster, "email_key", lambda email: f"key:{email.strip().casefold()}")
    assert roster.store is store  # the service reaches the store through the module
    return fake


def _upsert_with_fakes(rows: list[Any], known: set[str] = frozenset()) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        fake = FakeStore(set(known))
        patch.setattr(store, "existing_badges", fake.existing_badges)
        patch.setattr(store, "put_attendees", fake.put_attendees)
        return upsert_roster(ACT, rows)


def test_new_badges_are_created_and_known_ones_updated(fake_store: FakeStore) -> None:
    fake_store.known = {"B-1002", "B-1004"}
    result = upsert_roster(ACT, roster_rows())
    assert result == {"created": 3, "updated": 2, "rejected": []}
    [(activity_id, stored)] = fake_store.stored
    assert activity_id == ACT
    assert [a.badge_id for a in stored] == ["B-1001", "B-1002", "B-1003", "B-1004", "F1"]
    assert all(isinstance(a, Attendee) for a in stored)
    assert fake_store.asked == [(ACT, ["B-1001", "B-1002", "B-1003", "B-1004", "F1"])]


def test_a_later_row_for_the_same_badge_wins(fake_store: FakeStore) -> None:
    rows = [_row("B-1", email="old@example.org"), _row("B-2"), _row("B-1", email="new@example.org")]
    result = upsert_roster(ACT, rows)
    assert result == {"created": 2, "updated": 0, "rejected": []}
    [(_, stored)] = fake_store.stored
    by_badge = {a.badge_id: a for a in stored}
    assert len(stored) == 2
    assert by_badge["B-1"].email == "new@example.org"


def test_a_later_bad_row_does_not_undo_an_earlier_good_one(fake_store: FakeStore) -> None:
    result = upsert_roster(ACT, [_row("B-1"), _row("B-1", email="broken")])
    assert result["created"] == 1
    assert result["rejected"] == [{"row": 2, "error": "email: not an email address"}]
    assert fake_store.stored[0][1][0].email == "ana.perez@example.org"


def test_rejected_rows_keep_their_one_based_numbers_and_good_rows_are_kept(fake_store: FakeStore) -> None:
    fake_store.known = {"B-3"}
    rows = [
        _row("B-1"),
        _row("B-2", birth_mmdd="1332"),
        _row("B-3"),
        _row("B-4", npi="12345"),
        "not a row",
        _row("B-6", profession="surgeon"),
    ]
    result = upsert_roster(ACT, rows)
    assert (result["created"], result["updated"]) == (1, 1)
    assert [r["row"] for r in result["rejected"]] == [2, 4, 5, 6]
    errors = {r["row"]: r["error"] for r in result["rejected"]}
    assert errors[2].startswith("birth_mmdd: ")
    assert errors[4].startswith("npi: ")
    assert errors[6].startswith("profession: ")
    assert errors[5]  # a row that is not an object still says why
    assert [a.badge_id for a in fake_store.stored[0][1]] == ["B-1", "B-3"]


def test_a_row_with_several_problems_names_each_field(fake_store: FakeStore) -> None:
    result = upsert_roster(ACT, [_row("B-1", email="x", npi="1", profession="chef")])
    error = result["rejected"][0]["error"]
    assert all(f"{field}: " in error for field in ("email", "npi", "profession"))
    assert error.count("; ") == 2


def test_an_all_bad_roster_stores_nothing_and_asks_for_nothing(fake_store: FakeStore) -> None:
    result = upsert_roster(ACT, [_row("B-1", email="x")])
    assert result == {"created": 0, "updated": 0, "rejected": [{"row": 1, "error": "email: not an email address"}]}
    assert fake_store.asked == []
    assert all(not stored for _, stored in fake_store.stored)


def test_csv_upload_end_to_end_through_validation(fake_store: FakeStore) -> None:
    body = _csv(
        HEADER,
        "B-1001,Ana,Pérez,ana.perez@example.org,physician,MD,1234567890,ABIM:123456;ABP:42,0314,yes",
        "B-1002,Łukasz,Żółć,lukasz@example.org,nurse,RN,,,,no",
        "B-1003,Sofia,P,not-an-email,physician_assistant,PA-C,,,,",
        bom=True,
    )
    result = upsert_roster(ACT, parse_roster(body, "text/csv"))
    assert result["created"] == 2
    assert result["rejected"] == [{"row": 3, "error": "email: not an email address"}]
    ana, lukasz = fake_store.stored[0][1]
    assert ana.board_ids == {"ABIM": "123456", "ABP": "42"} and ana.moc_consent is True and ana.npi == "1234567890"
    assert lukasz.moc_consent is False and lukasz.family_name == "Żółć"
