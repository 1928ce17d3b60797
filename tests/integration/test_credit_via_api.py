"""Every worked example of credit-rules.md, end to end through the real handlers: scans posted to
`POST /scans`, sessions finalized by their schedules, and the numbers and the sentence read back from
`GET /me` and the organizer's attendee view, as the learner and the help desk see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from builders import at, roster_rows, scan, worked_example_activity

EXAMPLE_1 = [("entry", "Hall-A", "07:50"), ("entry", "Room-201", "09:50"), ("exit", "Room-201", "12:05")]

# (id, badge, scans as (direction, room, hh:mm[:ss]), policy, {session: (minutes, credits)}, totals, phrases)
CASES: list[tuple[str, str, list[tuple[str, str, str]], dict[str, Any], dict[str, Any], dict[str, str], list[str]]] = [
    (
        "example-1",
        "B-1001",
        EXAMPLE_1,
        {},
        {"S1": (90, {"AMA_PRA_1": "1.5"}), "S2": (115, {"AMA_PRA_1": "2"})},
        {"AMA_PRA_1": "3.5"},
        [
            "Entered Hall-A 07:50 (counted from the 08:00 start); left for Room-201 at 09:50; "
            "session ended 09:30: 90 min → 1.5 credits",
            "break 10:45–11:00 not counted",
        ],
    ),
    (
        "example-2",
        "B-1001",
        [
            ("entry", "Hall-A", "08:10"),
            ("entry", "Hall-A", "08:11"),
            ("exit", "Hall-A", "09:00"),
            ("entry", "Hall-A", "09:05"),
        ],
        {},
        {"S1": (75, {"AMA_PRA_1": "1.25"})},
        {"AMA_PRA_1": "1.25"},
        ["entry scan 08:11 ignored (double scan)", "75 min → 1.25 credits"],
    ),
    (
        "example-3",
        "B-1001",
        EXAMPLE_1,
        {"missing_exit": "no_credit"},
        {"S1": (0, {"AMA_PRA_1": "0"}), "S2": (115, {"AMA_PRA_1": "2"})},
        {"AMA_PRA_1": "2"},
        ["no exit scan: no credit under this activity's policy"],
    ),
    (
        "example-4",
        "B-1001",
        [("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:52:30")],
        {},
        {"S1": (52, {"AMA_PRA_1": "1"})},
        {"AMA_PRA_1": "1"},
        ["exited 08:52:30", "52 min 30 s → 1.0 credits"],
    ),
    (
        "example-4-down-quarter",
        "B-1001",
        [("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:52:30")],
        {"rounding": "down_quarter"},
        {"S1": (52, {"AMA_PRA_1": "0.75"})},
        {"AMA_PRA_1": "0.75"},
        ["52 min 30 s → 0.75 credits"],
    ),
    (
        "example-5",
        "B-1001",
        [("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "10:45")],
        {},
        {"S1": (90, {"AMA_PRA_1": "1.5"}), "S4": (60, {"AMA_PRA_1": "1"})},
        {"AMA_PRA_1": "2.5"},
        ["exited 10:45"],
    ),
    (
        "example-5-faculty",
        "F1",
        [("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "10:45")],
        {},
        {"S1": (90, {"AMA_PRA_1": "1.5"}), "S4": (60, {"AMA_PRA_1": "0"})},
        {"AMA_PRA_1": "1.5"},
        ["you were faculty of this session: no learner credit"],
    ),
    (
        "example-6",
        "B-1001",
        EXAMPLE_1,
        {"min_attendance_percent": 100},
        {"S1": (90, {"AMA_PRA_1": "1.5"}), "S2": (115, {"AMA_PRA_1": "0"})},
        {"AMA_PRA_1": "1.5"},
        ["minimum attendance not met (115 min of 120 min credit time; 100% required): no credit"],
    ),
    (
        "example-7",
        "B-1001",
        [("entry", "Hall-A", "07:55"), ("entry", "Hall-A", "09:50")],
        {},
        {"S1": (90, {"AMA_PRA_1": "1.5"}), "S4": (55, {"AMA_PRA_1": "1"})},
        {"AMA_PRA_1": "2.5"},
        ["Entered Hall-A 09:50; no exit scan; session ended 10:45: 55 min → 1.0 credits"],
    ),
    (
        "example-8",
        "B-1001",
        [("entry", "Hall-A", "09:20")],
        {},
        {"S1": (10, {"AMA_PRA_1": "0.25"}), "S4": (60, {"AMA_PRA_1": "1"})},
        {"AMA_PRA_1": "1.25"},
        ["10 min → 0.25 credits"],
    ),
    (
        "example-9-nurse",
        "B-1002",
        EXAMPLE_1,
        {},
        {"S1": (90, {"PARTICIPATION": "1.5"}), "S2": (115, {"ANCC": "1.75", "PARTICIPATION": "2"})},
        {"ANCC": "1.75", "PARTICIPATION": "3.5"},
        ["115 min → 1.75 ANCC contact hours, 2.0 hours of participation", "90 min → 1.5 hours of participation"],
    ),
]


def _token(activity_id: str, badge_id: str) -> str:
    from cme.auth import issue_learner_token

    return issue_learner_token(activity_id, badge_id, datetime.now(UTC) + timedelta(days=400))


def _scans(badge: str, plan: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    out = []
    for i, (direction, room, when) in enumerate(plan):
        hhmm, _, seconds = when.partition(":")[0] + ":" + when.split(":")[1], None, when.count(":") == 2
        body = scan(f"{badge}-{i}", badge, room, hhmm, direction=direction)
        if seconds:
            body["scanned_at"] = f"2027-10-14T{when}-05:00"
        out.append(body)
    return out


def _run(handlers, stack, activity_id, badge, plan, policy):  # type: ignore[no-untyped-def]
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    status, _, _ = handlers.put_activity(
        activity_id, worked_example_activity(policy=policy) if policy else worked_example_activity()
    )
    assert status == 201
    handlers.post_roster(activity_id, roster_rows())
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    status, body, _ = handlers.scans(
        {"activity_id": activity_id, "scans": _scans(badge, plan)}, token=stack.scanner_token
    )
    assert status == 200 and {r["status"] for r in body["results"]} == {"accepted"}, body
    stack.settle()
    status, me, _ = handlers.learner("GET", "/me", _token(activity_id, badge))
    assert status == 200, me
    return me


@pytest.mark.parametrize(
    ("badge", "plan", "policy", "sessions", "totals", "phrases"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_worked_examples_through_the_api(handlers, stack, activity_id, badge, plan, policy, sessions, totals, phrases):
    me = _run(handlers, stack, activity_id, badge, plan, policy)
    shown = {
        s["session_id"]: (s["minutes"], {t: Decimal(str(v)) for t, v in s["credits"].items()}) for s in me["sessions"]
    }
    assert shown == {
        sid: (minutes, {t: Decimal(v) for t, v in credits.items()}) for sid, (minutes, credits) in sessions.items()
    }
    assert {t: Decimal(str(v)) for t, v in me["credits_total"].items()} == {t: Decimal(v) for t, v in totals.items()}
    text = " | ".join(s["explanation"] for s in me["sessions"])
    for phrase in phrases:
        assert phrase in text
    # The help desk sees the same numbers and words.
    status, view, _ = handlers.organizer(
        "GET",
        f"/activities/{activity_id}/attendees/{badge}",
        "/activities/{activity_id}/attendees/{badge_id}",
        {"activity_id": activity_id, "badge_id": badge},
    )
    assert status == 200
    assert view["sessions"] == me["sessions"] and view["credits_total"] == me["credits_total"]
    assert [s["scan_id"] for s in view["scans"]] == [f"{badge}-{i}" for i in range(len(plan))]


def test_scans_no_session_explains_are_listed_as_notes(handlers, stack, activity_id):
    """An exit with no entry before it, an exit from another room while inside Hall-A, and an entry into
    a room with nothing scheduled afterwards: none earns anything, and the learner is told so."""
    plan = [
        ("exit", "Hall-A", "07:40"),
        ("entry", "Hall-A", "07:50"),
        ("exit", "Room-201", "08:30"),
        ("entry", "Room-201", "12:10"),
    ]
    me = _run(handlers, stack, activity_id, "B-1001", plan, {})
    assert [(s["session_id"], s["minutes"]) for s in me["sessions"]] == [("S1", 90)]
    assert me["notes"] == [
        "Exit scan at Hall-A 07:40 without an entry: ignored.",
        "Exit scan at Room-201 08:30 while you were in Hall-A: ignored.",
        "Entry scan at Room-201 12:10: no session in that room afterwards, not counted.",
    ]


def test_an_anomaly_inside_a_shown_session_is_in_its_sentence_not_the_notes(handlers, stack, activity_id):
    plan = [("entry", "Room-201", "09:50"), ("exit", "Room-201", "10:10"), ("exit", "Room-201", "10:20")]
    me = _run(handlers, stack, activity_id, "B-1001", plan, {})
    [s2] = me["sessions"]
    assert s2["explanation"] == (
        "Entered Room-201 09:50; exited 10:10; exit scan at Room-201 10:20 without an entry: ignored: "
        "20 min → 0.25 credits"
    )
    assert me["notes"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"scan_id": "v1", "badge_id": "B-1001", "room": "Hall-A", "scanned_at": "2027-10-14T08:00:00"}, "scanned_at"),
        (
            {"scan_id": "v2", "badge_id": "B-1001", "room": "Hall-A", "session_id": "S1", "scanned_at": at("08:00")},
            "exactly one of room and session_id",
        ),
        (
            {
                "scan_id": "v3",
                "badge_id": "B-1001",
                "room": "Hall-A",
                "scanned_at": at("08:00"),
                "direction": "sideways",
            },
            "direction",
        ),
        ({"badge_id": "B-1001", "room": "Hall-A", "scanned_at": at("08:00")}, "scan_id"),
        ({"scan_id": "v5", "badge_id": "B 1001 <x>", "room": "Hall-A", "scanned_at": at("08:00")}, "badge_id"),
        ("B-1001", "JSON object"),
    ],
    ids=["no-time-zone", "room-and-session", "bad-direction", "no-scan-id", "bad-badge-id", "not-an-object"],
)
def test_an_invalid_scan_is_refused_alone_and_says_why(handlers, stack, activity_id, body, message):
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    stack.set_clock(datetime.fromisoformat(at("08:30")))
    good = scan("ok", "B-1002", "Hall-A", "08:00")
    status, response, _ = handlers.scans({"activity_id": activity_id, "scans": [body, good]}, token=stack.scanner_token)
    assert status == 200
    bad, fine = response["results"]
    assert (bad["status"], bad["reason"]) == ("rejected", "invalid") and message in bad["message"]
    assert fine["status"] == "accepted" and "message" not in fine


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        (scan("r1", "B-404", "Hall-A", "08:00"), "unknown_badge", "badge B-404 is not on this activity's roster"),
        (scan("r2", "B-1001", "Room-999", "08:00"), "unknown_room", "room Room-999"),
        (
            {"scan_id": "r3", "badge_id": "B-1001", "session_id": "S9", "scanned_at": at("08:00")},
            "unknown_session",
            "S9",
        ),
        (scan("r4", "B-1001", "Hall-A", "08:45"), "outside_activity", "future"),
        (
            dict(scan("r5", "B-1001", "Hall-A", "08:00"), scanned_at="2027-10-13T08:00:00-05:00"),
            "outside_activity",
            "dates",
        ),
    ],
    ids=["unknown-badge", "unknown-room", "unknown-session", "future", "day-before"],
)
def test_each_refusal_names_its_reason_and_what_to_fix(handlers, stack, activity_id, body, reason, message):
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    stack.set_clock(datetime.fromisoformat(at("08:30")))
    status, response, _ = handlers.scans({"activity_id": activity_id, "scans": [body]}, token=stack.scanner_token)
    assert status == 200
    [result] = response["results"]
    assert (result["status"], result["reason"]) == ("rejected", reason) and message in result["message"]


def test_a_scan_id_repeated_within_one_request_is_stored_once(handlers, stack, activity_id):
    from cme.adapters import store

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    stack.set_clock(datetime.fromisoformat(at("08:30")))
    first = scan("same", "B-1001", "Hall-A", "08:00")
    second = scan("same", "B-1002", "Hall-A", "08:01")
    status, response, _ = handlers.scans(
        {"activity_id": activity_id, "scans": [first, second]}, token=stack.scanner_token
    )
    assert status == 200
    assert [r["status"] for r in response["results"]] == ["accepted", "duplicate"]
    assert [s.scan_id for s in store.scans_of(activity_id, "B-1001")] == ["same"]
    assert store.scans_of(activity_id, "B-1002") == []
