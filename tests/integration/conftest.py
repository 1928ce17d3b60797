from __future__ import annotations

import pytest


class Handlers:
    """Invoke the template's functions directly with real event envelopes (no HTTP in between)."""

    def __init__(self, stack):  # type: ignore[no-untyped-def]
        self.stack = stack

    def http(self, function: str, event: dict) -> tuple[int, object, dict]:  # type: ignore[type-arg]
        import json

        result = self.stack.host.invoke(function, event)
        body = result.get("body") or ""
        try:
            parsed = json.loads(body) if body else None
        except json.JSONDecodeError:
            parsed = body
        return int(result["statusCode"]), parsed, dict(result.get("headers") or {})

    def organizer(
        self, method: str, path: str, route: str, params: dict, body=None, raw=None, headers=None, claims=None
    ):  # type: ignore[no-untyped-def]
        from builders import http_event, organizer_claims

        event = http_event(
            method,
            path,
            route=route,
            body=body,
            raw_body=raw,
            headers=headers,
            path_parameters=params,
            claims=organizer_claims() if claims is None else (claims or None),
        )
        return self.http("OrganizerApiFunction", event)

    def put_activity(self, activity_id: str, body: dict, claims=None):  # type: ignore[no-untyped-def, type-arg]
        return self.organizer(
            "PUT",
            f"/activities/{activity_id}",
            "/activities/{activity_id}",
            {"activity_id": activity_id},
            body=body,
            claims=claims,
        )

    def post_roster(self, activity_id: str, rows=None, raw=None, content_type="application/json"):  # type: ignore[no-untyped-def]
        return self.organizer(
            "POST",
            f"/activities/{activity_id}/attendees",
            "/activities/{activity_id}/attendees",
            {"activity_id": activity_id},
            body=rows,
            raw=raw,
            headers={"content-type": content_type},
        )

    def scans(self, body=None, token: str | None = None, raw=None, headers=None):  # type: ignore[no-untyped-def]
        from builders import http_event

        all_headers = {**({"authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return self.http(
            "IngestScansFunction", http_event("POST", "/scans", body=body, raw_body=raw, headers=all_headers)
        )

    def learner(self, method: str, path: str, token: str | None, body=None, query=None, route=None, params=None):  # type: ignore[no-untyped-def]
        from builders import http_event

        headers = {"authorization": f"Bearer {token}"} if token else {}
        event = http_event(method, path, route=route, body=body, headers=headers, query=query, path_parameters=params)
        return self.http("LearnerApiFunction", event)


@pytest.fixture
def handlers(stack) -> Handlers:  # type: ignore[no-untyped-def]
    return Handlers(stack)


@pytest.fixture
def imported(api, stack, activity_id):  # type: ignore[no-untyped-def]
    """The worked example's agenda and roster, the stack's clock at 07:00 on its first day."""
    from datetime import datetime

    from builders import at, roster_rows, worked_example_activity

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    return activity_id
