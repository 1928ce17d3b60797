"""Who may call what: every route of template.yaml × every kind of caller, over HTTP on the local stack,
so organizer routes meet the JWT authorizer (as API Gateway's would refuse an expired or tampered JWT
before any function runs), learner routes the signed magic-link tokens and session cookie, scanner routes
the device tokens.

Each caller presents whatever it holds everywhere a credential can go (the Authorization header, the
`cme_session` cookie, the magic link's path), and every cell of MATRIX is the status it must get. A 2xx
given to a caller other than the right one is only ever that caller's own data (a learner's own page),
which the test checks too. Rows run in MATRIX's order: within a row the right caller comes last, so a
refusal is seen before anything changes, and rows that change state come after the ones that read it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from builders import answers, at, roster_rows, scan, worked_example_activity
from stack_support import Reply, http, new_activity_id

pytestmark = pytest.mark.integration

CALLERS = (
    "none",  # no credential at all
    "expired",  # the route's kind of credential, expired (a scanner device: revoked, as devices do not expire)
    "tampered",  # the route's kind of credential, altered after signing
    "learner_other_activity",  # a learner of another activity (same badge id there)
    "learner_same_activity",  # another learner of the same activity
    "scanner",  # a scanner device of the activity
    "scanner_other_activity",  # a scanner device of another activity
    "organizer_other_activity",  # an organizer who manages another activity only
    "right",  # the route's own caller: the activity's organizer, the learner, the activity's device; anyone
)

OWN = "own"  # a 2xx with the caller's own data; the body must not show the target learner's


def _template_routes() -> list[tuple[str, str, str]]:
    """(method, path, function) for every HTTP API event of the template."""
    import template_support as ts

    routes = []
    for logical_id, resource in ts.load_sam_template()["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical_id))
    return sorted(routes)


ORGANIZER = "OrganizerApiFunction"
SCANNER = "IngestScansFunction"
LEARNER = "LearnerApiFunction"

#: The evaluation form's fields (worked example: one activity-wide evaluation).
FORM = {
    "answers.objectives_met": "5",
    "answers.practice_change": "Earlier lactate in suspected sepsis.",
    "answers.commitment_to_change": "4",
    "answers.free_of_commercial_bias": "yes",
    "answers.overall_quality": "5",
    "attest": "yes",
}

#: When the matrix runs: a clock hour of its own for the sign-in rate limits (per client, per hour).
MATRIX_TIME = "2027-10-16T21:00:00-05:00"


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 90, 160)).save(out, "PNG")
    return out.getvalue()


def _b64json(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _tampered_jwt(token: str) -> str:
    """The organizer's JWT with its claims rewritten (every activity) and the original signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join((header, _b64json({**claims, "custom:activities": "*"}), signature))


def _tampered_learner_token(token: str, other: str) -> str:
    """The learner's signature on another learner's payload."""
    prefix, _, signature = token.split(".")
    return ".".join((prefix, other.split(".")[1], signature))


