"""Organizer routes against moto: agenda import and its 422/409 rules, roster upsert (JSON and CSV),
scanner devices, session end, learner links, authorization."""

from __future__ import annotations

import copy

import pytest

from builders import at, organizer_claims, roster_rows, worked_example_activity


def test_put_activity_creates_then_replaces(handlers, activity_id):
    status, body, _ = handlers.put_activity(activity_id, worked_example_activity())
    assert status == 201
    assert body["activity_id"] == activity_id and body["sessions"] == 3 and body["created"] is True
    status, body, _ = handlers.put_activity(activity_id, worked_example_activity(title="Renamed assembly"))
    assert status == 200 and body["created"] is False


def test_put_activity_creates_one_session_end_schedule_per_session(handlers, stack, activity_id):
    from cme.adapters.schedules import schedule_name

    handlers.put_activity(activity_id, worked_example_activity())
    scheduler = stack.pump.scheduler.scheduler
    group = stack.pump.scheduler.group
    for session_id, ends in (("S1", "14:30:00"), ("S2", "17:00:00"), ("S4", "15:45:00")):
        schedule = scheduler.get_schedule(Name=schedule_name(activity_id, session_id), GroupName=group)
        assert schedule["ScheduleExpression"] == f"at(2027-10-14T{ends})"  # UTC of the -05:00 ends_at
        assert schedule["Target"]["EventBridgeParameters"] == {"DetailType": "SessionEnded", "Source": "cme"}


def _invalid(handlers, activity_id, body):
    status, reply, _ = handlers.put_activity(activity_id, body)
    assert status == 422, reply
    assert reply["error"]["code"] == "validation_error"
    return " | ".join(f"{d['field']}: {d['message']}" for d in reply["error"]["details"])


def test_designation_above_the_session_minutes_is_refused_naming_the_field(handlers, activity_id):
    body = worked_example_activity()
    body["sessions"][0]["credits"]["AMA_PRA_1"] = 1.75  # a 90-minute session allows 1.5
    assert "credits.AMA_PRA_1" in _invalid(handlers, activity_id, body)


def test_a_55_minute_session_may_carry_one_credit(handlers, activity_id):
    body = worked_example_activity()
    body["sessions"][2]["ends_at"] = at("10:40")
    status, reply, _ = handlers.put_activity(activity_id, body)
    assert status == 201, reply


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["sessions"][0]["credits"].update(AMA_PRA_1=1.3), "credits"),
        (lambda b: b["sessions"][0]["credits"].update(CME_X=1.0), "CME_X"),
        (lambda b: b["sessions"][1]["credits"].update(ACPE=1.0), "ACPE"),
        (lambda b: b["sessions"][0].update(ends_at=at("07:00")), "sessions.0"),
        (lambda b: b["sessions"][1]["breaks"].append({"starts_at": at("10:50"), "ends_at": at("11:10")}), "overlaps"),
        (lambda b: b["sessions"][1]["breaks"].append({"starts_at": at("11:55"), "ends_at": at("12:10")}), "outside"),
        (lambda b: b["sessions"][2].update(session_id="S1"), "S1"),
        (lambda b: b.update(timezone="Mars/Olympus"), "timezone"),
    ],
    ids=[
        "off-grid",
        "unknown-type",
        "type-not-offered",
        "end-before-start",
        "overlapping-break",
        "break-outside",
        "duplicate-id",
        "bad-timezone",
    ],
)
def test_agenda_errors_are_422_naming_the_problem(handlers, activity_id, mutate, field):
    body = copy.deepcopy(worked_example_activity())
    mutate(body)
    assert field in _invalid(handlers, activity_id, body)


def test_activity_routes_need_an_organizer_of_that_activity(handlers, activity_id):
    status, body, _ = handlers.put_activity(activity_id, worked_example_activity(), claims={})
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body, _ = handlers.put_activity(
        activity_id, worked_example_activity(), claims=organizer_claims("other-activity")
    )
    assert status == 403
    status, _, _ = handlers.put_activity(
        activity_id, worked_example_activity(), claims=organizer_claims(f"x,{activity_id}")
    )
    assert status == 201


