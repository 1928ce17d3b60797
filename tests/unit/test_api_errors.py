"""The HTTP error side (shared/cme/api.py): validation errors named by field, request bodies that never
become a 5xx, and one resolver that answers every refusal with the contract's error body."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import ValidationError

from builders import http_event, worked_example_activity
from cme.api import MAX_BODY_BYTES, json_body, new_resolver, parse, validation_details
from cme.domain.models import Activity, EvaluationSubmission
from cme.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)

pytestmark = pytest.mark.unit


def _activity_errors(mutate: Any) -> list[dict[str, Any]]:
    body = copy.deepcopy({**worked_example_activity(), "activity_id": "asa-2027"})
    mutate(body)
    with pytest.raises(ValidationError) as caught:
        Activity.model_validate(body)
    return validation_details(caught.value)


def _not_offered(body: dict[str, Any]) -> None:
    body["credit_types"] = {"ANCC": {"max": 21.5}}
    body["sessions"][0]["credits"] = {"AMA_PRA_1": 1.5}
    body["sessions"] = body["sessions"][:1]


def _above_session_minutes(body: dict[str, Any]) -> None:
    body["sessions"][0]["credits"]["AMA_PRA_1"] = 3.0


# ---- validation_details ----------------------------------------------------------------------------


def test_a_missing_field_is_named_by_its_path() -> None:
    details = _activity_errors(lambda b: b.pop("title"))
    assert details == [{"field": "title", "message": "Field required"}]


def test_a_nested_field_is_named_with_dots_and_indexes() -> None:
    details = _activity_errors(lambda b: b["sessions"][1].pop("room"))
    assert details == [{"field": "sessions.1.room", "message": "Field required"}]


def test_a_field_validator_message_loses_pydantics_value_error_prefix() -> None:
    [detail] = _activity_errors(lambda b: b.update(timezone="Mars/Olympus"))
    assert detail == {"field": "timezone", "message": "unknown time zone 'Mars/Olympus'"}


def test_a_model_level_message_moves_its_field_out_of_the_message() -> None:
    [detail] = _activity_errors(_not_offered)
    assert detail["message"] == "the activity does not offer AMA_PRA_1"
    assert detail["field"] == "sessions.0.credits.AMA_PRA_1"


def test_a_model_level_field_is_named_like_pydantics_own_fields() -> None:
    [detail] = _activity_errors(_not_offered)
    assert detail == {"field": "sessions.0.credits.AMA_PRA_1", "message": "the activity does not offer AMA_PRA_1"}


def test_a_session_level_message_names_the_credit_type_field() -> None:
    [detail] = _activity_errors(_above_session_minutes)
    assert detail["field"] == "sessions.0.credits.AMA_PRA_1"
    assert not detail["message"].startswith("credits.")


def test_a_session_level_error_still_points_at_the_session_and_says_the_type() -> None:
    [detail] = _activity_errors(_above_session_minutes)
    assert detail["field"].startswith("sessions.0")
    assert "AMA_PRA_1" in detail["field"] + detail["message"]


def test_a_duplicate_session_id_names_the_session() -> None:
    [detail] = _activity_errors(lambda b: b["sessions"][2].update(session_id="S1"))
    assert "sessions" in detail["field"] and "2" in detail["field"] and detail["field"].endswith("session_id")
    assert detail["message"] == "'S1' is used twice"


def test_a_model_level_message_without_a_field_falls_back_to_body() -> None:
    [detail] = _activity_errors(lambda b: b.update(starts_on="2027-10-17"))
    assert detail == {"field": "body", "message": "ends_on must not be before starts_on"}


def test_a_prefix_is_put_in_front_of_every_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Activity.model_validate({"activity_id": "a"})
    details = validation_details(caught.value, prefix="activity.")
    assert details and all(d["field"].startswith("activity.") for d in details)
    with pytest.raises(ValidationError) as caught:
        Activity.model_validate([])
    assert validation_details(caught.value, prefix="activity.") == [
        {"field": "activity", "message": "Input should be a valid dictionary or instance of Activity"}
    ]


def test_every_error_is_reported_not_just_the_first() -> None:
    with pytest.raises(ValidationError) as caught:
        Activity.model_validate({"activity_id": "a", "title": ""})
    fields = {d["field"] for d in validation_details(caught.value)}
    assert {"title", "provider", "location", "starts_on", "ends_on", "credit_types"} <= fields


def test_details_carry_no_input_values() -> None:
    with pytest.raises(ValidationError) as caught:
        Activity.model_validate({**worked_example_activity(), "activity_id": "asa-2027", "secret_field": "s3cr3t"})
    details = validation_details(caught.value)
    assert details == [{"field": "secret_field", "message": "Extra inputs are not permitted"}]
    assert "s3cr3t" not in json.dumps(details)


# ---- json_body ---------------------------------------------------------------------------------------


def _app_with(event: dict[str, Any]) -> APIGatewayHttpResolver:
    app = new_resolver()
    app.current_event = APIGatewayProxyEventV2(event)
    return app


def _post(**kwargs: Any) -> dict[str, Any]:
    return http_event("POST", "/echo", **kwargs)


def test_a_json_body_is_parsed() -> None:
    assert json_body(_app_with(_post(body={"a": [1, "é"]}))) == {"a": [1, "é"]}


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.cme+json", ""]
)
def test_json_content_types_and_none_are_accepted(content_type: str) -> None:
    event = _post(body=[1], headers={"content-type": content_type})
    assert json_body(_app_with(event)) == [1]


def test_a_base64_encoded_json_body_is_parsed() -> None:
    event = _post(raw_body=base64.b64encode('{"name": "Żółć"}'.encode()).decode())
    event["isBase64Encoded"] = True
    assert json_body(_app_with(event)) == {"name": "Żółć"}


def test_broken_json_is_a_bad_request_saying_where() -> None:
    app = _app_with(_post(raw_body='{"scans": [\n  {"scan_id": "a",}\n]}'))
    with pytest.raises(BadRequest) as caught:
        json_body(app)
    assert caught.value.status == 400
    assert "not valid JSON" in caught.value.message
    assert "line 2 column " in caught.value.message


def test_a_body_with_undecodable_bytes_is_a_bad_request() -> None:
    # A text body that carried non-UTF-8 bytes (surrogate-escaped on the way in).
    app = _app_with(_post(raw_body='{"name": "Jos\udce9"}'))
    with pytest.raises(BadRequest) as caught:
        json_body(app)
    assert "UTF-8" in caught.value.message


def test_a_base64_body_that_is_not_utf8_is_a_bad_request() -> None:
    event = _post(raw_body=base64.b64encode('{"name": "José"}'.encode("latin-1")).decode())
    event["isBase64Encoded"] = True
    with pytest.raises(BadRequest):
        json_body(_app_with(event))


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/csv", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_another_content_type_is_unsupported(content_type: str) -> None:
    app = _app_with(_post(raw_body="{}", headers={"content-type": content_type}))
    with pytest.raises(UnsupportedMediaType) as caught:
        json_body(app)
    assert caught.value.status == 415
    assert content_type.split(";")[0] in caught.value.message


@pytest.mark.parametrize("raw", [None, ""], ids=["no-body", "empty-string"])
def test_an_empty_body_is_a_bad_request(raw: str | None) -> None:
    app = _app_with(_post(raw_body=raw))
    with pytest.raises(BadRequest) as caught:
        json_body(app)
    assert caught.value.message == "the request body is empty"


def test_a_body_over_the_limit_is_payload_too_large() -> None:
    app = _app_with(_post(raw_body='"' + "x" * MAX_BODY_BYTES + '"'))
    with pytest.raises(PayloadTooLarge) as caught:
        json_body(app)
    assert caught.value.status == 413


# ---- the resolver's error mapping -------------------------------------------------------------------


def _resolver() -> APIGatewayHttpResolver:
    app = new_resolver()

    @app.post("/echo")
    def echo() -> dict[str, Any]:
        return {"got": json_body(app)}

    @app.get("/raise/<kind>")
    def refuse(kind: str) -> dict[str, Any]:
        errors: dict[str, ApiError] = {
            "bad": BadRequest("bad thing"),
            "unauthorized": Unauthorized("who are you"),
            "token": Unauthorized("the sign-in link has expired", code="expired_token"),
            "forbidden": Forbidden("not yours"),
            "missing": NotFound("no such certificate"),
            "conflict": Conflict("certificate exists", details=[{"field": "sessions.0.room", "message": "changed"}]),
            "invalid": Unprocessable("bad fields", details=[{"field": "attest", "message": "must be true"}]),
            "large": PayloadTooLarge("too big"),
            "media": UnsupportedMediaType("not json"),
        }
        raise errors[kind]

    @app.put("/activities/<activity_id>")
    def put_activity(activity_id: str) -> dict[str, Any]:
        Activity.model_validate({**json_body(app), "activity_id": activity_id})
        return {"ok": True}

    @app.post("/evaluations")
    def evaluate() -> dict[str, Any]:
        parse(EvaluationSubmission, json_body(app))
        return {"ok": True}

    return app


def _call(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    response = _resolver().resolve(http_event(method, path, **kwargs), None)
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body, {k.lower(): v for k, v in (response.get("headers") or {}).items()}


def _assert_error_body(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("bad", 400, "bad_request", "bad thing"),
        ("unauthorized", 401, "unauthorized", "who are you"),
        ("token", 401, "expired_token", "the sign-in link has expired"),
        ("forbidden", 403, "forbidden", "not yours"),
        ("missing", 404, "not_found", "no such certificate"),
        ("conflict", 409, "conflict", "certificate exists"),
        ("invalid", 422, "validation_error", "bad fields"),
        ("large", 413, "payload_too_large", "too big"),
        ("media", 415, "unsupported_media_type", "not json"),
    ],
)
def test_each_api_error_is_its_status_with_the_contract_error_body(
    kind: str, status: int, code: str, message: str
) -> None:
    got_status, body, headers = _call("GET", f"/raise/{kind}")
    assert got_status == status
    _assert_error_body(body, code)
    assert body["error"]["message"] == message
    assert headers["content-type"] == "application/json"


def test_error_details_are_passed_through() -> None:
    _, body, _ = _call("GET", "/raise/invalid")
    assert body["error"]["details"] == [{"field": "attest", "message": "must be true"}]
    _, body, _ = _call("GET", "/raise/bad")
    assert body["error"]["details"] == []


def test_a_pydantic_validation_error_is_422_naming_the_fields() -> None:
    activity = worked_example_activity()
    activity["sessions"][0]["credits"]["AMA_PRA_1"] = 1.3
    activity.pop("location")
    status, body, _ = _call("PUT", "/activities/asa-2027", route="/activities/{activity_id}", body=activity)
    assert status == 422
    _assert_error_body(body, "validation_error")
    fields = [d["field"] for d in body["error"]["details"]]
    assert "location" in fields
    assert any(f.startswith("sessions.0.credits") for f in fields)
    assert all(set(d) == {"field", "message"} for d in body["error"]["details"])


def test_parse_refusals_are_422_naming_the_fields() -> None:
    status, body, _ = _call("POST", "/evaluations", body={"answers": [], "attest": "perhaps", "x": 1})
    assert status == 422
    _assert_error_body(body, "validation_error")
    assert {d["field"] for d in body["error"]["details"]} == {"answers", "attest", "x"}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"raw_body": "{not json"}, 400, "bad_request"),
        ({}, 400, "bad_request"),
        ({"raw_body": "x", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"raw_body": '{"a": "\udcff"}'}, 400, "bad_request"),
    ],
    ids=["broken-json", "no-body", "text-plain", "undecodable"],
)
def test_malformed_bodies_are_4xx_with_the_error_body(kwargs: dict[str, Any], status: int, code: str) -> None:
    got, body, _ = _call("POST", "/echo", **kwargs)
    assert got == status
    _assert_error_body(body, code)


def test_a_good_body_goes_through() -> None:
    status, body, _ = _call("POST", "/echo", body={"hello": "world"})
    assert status == 200 and body == {"got": {"hello": "world"}}


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/echo"), ("GET", "/raise")])
def test_an_unknown_route_is_404_json(method: str, path: str) -> None:
    status, body, headers = _call(method, path)
    assert status == 404
    _assert_error_body(body, "not_found")
    assert headers["content-type"] == "application/json"
