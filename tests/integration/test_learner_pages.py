"""The learner's way in and the phone pages over HTTP on the local stack (no JavaScript involved):
magic link → session cookie, the credit page, the evaluation form with CSRF and inline errors, the
certificate, sign-in link requests (same answer for unknown addresses, rate-limited), registration
mails, and one learner never seeing another's data."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from builders import at, roster_rows, scan, worked_example_activity
from stack_support import http

EXAMPLE_1 = [
    scan("e1", "B-1001", "Hall-A", "07:50"),
    scan("e2", "B-1001", "Room-201", "09:50"),
    scan("e3", "B-1001", "Room-201", "12:05", direction="exit"),
]


@pytest.fixture
def meeting(api, stack, activity_id):
    """Example 1 attended by B-1001 (physician); B-1002 (nurse) attended nothing; all sessions over."""
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    assert api.post_scans(activity_id, EXAMPLE_1).status == 200
    stack.settle()
    return activity_id


def _link_token(activity_id: str, badge_id: str, days: int = 400) -> str:
    from cme.auth import issue_learner_token

    return issue_learner_token(activity_id, badge_id, datetime.now(UTC) + timedelta(days=days))


def _sign_in(stack, token: str, next_page: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """Open a magic link; returns the session cookie pair ("cme_session=...")."""
    query = f"?next={next_page}" if next_page else ""
    reply = http("GET", f"{stack.api_url}/l/{token}{query}")
    assert reply.status == 303, reply.body
    cookie = reply.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    return cookie.split(";", 1)[0]


def _page(stack, path: str, cookie: str | None):  # type: ignore[no-untyped-def]
    return http("GET", f"{stack.api_url}{path}", headers={"Cookie": cookie} if cookie else None)


def _text(reply) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", reply.body.decode())


def _post_form(stack, path: str, cookie: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    return http(
        "POST",
        f"{stack.api_url}{path}",
        raw=urlencode(fields).encode(),
        content_type="application/x-www-form-urlencoded",
        headers={"Cookie": cookie},
    )


def _csrf(reply) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'name="csrf" value="([^"]+)"', reply.body.decode())
    assert found
    return found.group(1)


ANSWERS = {
    "answers.objectives_met": "5",
    "answers.practice_change": "Earlier lactate in suspected sepsis.",
    "answers.commitment_to_change": "4",
    "answers.free_of_commercial_bias": "yes",
    "answers.overall_quality": "5",
}


def test_a_magic_link_becomes_a_session_and_the_credit_page_shows_the_rules_numbers(meeting, stack):
    cookie = _sign_in(stack, _link_token(meeting, "B-1001"))
    reply = _page(stack, "/l", cookie)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert reply.headers["Referrer-Policy"] == "no-referrer" and reply.headers["Cache-Control"] == "no-store"
    page = _text(reply)
    assert "Annual Scientific Assembly 2027" in page and "Ana Pérez" in page
    assert "Sepsis update" in page and "90 min" in page
    assert "Entered Hall-A 07:50 (counted from the 08:00 start)" in page
    assert "Complete the evaluation" in page  # the next step, before anything is claimable
    assert len(reply.body) < 100_000
    assert "<script" not in page  # the core path needs no JavaScript


def test_next_lands_on_the_evaluation(meeting, stack):
    reply = http("GET", f"{stack.api_url}/l/{_link_token(meeting, 'B-1001')}?next=evaluation")
    assert reply.status == 303 and reply.headers["Location"] == "/l/evaluation"


def test_the_evaluation_form_submits_with_csrf_names_errors_and_leads_to_a_certificate(meeting, stack):
    from cme.adapters import store
    from cme.auth import certificate_id

    cookie = _sign_in(stack, _link_token(meeting, "B-1001"))
    form = _page(stack, "/l/evaluation", cookie)
    assert form.status == 200
    body = _text(form)
    assert 'name="claims.AMA_PRA_1.S1"' in body and 'value="1.5"' in body and "up to 1.5" in body
    csrf = _csrf(form)

    missing_csrf = _post_form(stack, "/l/evaluation", cookie, {**ANSWERS, "attest": "yes"})
    assert missing_csrf.status == 403

    errors = _post_form(
        stack,
        "/l/evaluation",
        cookie,
        {**ANSWERS, "csrf": csrf, "answers.free_of_commercial_bias": "no", "claims.AMA_PRA_1.S1": "1.1"},
    )
    assert errors.status == 422
    page = _text(errors)
    assert 'role="alert"' in page
    assert "Attestation: you must attest to the credit you claim" in page
    assert 'href="#f-answers-free_of_commercial_bias_comment"' in page
    assert 'value="no" checked' in page  # what the learner chose stays chosen

    done = _post_form(
        stack,
        "/l/evaluation",
        cookie,
        {**ANSWERS, "csrf": csrf, "claims.AMA_PRA_1.S1": "1.25", "claims.AMA_PRA_1.S2": "2", "attest": "yes"},
    )
    assert done.status == 303 and done.headers["Location"] == "/l?done=evaluation"
    waiting = _text(_page(stack, "/l?done=evaluation", cookie))
    assert "evaluation and claim were received" in waiting
    stack.settle()
    cid = certificate_id(meeting, "B-1001")
    assert store.get_certificate(cid)["credits"] == {"AMA_PRA_1": 3.25}
    page = _text(_page(stack, "/l", cookie))
    assert "All done" in page and "3.25 AMA PRA Category 1 Credits™" in page, re.sub(r"<[^>]+>", " ", page)[-2500:]
    download = _page(stack, "/l/certificate", cookie)
    assert download.status == 302 and "X-Amz-Signature" in download.headers["Location"]

    # Changing the claim: the form again, everything claimed this time → certificate version 2.
    assert 'href="/l/evaluation">Change my claim' in page
    again = _page(stack, "/l/evaluation", cookie)
    resubmit = _post_form(stack, "/l/evaluation", cookie, {**ANSWERS, "csrf": _csrf(again), "attest": "yes"})
    assert resubmit.status == 303
    stack.settle()
    assert store.current_certificate_version(cid) == 2
    assert store.get_certificate(cid)["credits"] == {"AMA_PRA_1": 3.5}
    assert "Version 2" in _text(_page(stack, "/l", cookie))


def test_pages_without_a_session_offer_a_new_link(meeting, stack):
    reply = _page(stack, "/l", None)
    assert reply.status == 401 and 'action="/login"' in reply.body.decode()
    expired = _link_token(meeting, "B-1001", days=-1)
    reply = http("GET", f"{stack.api_url}/l/{expired}")
    assert reply.status == 401
    page = reply.body.decode()
    assert "expired" in page and f'name="activity_id" value="{meeting}"' in page
    tampered = _link_token(meeting, "B-1001")[:-2] + "xx"
    assert http("GET", f"{stack.api_url}/l/{tampered}").status == 401
    assert _page(stack, "/l", "cme_session=l1.garbage.sig").status == 401


def test_a_session_of_one_learner_never_shows_another(meeting, stack):
    from cme.auth import certificate_id

    cookie = _sign_in(stack, _link_token(meeting, "B-1002"))
    page = _text(_page(stack, "/l", cookie))
    assert "Łukasz Żółć" in page and "Ana Pérez" not in page and "Sepsis update" not in page
    assert "No attendance is recorded for you yet" in page
    other = certificate_id(meeting, "B-1001")
    assert _page(stack, f"/certificates/{other}", cookie).status == 404
    me = _page(stack, "/me", cookie)
    assert me.status == 200 and me.json["attendee"]["badge_id"] == "B-1002"


def _mails_to(stack, address: str) -> list[email.message.EmailMessage]:
    found = []
    for mail in stack.sent_mail():
        message = email.message_from_string(mail["raw"], policy=email.policy.default)
        if address in str(message["To"]):
            found.append(message)
    return found


def _link_in(message) -> str:  # type: ignore[no-untyped-def]
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"(http\S+/l/(l1\.[\w\-.]+))", text)
    assert found, text
    return found.group(2)


def test_registration_mails_a_link_and_a_login_request_mails_a_fresh_one(api, stack, activity_id):
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    api.put_activity(activity_id, worked_example_activity())
    rows = [dict(r, email=f"{r['badge_id'].lower()}.{activity_id}@example.org") for r in roster_rows()]
    assert api.post_roster(activity_id, rows).status == 200
    stack.settle()
    address = f"b-1001.{activity_id}@example.org"
    [registered] = _mails_to(stack, address)
    assert activity_id not in str(registered["Subject"]) and "Annual Scientific Assembly 2027" in registered["Subject"]
    assert _sign_in(stack, _link_in(registered))
    # Importing the roster again updates rows and mails nobody.
    api.post_roster(activity_id, rows)
    stack.settle()
    assert len(_mails_to(stack, address)) == 1

    reply = http("POST", f"{stack.api_url}/login", body={"activity_id": activity_id, "email": address.upper()})
    assert reply.status == 202
    unknown = http("POST", f"{stack.api_url}/login", body={"activity_id": activity_id, "email": "nobody@example.org"})
    assert unknown.status == 202 and unknown.body == reply.body
    stack.settle()
    mails = _mails_to(stack, address)
    assert len(mails) == 2 and "sign-in link" in str(mails[1]["Subject"])
    assert _mails_to(stack, "nobody@example.org") == []
    cookie = _sign_in(stack, _link_in(mails[1]))
    assert "Ana Pérez" in _text(_page(stack, "/l", cookie))


def test_roster_import_can_skip_the_link_mails(api, stack, activity_id):
    from stack_support import http as call

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    api.put_activity(activity_id, worked_example_activity())
    rows = [dict(r, email=f"quiet.{r['badge_id'].lower()}.{activity_id}@example.org") for r in roster_rows()]
    reply = call(
        "POST", f"{stack.api_url}/activities/{activity_id}/attendees?send_links=false", body=rows, token=api.organizer
    )
    assert reply.status == 200 and reply.json["created"] == len(rows)
    stack.settle()
    assert _mails_to(stack, f"quiet.b-1001.{activity_id}@example.org") == []


def test_login_requests_are_rate_limited_and_validated(api, stack, activity_id):
    stack.set_clock(datetime.fromisoformat("2027-10-20T10:00:00-05:00"))
    body = {"activity_id": activity_id, "email": f"flood.{activity_id}@example.org"}
    statuses = [http("POST", f"{stack.api_url}/login", body=body).status for _ in range(6)]
    assert statuses == [202] * 5 + [429]
    limited = http("POST", f"{stack.api_url}/login", body=body)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    bad = http("POST", f"{stack.api_url}/login", body={"activity_id": activity_id, "email": "not an address"})
    assert bad.status == 422 and bad.json["error"]["details"][0]["field"] == "email"
    form = http(
        "POST",
        f"{stack.api_url}/login",
        raw=urlencode({"activity_id": activity_id, "email": f"form.{activity_id}@example.org"}).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert form.status == 202 and "Check your email" in form.body.decode()


def test_a_registration_event_delivered_twice_mails_once(api, stack, activity_id):
    from builders import eventbridge_event, sqs_event

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    api.put_activity(activity_id, worked_example_activity())
    rows = [dict(r, email=f"twice.{r['badge_id'].lower()}.{activity_id}@example.org") for r in roster_rows()]
    call = http(
        "POST", f"{stack.api_url}/activities/{activity_id}/attendees?send_links=false", body=rows, token=api.organizer
    )
    assert call.status == 200
    event = eventbridge_event("LearnerRegistered", {"activity_id": activity_id, "badge_id": "B-1001"})
    for _ in range(2):
        assert stack.host.invoke("SendLearnerLinkFunction", sqs_event(event)) == {"batchItemFailures": []}
    assert len(_mails_to(stack, f"twice.b-1001.{activity_id}@example.org")) == 1


def test_the_certificate_mail_links_to_a_sign_in_that_lands_on_the_pdf(meeting, stack):
    from cme.auth import certificate_id

    cookie = _sign_in(stack, _link_token(meeting, "B-1001"))
    csrf = _csrf(_page(stack, "/l/evaluation", cookie))
    assert _post_form(stack, "/l/evaluation", cookie, {**ANSWERS, "csrf": csrf, "attest": "yes"}).status == 303
    stack.settle()
    cid = certificate_id(meeting, "B-1001")
    [mail] = [m for m in _mails_to(stack, "ana.perez@example.org") if cid in m.as_string()]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"(http\S+/l/(l1\.[\w\-.]+)\?next=certificate)", text)
    assert link, text
    fresh = http("GET", f"{stack.api_url}/l/{link.group(2)}?next=certificate")
    assert fresh.status == 303 and fresh.headers["Location"] == "/l/certificate"
    download = _page(stack, "/l/certificate", fresh.headers["Set-Cookie"].split(";", 1)[0])
    assert download.status == 302 and "X-Amz-Signature" in download.headers["Location"]


def test_session_scope_evaluates_each_session_on_its_own_page(api, stack, activity_id):
    from cme.adapters import store

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    body = worked_example_activity(policy={"evaluation_scope": "session"})
    assert api.put_activity(activity_id, body).status == 201
    api.post_roster(activity_id, roster_rows())
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    api.post_scans(activity_id, EXAMPLE_1)
    stack.settle()
    cookie = _sign_in(stack, _link_token(activity_id, "B-1001"))
    home = _text(_page(stack, "/l", cookie))
    assert "Next: evaluate your sessions" in home and 'href="/l/evaluation/S1"' in home
    assert _page(stack, "/l/evaluation", cookie).status == 303  # no activity-wide form under session scope
    assert _page(stack, "/l/evaluation/S4", cookie).status == 404  # not attended
    form = _page(stack, "/l/evaluation/S1", cookie)
    assert form.status == 200 and "Sepsis update" in _text(form) and 'name="claims.AMA_PRA_1.S2"' not in _text(form)
    done = _post_form(stack, "/l/evaluation/S1", cookie, {**ANSWERS, "csrf": _csrf(form), "attest": "yes"})
    assert done.status == 303
    stack.settle()
    claim = store.get_claim(activity_id, "B-1001")
    assert claim is not None and claim["totals"] == {"AMA_PRA_1": "1.5"}  # S2 waits for its own evaluation
    home = _text(_page(stack, "/l", cookie))
    assert 'href="/l/evaluation/S2"' in home and 'href="/l/evaluation/S1"' not in home


CUSTOM_QUESTIONS = [
    {"id": "relevance", "text": "How relevant was this to your practice?", "type": "scale", "min": 1, "max": 4},
    {
        "id": "format",
        "text": "Which format suits you best?",
        "type": "choice",
        "options": ["Lecture", "Workshop", "Case discussion"],
        "comment_required_when": "Workshop",
    },
    {"id": "bias", "text": "Was the content balanced?", "type": "yes_no", "comment_required_when": "no"},
]


def test_an_activity_brings_its_own_questions_and_the_form_follows_them(api, stack, activity_id):
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    body = worked_example_activity(evaluation_questions=CUSTOM_QUESTIONS)
    assert api.put_activity(activity_id, body).status == 201
    api.post_roster(activity_id, roster_rows())
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    api.post_scans(activity_id, EXAMPLE_1)
    stack.settle()
    cookie = _sign_in(stack, _link_token(activity_id, "B-1001"))
    form = _page(stack, "/me/evaluation-form", cookie).json
    assert [q["id"] for q in form["questions"]] == ["relevance", "format", "bias"]
    page = _page(stack, "/l/evaluation", cookie)
    text = _text(page)
    assert "Which format suits you best?" in text and 'value="Case discussion"' in text
    assert "objectives_met" not in text
    fields = {"csrf": _csrf(page), "answers.relevance": "3", "answers.format": "Workshop", "answers.bias": "yes"}
    reply = _post_form(stack, "/l/evaluation", cookie, {**fields, "attest": "yes"})
    assert reply.status == 422 and 'href="#f-answers-format_comment"' in reply.body.decode()
    reply = _post_form(
        stack, "/l/evaluation", cookie, {**fields, "answers.format_comment": "Hands-on practice.", "attest": "yes"}
    )
    assert reply.status == 303


@pytest.mark.parametrize(
    ("questions", "field"),
    [
        ([{"id": "q", "text": "Pick", "type": "choice", "options": ["only one"]}], "evaluation_questions.0.options"),
        ([{"id": "q", "text": "Rate", "type": "scale", "min": 5, "max": 3}], "evaluation_questions.0.max"),
        (
            [{"id": "q", "text": "Fair?", "type": "yes_no", "comment_required_when": "maybe"}],
            "evaluation_questions.0.comment_required_when",
        ),
        (
            [{"id": "q", "text": "A", "type": "text"}, {"id": "q", "text": "B", "type": "text"}],
            "evaluation_questions.1.id",
        ),
        ([{"id": "faculty_x", "text": "A", "type": "text"}], "evaluation_questions.0.id"),
        ([], "evaluation_questions"),
    ],
    ids=["one-option", "scale-upside-down", "comment-on-unknown-answer", "duplicate-id", "reserved-id", "empty"],
)
def test_a_broken_question_set_is_422_naming_the_field(api, activity_id, questions, field):
    reply = api.put_activity(activity_id, worked_example_activity(evaluation_questions=questions))
    assert reply.status == 422, reply.body
    assert field in [d["field"] for d in reply.json["error"]["details"]], reply.json


def test_malformed_forms_are_4xx_never_5xx(meeting, stack):
    cookie = _sign_in(stack, _link_token(meeting, "B-1001"))
    flood = "&".join(f"f{i}=x" for i in range(600)).encode()
    for path in ("/l/evaluation", "/login"):
        reply = http(
            "POST",
            f"{stack.api_url}{path}",
            raw=flood,
            content_type="application/x-www-form-urlencoded",
            headers={"Cookie": cookie},
        )
        assert reply.status == 413, (path, reply.status)
    broken = http(
        "POST",
        f"{stack.api_url}/l/evaluation",
        raw=b"csrf=\xff\xfe&attest=yes",
        content_type="application/x-www-form-urlencoded",
        headers={"Cookie": cookie},
    )
    assert broken.status == 403  # undecodable bytes are replaced; the CSRF token then does not match
    wrong_type = http(
        "POST", f"{stack.api_url}/l/evaluation", raw=b"{}", content_type="application/json", headers={"Cookie": cookie}
    )
    assert wrong_type.status == 415


def test_tokens_in_any_shape_are_401_never_5xx(meeting, stack):
    for token in ("l1.%C3%A9t%C3%A9.x", "l1.a.b.c", "%00", "l1..", "l1.AAAA.AAAA"):
        assert http("GET", f"{stack.api_url}/l/{token}").status == 401, token
    for cookie in ("cme_session=l1.%E2%82%AC.x", "cme_session=", "cme_session=l1.AAAA.AAAA; other=1"):
        assert http("GET", f"{stack.api_url}/l", headers={"Cookie": cookie}).status == 401, cookie
    assert http("GET", f"{stack.api_url}/me", headers={"Authorization": "Bearer l1.\u00e9.x"}).status == 401