def test_broken_json_and_wrong_content_type_are_4xx(handlers, activity_id):
    route, params = "/activities/{activity_id}", {"activity_id": activity_id}
    status, body, _ = handlers.organizer("PUT", f"/activities/{activity_id}", route, params, raw="{not json")
    assert status == 400 and "JSON" in body["error"]["message"]
    status, body, _ = handlers.organizer(
        "PUT", f"/activities/{activity_id}", route, params, raw="x", headers={"content-type": "text/plain"}
    )
    assert status == 415


def test_roster_json_upsert_counts_created_updated_and_rejected(handlers, activity_id):
    handlers.put_activity(activity_id, worked_example_activity())
    rows = [
        *roster_rows(),
        {"badge_id": "B-BAD", "given_name": "No", "family_name": "Mail", "email": "nope", "profession": "physician"},
    ]
    status, body, _ = handlers.post_roster(activity_id, rows)
    assert status == 200
    assert body["created"] == 5 and body["updated"] == 0
    assert body["rejected"] == [{"row": 6, "error": "email: not an email address"}]
    status, body, _ = handlers.post_roster(activity_id, roster_rows()[:2])
    assert (body["created"], body["updated"]) == (0, 2)


def test_roster_csv_with_board_ids_and_consent(handlers, stack, activity_id):
    from cme.adapters import store

    handlers.put_activity(activity_id, worked_example_activity())
    csv_text = (
        "badge_id,given_name,family_name,email,profession,degree,board_ids,birth_mmdd,moc_consent\n"
        "B-2001,Nguyễn,Thị Hương,huong@example.org,physician,MD,ABIM:654321;ABP:777,0704,yes\n"
        "B-2002,Kenji,Sato,kenji@example.org,dentist,DDS,,,\n"
    )
    status, body, _ = handlers.post_roster(activity_id, raw=csv_text, content_type="text/csv")
    assert status == 200, body
    assert body["created"] == 1
    assert body["rejected"][0]["row"] == 2 and "profession" in body["rejected"][0]["error"]
    attendee = store.get_attendee(activity_id, "B-2001")
    assert attendee.board_ids == {"ABIM": "654321", "ABP": "777"} and attendee.moc_consent is True
    assert attendee.given_name == "Nguyễn"


def test_roster_for_an_unknown_activity_is_404(handlers, activity_id):
    status, _, _ = handlers.post_roster(activity_id, roster_rows())
    assert status == 404


def test_devices_are_issued_once_and_stored_hashed(handlers, stack, activity_id):
    from cme.adapters import store
    from cme.auth import device_token_hash

    handlers.put_activity(activity_id, worked_example_activity())
    status, body, _ = handlers.organizer(
        "POST",
        f"/activities/{activity_id}/devices",
        "/activities/{activity_id}/devices",
        {"activity_id": activity_id},
        body={"label": "Hall A door"},
    )
    assert status == 201 and body["token"].startswith("dev_")
    stored = store.get_device(device_token_hash(body["token"]))
    assert stored["activity_id"] == activity_id and stored["device_id"] == body["device_id"]
    assert body["token"] not in str(stored)
    # The set-up link for the door phone carries the token in the fragment, and its QR code is that link.
    assert body["setup_url"] == f"{stack.api_url}/scanner#device={body['token']}"
    assert body["label"] == "Hall A door"
    import xml.etree.ElementTree as ET

    import segno

    svg = ET.fromstring(body["setup_qr_svg"])
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("viewBox")  # a page parses it as SVG
    # Its modules are exactly the QR code of the set-up link.
    path = svg.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    assert path.get("d") == _qr_path(segno.make(body["setup_url"], error="m"))


def test_session_end_route_accepts_and_rejects_unknown_sessions(handlers, activity_id):
    handlers.put_activity(activity_id, worked_example_activity())
    route = "/activities/{activity_id}/sessions/{session_id}/end"
    status, body, _ = handlers.organizer(
        "POST", f"/activities/{activity_id}/sessions/S1/end", route, {"activity_id": activity_id, "session_id": "S1"}
    )
    assert status == 202 and body["status"] == "accepted"
    status, _, _ = handlers.organizer(
        "POST", f"/activities/{activity_id}/sessions/S9/end", route, {"activity_id": activity_id, "session_id": "S9"}
    )
    assert status == 404