class World:
    """Two activities and every credential the matrix presents, with the ids its paths need."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.url = stack.api_url
        self.target = new_activity_id()
        self.other = new_activity_id()
        self.creds: dict[str, dict[str, str]] = {}
        self.params: dict[str, str] = {}
        self.learners: dict[str, tuple[str, str]] = {}
        self.target_name = "Pérez"  # B-1001's family name, on her pages only

    def organizer(self, activities: str, ttl: int = 3600) -> str:
        return str(self.stack.authorizer.issue(f"organizer-of-{activities}", activities=activities, ttl=ttl))

    def call(
        self,
        method: str,
        path: str,
        credential: str | None = None,
        *,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        headers = {"Cookie": f"cme_session={credential}"} if credential else None
        return http(
            method,
            f"{self.url}{path}",
            body=body,
            raw=raw,
            token=credential,
            content_type=content_type,
            headers=headers,
        )


@pytest.fixture(scope="module")
def world(stack: Any) -> Iterator[World]:
    """Activity `target`: B-1001 attended S1 and S2, evaluated, and has certificate v1 (mailed); B-1002 is
    another learner of it. Activity `other` has the same agenda and badge ids (its B-1001 is someone else).
    Scanner devices of both, a revoked one, and a spare one for the revoke route."""
    from cme import clock
    from cme.auth import certificate_id, issue_learner_token

    before = clock.now()
    world = World(stack)
    admin = world.organizer("*")
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    # The other activity's B-1001 is someone else: a page showing the target's name to her is a leak.
    renamed = [
        {**r, "given_name": "Maja", "family_name": "Lindqvist"} if r["badge_id"] == "B-1001" else r
        for r in roster_rows()
    ]
    for activity_id, rows in ((world.target, roster_rows()), (world.other, renamed)):
        assert world.call("PUT", f"/activities/{activity_id}", admin, body=worked_example_activity()).status == 201
        reply = world.call("POST", f"/activities/{activity_id}/attendees?send_links=false", admin, body=rows)
        assert reply.status == 200, reply.body
    devices = {}
    for name, activity_id in (("scanner", world.target), ("spare", world.target), ("revoked", world.target)):
        reply = world.call("POST", f"/activities/{activity_id}/devices", admin, body={"label": name})
        assert reply.status == 201, reply.body
        devices[name] = reply.json
    reply = world.call("POST", f"/activities/{world.other}/devices", admin, body={"label": "other"})
    devices["other"] = reply.json
    revoked = devices["revoked"]["device_id"]
    assert world.call("DELETE", f"/activities/{world.target}/devices/{revoked}", admin).status == 200

    stack.set_clock(datetime.fromisoformat(at("12:30")))
    scans = [
        scan("mx-1", "B-1001", "Hall-A", "07:50"),
        scan("mx-2", "B-1001", "Room-201", "09:50"),
        scan("mx-3", "B-1001", "Room-201", "12:05", direction="exit"),
    ]
    reply = world.call(
        "POST", "/scans", devices["scanner"]["token"], body={"activity_id": world.target, "scans": scans}
    )
    assert reply.status == 200 and {r["status"] for r in reply.json["results"]} == {"accepted"}, reply.body
    stack.settle()

    stack.set_clock(datetime.fromisoformat(MATRIX_TIME))
    now = clock.now()
    learner = issue_learner_token(world.target, "B-1001", now + timedelta(days=30))
    assert world.call("POST", "/evaluations", learner, body={"answers": answers(), "attest": True}).status == 202
    stack.settle()
    cid = certificate_id(world.target, "B-1001")
    assert world.call("GET", f"/certificates/{cid}", learner).status == 302  # issued and downloadable

    organizer = world.organizer(world.target)
    scanner_token = devices["scanner"]["token"]
    world.creds = {
        "organizer": {
            "expired": world.organizer(world.target, ttl=-3600),
            "tampered": _tampered_jwt(world.organizer(world.other)),
            "right": organizer,
        },
        "scanner": {
            "expired": devices["revoked"]["token"],
            "tampered": scanner_token[:-4] + ("AAAA" if not scanner_token.endswith("AAAA") else "BBBB"),
            "right": scanner_token,
        },
        "learner": {
            "expired": issue_learner_token(world.target, "B-1001", now - timedelta(hours=1)),
            "tampered": _tampered_learner_token(
                learner, issue_learner_token(world.target, "B-1002", now + timedelta(days=30))
            ),
            "right": learner,
        },
        "any": {
            "learner_other_activity": issue_learner_token(world.other, "B-1001", now + timedelta(days=30)),
            "learner_same_activity": issue_learner_token(world.target, "B-1002", now + timedelta(days=30)),
            "scanner": scanner_token,
            "scanner_other_activity": devices["other"]["token"],
            "organizer_other_activity": world.organizer(world.other),
        },
    }
    world.learners = {
        "learner_other_activity": (world.other, "B-1001"),
        "learner_same_activity": (world.target, "B-1002"),
    }
    world.params = {
        "activity_id": world.target,
        "badge_id": "B-1001",
        "certificate_id": cid,
        "device_id": devices["spare"]["device_id"],
        "session_id": "S1",
        "kind": "logo",
        "name": "attendance.csv",
    }
    yield world
    stack.set_clock(before)


def _audience(path: str, function: str) -> str:
    if function == ORGANIZER:
        return "organizer"
    if function == SCANNER:
        return "scanner"
    if function == LEARNER and path != "/login":
        return "learner"
    return "public"


def _credential(world: World, audience: str, caller: str) -> str | None:
    if caller == "none":
        return None
    if caller in world.creds["any"]:
        return world.creds["any"][caller]
    if audience == "public":
        # Public routes: the right caller is anyone; the others bring a learner's expired or altered token.
        return None if caller == "right" else world.creds["learner"][caller]
    return world.creds[audience][caller]


def _request(world: World, method: str, path: str, function: str, caller: str) -> Reply:
    from cme.auth import csrf_token

    audience = _audience(path, function)
    credential = _credential(world, audience, caller)
    params = dict(world.params)
    if path == "/l/{token}":
        params["token"] = credential or "no-token-at-all"
        credential = None
    target = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
    body: Any = None
    raw: bytes | None = None
    content_type = "application/json"
    if (method, path) == ("PUT", "/activities/{activity_id}"):
        body = worked_example_activity()
    elif (method, path) == ("POST", "/activities/{activity_id}/attendees"):
        target += "?send_links=false"
        body = roster_rows()
    elif (method, path) == ("POST", "/activities/{activity_id}/devices"):
        body = {"label": f"matrix {caller}"}
    elif path.endswith("/revoke"):
        body = {"reason": "issued in error (authorization matrix)"}
    elif (method, path) == ("PUT", "/activities/{activity_id}/branding/{kind}"):
        raw, content_type = _png(), "image/png"
    elif (method, path) == ("POST", "/scans"):
        late = scan(f"mx-{caller}", "B-1001", "Hall-A", "20:55", day="2027-10-16")
        body = {"activity_id": world.target, "scans": [late]}
    elif (method, path) == ("POST", "/evaluations"):
        body = {"answers": answers(), "attest": True}
    elif method == "POST" and path.startswith("/l/evaluation"):
        fields = {**FORM, "csrf": csrf_token(credential)} if credential else dict(FORM)
        raw, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
    elif (method, path) == ("POST", "/login"):
        body = {"activity_id": world.target, "email": f"{caller}@example.org"}  # under the per-address limit
    elif (method, path) == ("GET", "/scanner/setup"):
        target += f"?activity_id={world.target}"  # asked for by name: a device of another activity is refused
    elif method in ("POST", "PUT"):
        body = {}
    return world.call(method, target, credential, body=body, raw=raw, content_type=content_type)


ROUTES = {f"{method} {path}": function for method, path, function in _template_routes()}

#: route -> the status for each caller, in CALLERS order:
#:  none, expired, tampered, learner of another activity, another learner, scanner, scanner of another
#:  activity, organizer of another activity, the right caller.
#: "own NNN": that status with the caller's own data only (never the target learner's).
MATRIX: dict[str, tuple[int | str, ...]] = {
    # ---- public: pages' shells and static files, verification, health (anyone, whatever they hold)
    "GET /health": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /verify/{certificate_id}": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /organizer/": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /organizer/activities/{activity_id}": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /organizer/callback": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /organizer/app.js": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /organizer/app.css": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /scanner": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /scanner-sw.js": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /scanner/app.js": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /scanner/app.css": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /scanner/jsqr.js": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /scanner/manifest.webmanifest": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /scanner/icon.svg": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    # Sign-in requests are answered alike for every address and caller (202, rate-limited per address).
    "GET /login": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /login": (202, 202, 202, 202, 202, 202, 202, 202, 202),
    # ---- scanner devices: the device token; a revoked device is told so (403 device_revoked)
    "GET /scanner/setup": (401, 403, 401, 401, 401, 200, 403, 401, 200),
    "POST /scans": (401, 403, 401, 401, 401, 200, 403, 401, 200),
    # ---- learners: bearer token or session cookie; routes act on the caller's own records. A learner
    # without attendance gets 422 (nothing to evaluate or claim) and 404 (no certificate of their own).
    "GET /me": (401, 401, 401, "own 200", "own 200", 401, 401, 401, 200),
    "GET /me/evaluation-form": (401, 401, 401, "own 200", "own 200", 401, 401, 401, 200),
    "GET /certificates/{certificate_id}": (401, 401, 401, 404, 404, 401, 401, 401, 302),
    "GET /l/{token}": (401, 401, 401, "own 303", "own 303", 401, 401, 401, 303),
    "GET /l": (401, 401, 401, "own 200", "own 200", 401, 401, 401, 200),
    "GET /l/evaluation": (401, 401, 401, "own 200", "own 200", 401, 401, 401, 200),
    # The worked example is evaluated once for the whole activity: a per-session form is 422 for everyone.
    "GET /l/evaluation/{session_id}": (401, 401, 401, 422, 422, 401, 401, 401, 422),
    "GET /l/certificate": (401, 401, 401, 404, 404, 401, 401, 401, 302),
    "POST /evaluations": (401, 401, 401, 422, 422, 401, 401, 401, 202),
    "POST /l/evaluation": (401, 401, 401, 422, 422, 401, 401, 401, 303),
    "POST /l/evaluation/{session_id}": (401, 401, 401, 422, 422, 401, 401, 401, 422),
    # ---- organizers: the JWT authorizer (401), then the activities the token names (403)
    "GET /activities/{activity_id}": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/dashboard": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/dashboard/recount": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/devices": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/attendees/{badge_id}": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/attendees/{badge_id}/link": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/review": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/reports/{name}": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/certificates/{certificate_id}": (401, 401, 401, 401, 401, 401, 401, 403, 302),
    "PUT /activities/{activity_id}": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "POST /activities/{activity_id}/attendees": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "POST /activities/{activity_id}/devices": (401, 401, 401, 401, 401, 401, 401, 403, 201),
    "DELETE /activities/{activity_id}/devices/{device_id}": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "POST /activities/{activity_id}/sessions/{session_id}/end": (401, 401, 401, 401, 401, 401, 401, 403, 202),
    "POST /activities/{activity_id}/dashboard/recount": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "PUT /activities/{activity_id}/branding/{kind}": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "GET /activities/{activity_id}/branding": (401, 401, 401, 401, 401, 401, 401, 403, 200),
    "DELETE /activities/{activity_id}/branding/{kind}": (401, 401, 401, 401, 401, 401, 401, 403, 204),
    "POST /activities/{activity_id}/certificates/{certificate_id}/reissue": (
        401,
        401,
        401,
        401,
        401,
        401,
        401,
        403,
        202,
    ),
    "POST /activities/{activity_id}/certificates/{certificate_id}/resend": (
        401,
        401,
        401,
        401,
        401,
        401,
        401,
        403,
        202,
    ),
    "POST /activities/{activity_id}/certificates/{certificate_id}/revoke": (
        401,
        401,
        401,
        401,
        401,
        401,
        401,
        403,
        200,
    ),
}


def _status(cell: int | str) -> int:
    return cell if isinstance(cell, int) else int(cell.split()[1])


def _text(reply: Reply) -> str:
    """The body as a person would read it (JSON without \\u escapes)."""
    text = reply.body.decode("utf-8", "replace")
    if reply.headers.get("Content-Type", "").startswith("application/json") and text:
        return json.dumps(json.loads(text), ensure_ascii=False)
    return text


def _cookie_learner(reply: Reply) -> tuple[str, str]:
    from cme.auth import read_learner_token

    token = reply.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    learner = read_learner_token(token)
    return learner.activity_id, learner.badge_id


def test_the_matrix_has_a_row_for_every_route_of_the_template() -> None:
    assert set(MATRIX) == set(ROUTES)
    assert all(len(row) == len(CALLERS) for row in MATRIX.values())


@pytest.mark.parametrize("route", list(MATRIX))
def test_route_answers_each_caller_as_the_matrix_says(world: World, route: str) -> None:
    method, path = route.split(" ", 1)
    seen: dict[str, int] = {}
    for caller, cell in zip(CALLERS, MATRIX[route], strict=True):
        reply = _request(world, method, path, ROUTES[route], caller)
        seen[caller] = reply.status
        if path == "/l" or path.startswith("/l/") or route == "GET /login":  # pages: no token in a Referer
            assert reply.headers.get("Referrer-Policy") == "no-referrer", (route, caller)
        if reply.status != _status(cell):
            continue  # reported below, with the whole row
        if isinstance(cell, str):  # another caller's own data: never the target learner's
            assert world.target_name not in _text(reply), (route, caller)
            if path == "/l/{token}":
                assert _cookie_learner(reply) == world.learners[caller], (route, caller)
        elif caller == "right" and route in ("GET /me", "GET /l"):
            assert world.target_name in _text(reply), route  # the check above can see a leak
    expected = {caller: _status(cell) for caller, cell in zip(CALLERS, MATRIX[route], strict=True)}
    assert seen == expected


def test_an_organizer_never_reaches_another_activitys_records_through_their_own(world: World) -> None:
    """The organizer of the other activity, on their own activity's paths, with the target's ids: the
    certificate and device routes check the record belongs to the activity in the path (404), and a
    badge id names that activity's own attendee."""
    from cme.auth import read_learner_token

    token = world.creds["any"]["organizer_other_activity"]
    mine, cid = f"/activities/{world.other}", world.params["certificate_id"]
    device = world.params["device_id"]
    assert world.call("GET", f"{mine}/certificates/{cid}", token).status == 404
    for action in ("reissue", "resend", "revoke"):
        assert world.call("POST", f"{mine}/certificates/{cid}/{action}", token, body={"reason": "x" * 40}).status == 404
    assert world.call("DELETE", f"{mine}/devices/{device}", token).status == 404
    attendee = world.call("GET", f"{mine}/attendees/B-1001", token)
    assert attendee.status == 200 and world.target_name not in _text(attendee)
    link = world.call("GET", f"{mine}/attendees/B-1001/link", token)
    assert link.status == 200
    assert read_learner_token(link.json["url"].rsplit("/l/", 1)[1]).activity_id == world.other
