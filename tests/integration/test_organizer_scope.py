"""An organizer sees only their activities: every route of the organizer function, as the template
declares them, answers 401 without claims and 403 to an organizer of another activity, before it
reads or changes anything; the activity's own organizer gets through (no 401/403)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from builders import http_event, organizer_claims, roster_rows, worked_example_activity

pytestmark = pytest.mark.integration


def _organizer_routes() -> list[tuple[str, str]]:
    import template_support as ts

    events = ts.load_sam_template()["Resources"]["OrganizerApiFunction"]["Properties"]["Events"]
    return sorted((e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values())


ROUTES = _organizer_routes()
SAMPLE = {"session_id": "S1", "badge_id": "B-1001", "device_id": "dev-x", "certificate_id": "c-x",
          "kind": "logo", "name": "attendance.csv"}  # fmt: skip


def _call(stack: Any, method: str, route: str, activity_id: str, claims: dict[str, Any] | None) -> int:
    params = {"activity_id": activity_id, **{k: v for k, v in SAMPLE.items() if "{" + k + "}" in route}}
    path = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], route)
    body = worked_example_activity() if method == "PUT" and route == "/activities/{activity_id}" else {}
    event = http_event(method, path, route=route, body=body, path_parameters=params, claims=claims)
    return int(stack.host.invoke("OrganizerApiFunction", event)["statusCode"])


def test_the_template_declares_the_organizer_routes_checked_here() -> None:
    assert len(ROUTES) >= 20 and ("GET", "/activities/{activity_id}/dashboard") in ROUTES


@pytest.fixture(scope="module")
def scoped_activity(stack: Any) -> str:
    from conftest import Handlers

    from stack_support import new_activity_id

    activity_id = new_activity_id()
    handlers = Handlers(stack)
    assert handlers.put_activity(activity_id, worked_example_activity())[0] == 201
    handlers.post_roster(activity_id, roster_rows())
    return activity_id


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_every_organizer_route_is_scoped_to_the_organizers_activities(
    stack: Any, scoped_activity: str, method: str, route: str
) -> None:
    from cme.adapters import store

    before = store.get_activity(scoped_activity)
    assert _call(stack, method, route, scoped_activity, {}) == 401
    assert _call(stack, method, route, scoped_activity, organizer_claims("another-activity")) == 403
    assert _call(stack, method, route, scoped_activity, organizer_claims("*", subject="x") | {
        "custom:activities": "another-activity,yet-another"}) == 403  # fmt: skip
    assert store.get_activity(scoped_activity) == before  # nothing read into or written
    assert _call(stack, method, route, scoped_activity, organizer_claims(scoped_activity)) not in (401, 403)