def test_learner_link_is_a_signed_url_for_that_attendee(handlers, activity_id):
    from cme.auth import read_learner_token

    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    route = "/activities/{activity_id}/attendees/{badge_id}/link"
    status, body, _ = handlers.organizer(
        "GET",
        f"/activities/{activity_id}/attendees/B-1001/link",
        route,
        {"activity_id": activity_id, "badge_id": "B-1001"},
    )
    assert status == 200
    learner = read_learner_token(body["url"].rsplit("/l/", 1)[1])
    assert (learner.activity_id, learner.badge_id) == (activity_id, "B-1001")
    status, _, _ = handlers.organizer(
        "GET", f"/activities/{activity_id}/attendees/NOPE/link", route, {"activity_id": activity_id, "badge_id": "NOPE"}
    )
    assert status == 404


def test_a_revoked_device_is_refused_and_its_scans_stay(handlers, stack, activity_id, clock):
    from cme.adapters import store
    from cme.service import scans as scan_service

    clock("2027-10-14T08:30:00-05:00")
    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    devices_route = "/activities/{activity_id}/devices"
    status, issued, _ = handlers.organizer(
        "POST",
        f"/activities/{activity_id}/devices",
        devices_route,
        {"activity_id": activity_id},
        body={"label": "Hall A"},
    )
    assert status == 201
    scan = {"scan_id": "r1", "badge_id": "B-1001", "room": "Hall-A", "scanned_at": "2027-10-14T08:05:00-05:00"}
    status, body, _ = handlers.scans({"scans": [scan]}, token=issued["token"])
    assert status == 200 and body["results"][0]["status"] == "accepted"

    route = "/activities/{activity_id}/devices/{device_id}"
    params = {"activity_id": activity_id, "device_id": issued["device_id"]}
    path = f"/activities/{activity_id}/devices/{issued['device_id']}"
    status, revoked, _ = handlers.organizer("DELETE", path, route, params)
    assert status == 200 and revoked["revoked"] is True and revoked["device_id"] == issued["device_id"]
    assert "token" not in str(revoked) and issued["token"] not in str(revoked)
    status, again, _ = handlers.organizer("DELETE", path, route, params)  # idempotent
    assert status == 200 and again["revoked_at"] == revoked["revoked_at"]
    status, _, _ = handlers.organizer(
        "DELETE", f"/activities/{activity_id}/devices/nope", route, {"activity_id": activity_id, "device_id": "nope"}
    )
    assert status == 404

    scan_service._device.cache_clear()  # a warm container re-reads the token within CACHE_SECONDS
    later = dict(scan, scan_id="r2", scanned_at="2027-10-14T08:10:00-05:00")
    status, body, _ = handlers.scans({"scans": [later]}, token=issued["token"])
    assert status == 403 and body["error"]["code"] == "device_revoked"
    assert [s.scan_id for s in store.scans_of(activity_id, "B-1001")] == ["r1"]

    status, listing, _ = handlers.organizer(
        "GET", f"/activities/{activity_id}/devices", devices_route, {"activity_id": activity_id}
    )
    assert status == 200
    [device] = listing["devices"]
    assert device["device_id"] == issued["device_id"] and device["revoked"] is True and device["label"] == "Hall A"
    assert "token_hash" not in device


def test_get_activity_returns_the_stored_agenda(handlers, activity_id):
    handlers.put_activity(activity_id, worked_example_activity())
    status, body, _ = handlers.organizer(
        "GET", f"/activities/{activity_id}", "/activities/{activity_id}", {"activity_id": activity_id}
    )
    assert status == 200 and body["title"] == "Annual Scientific Assembly 2027"
    assert [s["session_id"] for s in body["sessions"]] == ["S1", "S2", "S4"]
    assert body["policy"]["lookahead_minutes"] == 30  # defaults filled in
    status, _, _ = handlers.organizer("GET", "/activities/nope", "/activities/{activity_id}", {"activity_id": "nope"})
    assert status == 404


def _qr_path(qr) -> str:  # type: ignore[no-untyped-def]
    """The path segno draws for a code (what the set-up QR must carry)."""
    import io
    import xml.etree.ElementTree as ET

    out = io.BytesIO()
    qr.save(out, kind="svg", border=4, xmldecl=False, svgns=True)
    return str(ET.fromstring(out.getvalue()).find("{http://www.w3.org/2000/svg}path").get("d"))
