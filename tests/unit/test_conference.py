"""The simulated conference (infra/cme_local/conference.py) and the demo's summary table."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from cme.domain.models import Activity, Attendee, Scan
from cme_local.conference import (
    EXIT_SCANNED_ROOMS,
    OFFLINE_DEVICE,
    ZONE,
    ClaimAdjustment,
    Conference,
    build_conference,
)
from cme_local.demo import answer_form, format_summary, lowered_claims

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def conference() -> Conference:
    return build_conference(seed=7, attendees=300)


def _activity(conference: Conference) -> Activity:
    return Activity.model_validate({**conference.activity, "activity_id": conference.activity_id})


def test_same_seed_gives_identical_data(conference: Conference) -> None:
    again = build_conference(seed=7, attendees=300)
    assert again.activity == conference.activity
    assert again.roster == conference.roster
    assert [(b.upload_at, b.device_id, b.scans) for b in again.scan_batches] == [
        (b.upload_at, b.device_id, b.scans) for b in conference.scan_batches
    ]
    assert again.evaluations == conference.evaluations
    assert again.fingerprint() == conference.fingerprint()


def test_another_seed_gives_different_data(conference: Conference) -> None:
    other = build_conference(seed=8, attendees=300)
    assert other.fingerprint() != conference.fingerprint()
    assert other.roster != conference.roster
    assert {s["scan_id"] for s in other.scans}.isdisjoint({s["scan_id"] for s in conference.scans})


def test_data_does_not_depend_on_string_hashing(conference: Conference) -> None:
    code = "from cme_local.conference import build_conference; print(build_conference().fingerprint())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert result.stdout.strip() == conference.fingerprint()


def test_activity_validates_with_the_activity_model(conference: Conference) -> None:
    activity = _activity(conference)
    assert activity.timezone == "America/Chicago"
    assert activity.starts_on.year == 2027 and (activity.ends_on - activity.starts_on).days == 1
    assert conference.expected_session_count == len(activity.sessions) >= 12
    assert activity.rooms == {"Hall-A", "Room-201", "Room-202", "Room-203"}


def test_credit_maxima_are_the_sums_of_the_designations(conference: Conference) -> None:
    activity = _activity(conference)
    for credit_type, offer in activity.credit_types.items():
        assert offer.max == sum(s.credits.get(credit_type, 0) for s in activity.sessions)


def test_designations(conference: Conference) -> None:
    sessions = _activity(conference).sessions
    assert all("AMA_PRA_1" in s.credits for s in sessions)
    assert sum("ANCC" in s.credits for s in sessions) > len(sessions) / 2
    acpe = [s for s in sessions if "ACPE" in s.credits]
    assert 2 <= len(acpe) < len(sessions) / 2
    for session in acpe:
        assert session.acpe_uan is not None
        assert len(session.acpe_uan.split("-")) == 6 and session.acpe_uan.endswith("-P")
    assert any(s.faculty for s in sessions) and sum(bool(s.faculty) for s in sessions) >= 5


def test_concurrent_sessions_breaks_and_a_lunch_gap(conference: Conference) -> None:
    sessions = _activity(conference).sessions
    concurrent = {
        frozenset({a.room, b.room})
        for a in sessions
        for b in sessions
        if a.room != b.room and a.starts_at < b.ends_at and b.starts_at < a.ends_at
    }
    assert len({room for pair in concurrent for room in pair}) == 4
    with_breaks = [s for s in sessions if s.breaks]
    assert len(with_breaks) >= 3
    for day in {s.starts_at.date() for s in sessions}:
        busy = sorted((s.starts_at, s.ends_at) for s in sessions if s.starts_at.date() == day)
        gaps = [later[0] - earlier_end for earlier_end, later in zip(_running_end(busy), busy[1:], strict=False)]
        assert max(gaps) >= timedelta(hours=1), "a lunch gap"


def _running_end(intervals: list[tuple[datetime, datetime]]) -> list[datetime]:
    ends, latest = [], intervals[0][1]
    for _, end in intervals:
        latest = max(latest, end)
        ends.append(latest)
    return ends


def test_faculty_are_roster_attendees_and_never_teach_twice_at_once(conference: Conference) -> None:
    badges = {row["badge_id"] for row in conference.roster}
    sessions = _activity(conference).sessions
    for a in sessions:
        assert set(a.faculty) <= badges
        for b in sessions:
            if a is not b and a.starts_at < b.ends_at and b.starts_at < a.ends_at:
                assert not set(a.faculty) & set(b.faculty)


def test_every_roster_row_validates_with_the_attendee_model(conference: Conference) -> None:
    rows = [Attendee.model_validate(row) for row in conference.roster]
    assert len(rows) == 300
    assert len({r.badge_id for r in rows}) == 300
    assert len({r.email.lower() for r in rows}) == 300
    assert all(r.email.split("@")[1].endswith("example.org") for r in rows)


def test_professions_degrees_and_optional_ids(conference: Conference) -> None:
    professions = Counter(row["profession"] for row in conference.roster)
    assert set(professions) == {"physician", "nurse", "pharmacist", "physician_assistant", "other"}
    assert professions["physician"] == 180 and professions["nurse"] == 60 and professions["pharmacist"] == 30
    degrees = {row["degree"] for row in conference.roster}
    assert {"MD", "DO", "PharmD", "PA-C"} <= degrees and any("RN" in d for d in degrees)
    assert any(row.get("board_ids") for row in conference.roster)
    assert any(row.get("moc_consent") for row in conference.roster)
    assert any(row.get("birth_mmdd") for row in conference.roster)
    assert any(row.get("nabp_eprofile_id") for row in conference.roster)


def test_every_profession_even_in_a_small_roster() -> None:
    small = build_conference(seed=3, attendees=12)
    assert len({row["profession"] for row in small.roster}) == 5
    _activity(small)
    for row in small.roster:
        Attendee.model_validate(row)


def test_names_from_many_scripts(conference: Conference) -> None:
    names = [f"{row['given_name']} {row['family_name']}" for row in conference.roster]
    assert any(not name.isascii() for name in names)
    assert sum(not name.isascii() for name in names) > len(names) / 10
    assert all(row["email"].isascii() for row in conference.roster)


def test_every_scan_validates_and_unknown_badges_are_off_the_roster(conference: Conference) -> None:
    roster = {row["badge_id"] for row in conference.roster}
    unknown = set(conference.unknown_badges)
    assert unknown and not unknown & roster
    off_roster = 0
    for scan in conference.scans:
        Scan.model_validate(scan)
        if scan["badge_id"] not in roster:
            assert scan["badge_id"] in unknown
            off_roster += 1
    assert off_roster >= 3


def test_scan_ids_are_unique(conference: Conference) -> None:
    ids = [scan["scan_id"] for scan in conference.scans]
    assert len(ids) == len(set(ids))


def test_scan_times_are_rfc3339_with_an_offset_on_the_conference_days(conference: Conference) -> None:
    for scan in conference.scans:
        at = datetime.fromisoformat(scan["scanned_at"])
        assert at.utcoffset() == timedelta(hours=-5)
        assert at.microsecond == 0
        assert at.date().isoformat() in ("2027-10-14", "2027-10-15")


def test_exits_only_where_doors_scan_exits_and_some_scans_name_a_session(conference: Conference) -> None:
    activity = _activity(conference)
    exits = [s for s in conference.scans if s["direction"] == "exit"]
    assert exits and all(s["room"] in EXIT_SCANNED_ROOMS for s in exits)
    by_session = [s for s in conference.scans if "session_id" in s]
    assert by_session and all(activity.session(s["session_id"]) for s in by_session)
    assert all(("room" in s) != ("session_id" in s) for s in conference.scans)


def test_double_scans_within_a_minute(conference: Conference) -> None:
    by_badge: dict[str, list[tuple[datetime, str]]] = {}
    for scan in conference.scans:
        if scan["direction"] == "entry":
            room = scan.get("room") or scan["session_id"]
            by_badge.setdefault(scan["badge_id"], []).append((datetime.fromisoformat(scan["scanned_at"]), room))
    doubles = 0
    for scans in by_badge.values():
        scans.sort()
        doubles += sum(1 for (t1, r1), (t2, r2) in pairwise(scans) if r1 == r2 and t2 - t1 <= timedelta(minutes=1))
    assert doubles >= 3


def test_late_arrivals_and_early_leavers(conference: Conference) -> None:
    activity = _activity(conference)
    late = early_exit = 0
    for scan in conference.scans:
        at = datetime.fromisoformat(scan["scanned_at"])
        room = scan.get("room")
        for session in activity.sessions:
            if session.room == room and session.starts_at + timedelta(minutes=10) < at < session.ends_at:
                if scan["direction"] == "entry" and not session.breaks:
                    late += 1
                if scan["direction"] == "exit" and at < session.ends_at - timedelta(minutes=15):
                    early_exit += 1
    assert late >= 10 and early_exit >= 5


def test_day_two_no_shows(conference: Conference) -> None:
    seen: dict[str, set[str]] = {}
    for scan in conference.scans:
        seen.setdefault(scan["badge_id"], set()).add(scan["scanned_at"][:10])
    day_one_only = sum(1 for days in seen.values() if days == {"2027-10-14"})
    assert 0.02 * 300 <= day_one_only <= 0.15 * 300


def test_the_offline_device_uploads_its_day_one_backlog_hours_late(conference: Conference) -> None:
    backlog = [b for b in conference.scan_batches if b.backlog]
    assert len(backlog) == 1 and backlog[0].device_id == OFFLINE_DEVICE
    last_scan = max(datetime.fromisoformat(s["scanned_at"]) for s in backlog[0].scans)
    assert backlog[0].upload_at - last_scan >= timedelta(hours=2)
    day_one_sessions = [s for s in _activity(conference).sessions if s.starts_at.date().day == 14]
    assert backlog[0].upload_at > max(s.ends_at for s in day_one_sessions)
    on_day_one = [
        s for s in conference.scans if s["device_id"] == OFFLINE_DEVICE and s["scanned_at"].startswith("2027-10-14")
    ]
    assert len(on_day_one) == len(backlog[0].scans)


def test_other_devices_upload_every_few_minutes(conference: Conference) -> None:
    for batch in conference.scan_batches:
        if batch.backlog:
            continue
        for scan in batch.scans:
            delay = batch.upload_at - datetime.fromisoformat(scan["scanned_at"])
            assert timedelta(0) < delay <= timedelta(minutes=6)
    assert all(b.upload_at.tzinfo is not None for b in conference.scan_batches)


def test_the_timeline_is_in_time_order_and_inside_its_bounds(conference: Conference) -> None:
    events = conference.timeline()
    times = [e.at for e in events]
    assert times == sorted(times)
    assert conference.timeline_start <= times[0] and times[-1] <= conference.timeline_end
    assert conference.timeline_start.astimezone(ZONE).hour < 8
    ends = [e for e in events if e.kind == "session_end"]
    assert len(ends) == conference.expected_session_count
    last_end = ends[-1].at
    assert all(e.at > last_end for e in events if e.kind == "evaluation")


def test_evaluation_plans(conference: Conference) -> None:
    scanned = {s["badge_id"] for s in conference.scans}
    plans = conference.evaluations
    assert 0.7 * len(scanned) < len(plans) <= len(scanned)
    assert all(p.badge_id in scanned for p in plans)
    assert len({p.badge_id for p in plans}) == len(plans)
    lowered = [p for p in plans if p.claims is not None]
    assert 2 <= len(lowered) < len(plans) / 10
    biased = [p for p in plans if p.answers["commercial_bias"] == "no"]
    assert biased and all(p.answers.get("commercial_bias_comment") for p in biased)


def test_nothing_personal_in_the_reprs_and_description(conference: Conference) -> None:
    shown = repr(conference) + repr(conference.scan_batches[:5]) + repr(conference.evaluations[:5])
    shown += str(conference.describe())
    for row in conference.roster[:50]:
        assert row["email"] not in shown
        assert row["family_name"] not in shown or len(row["family_name"]) <= 2
        for board_id in (row.get("board_ids") or {}).values():
            assert board_id not in shown


def test_answer_form_fills_the_served_questions() -> None:
    questions = [
        {"id": "objectives_met", "type": "scale", "min": 1, "max": 5, "required": True},
        {"id": "commercial_bias", "type": "yes_no", "comment_required_when": "no"},
        {"id": "format", "type": "choice", "options": ["lecture", "workshop"]},
        {"id": "practice_change", "type": "text"},
        {"id": "anything_else", "type": "text", "required": False},
    ]
    answers = answer_form(questions, {"objectives_met": 9, "commercial_bias": "no", "commercial_bias_comment": "ads"})
    assert answers["objectives_met"] == 5
    assert answers["commercial_bias"] == "no" and answers["commercial_bias_comment"] == "ads"
    assert answers["format"] == "lecture"
    assert answers["practice_change"]


def test_lowered_claims_take_a_quarter_off_one_session() -> None:
    me = {
        "sessions": [
            {"session_id": "S1", "credits": {"AMA_PRA_1": 1.5}, "claimable": {"AMA_PRA_1": 0}},
            {"session_id": "S2", "credits": {"AMA_PRA_1": 2.0}, "claimable": {"AMA_PRA_1": 0}},
            {"session_id": "S3", "credits": {"AMA_PRA_1": 0}, "claimable": {"AMA_PRA_1": 0}},
        ]
    }
    assert lowered_claims(me, ClaimAdjustment()) == {"AMA_PRA_1": {"S1": 1.5, "S2": 1.75}}
    assert lowered_claims({"sessions": []}, ClaimAdjustment()) is None


def test_format_summary_is_an_aligned_table() -> None:
    summary = {
        "attendees": 300,
        "scans": {"posted": 3096, "accepted": 3093, "duplicate": 0, "rejected_by_reason": {"unknown_badge": 3}},
        "credits_claimed": {"AMA_PRA_1": 1234.5, "ANCC": 310.25},
        "dashboard": {},
        "error_samples": ["evaluation of B-1001: 422 validation_error"],
        "wall_time_seconds": 12.3,
    }
    table = format_summary(summary)
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1, "every line has the same width"
    assert any(line.startswith("scans.rejected_by_reason.unknown_badge") and line.endswith(" 3") for line in lines)
    assert any("credits_claimed.AMA_PRA_1" in line and line.endswith("1234.5") for line in lines)
    assert "B-1001" not in table
