"""Builders of real AWS event envelopes (from events/envelopes, copies of AWS's own samples) and of
realistic payloads, so tests never hand-write event dicts."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
ENVELOPES = ROOT / "events" / "envelopes"


@cache
def _envelope(name: str) -> dict[str, Any]:
    return json.loads((ENVELOPES / f"{name}.json").read_text())


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event as the front delivers it."""
    event = copy.deepcopy(_envelope("apigw-http-v2"))
    route_key = f"{method} {route or path}"
    event["routeKey"] = route_key
    event["rawPath"] = path
    event["rawQueryString"] = urlencode(query or {})
    event["headers"] = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    event["queryStringParameters"] = dict(query) if query else None
    event["pathParameters"] = path_parameters or {}
    event.pop("cookies", None)
    event.pop("stageVariables", None)
    context = event["requestContext"]
    context["http"].update(method=method, path=path)
    context["routeKey"] = route_key
    context["stage"] = "$default"
    context["domainName"] = "api.example.org"
    context["requestId"] = str(uuid.uuid4())
    context.pop("authentication", None)
    if claims is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    else:
        event.pop("body", None)
    event["isBase64Encoded"] = False
    return event


def organizer_claims(activities: str = "*", subject: str = "organizer-1") -> dict[str, Any]:
    return {"sub": subject, "custom:activities": activities, "cognito:groups": "[organizers]", "token_use": "id"}


def eventbridge_event(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(_envelope("eventbridge"))
    event.update(
        {
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "cme",
            "account": "123456789012",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )
    event.pop("replay-name", None)
    return event


def sqs_event(*bodies: dict[str, Any] | str, queue: str = "cme-queue") -> dict[str, Any]:
    """An SQS event whose messages carry EventBridge events (rule → queue)."""
    template = _envelope("sqs")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["receiptHandle"] = uuid.uuid4().hex
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        record["messageAttributes"] = {}
        record["eventSourceARN"] = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
        record["awsRegion"] = "us-east-1"
        records.append(record)
    return {"Records": records}


def stream_event(*changes: tuple[str, dict[str, Any] | None, dict[str, Any] | None]) -> dict[str, Any]:
    """A DynamoDB stream event from (eventName, new image, old image) with plain Python images."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    template = _envelope("dynamodb-stream")["Records"][0]
    records = []
    for index, (name, new, old) in enumerate(changes, start=1):
        record = copy.deepcopy(template)
        image = new or old or {}
        change: dict[str, Any] = {
            "ApproximateCreationDateTime": 1791900000.0,
            "Keys": {"PK": {"S": image["PK"]}, "SK": {"S": image["SK"]}},
            "SequenceNumber": f"{index:021d}",
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if new is not None:
            change["NewImage"] = {k: serializer.serialize(v) for k, v in new.items()}
        if old is not None:
            change["OldImage"] = {k: serializer.serialize(v) for k, v in old.items()}
        record.update(
            eventID=uuid.uuid4().hex,
            eventName=name,
            dynamodb=change,
            eventSourceARN="arn:aws:dynamodb:us-east-1:123456789012:table/cme/stream/2027-01-01T00:00:00.000",
            awsRegion="us-east-1",
        )
        records.append(record)
    return {"Records": records}


# ---- payloads ---------------------------------------------------------------------------------------

OFFSET = "-05:00"
DAY = "2027-10-14"


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00{OFFSET}"


def worked_example_activity(**overrides: Any) -> dict[str, Any]:
    """The agenda of credit-rules.md's worked examples (S1, S2 with a break, S4 with faculty F1)."""
    body: dict[str, Any] = {
        "title": "Annual Scientific Assembly 2027",
        "format": "live",
        "provider": {"name": "Midwest Academy of Family Physicians", "joint_provider": None},
        "location": "McCormick Place, Chicago, IL",
        "timezone": "America/Chicago",
        "starts_on": "2027-10-14",
        "ends_on": "2027-10-16",
        "credit_types": {"AMA_PRA_1": {"max": 21.5}, "ANCC": {"max": 21.5}},
        "sessions": [
            {
                "session_id": "S1",
                "title": "Sepsis update",
                "room": "Hall-A",
                "starts_at": at("08:00"),
                "ends_at": at("09:30"),
                "credits": {"AMA_PRA_1": 1.5},
            },
            {
                "session_id": "S2",
                "title": "Heart failure in primary care",
                "room": "Room-201",
                "starts_at": at("09:45"),
                "ends_at": at("12:00"),
                "credits": {"AMA_PRA_1": 2.0, "ANCC": 2.0},
                "breaks": [{"starts_at": at("10:45"), "ends_at": at("11:00")}],
            },
            {
                "session_id": "S4",
                "title": "Antibiotic stewardship",
                "room": "Hall-A",
                "starts_at": at("09:45"),
                "ends_at": at("10:45"),
                "credits": {"AMA_PRA_1": 1.0},
                "faculty": ["F1"],
            },
        ],
    }
    body.update(overrides)
    return body


def roster_rows() -> list[dict[str, Any]]:
    return [
        {
            "badge_id": "B-1001",
            "given_name": "Ana",
            "family_name": "Pérez",
            "email": "ana.perez@example.org",
            "profession": "physician",
            "degree": "MD",
            "board_ids": {"ABIM": "123456"},
            "birth_mmdd": "0314",
        },
        {
            "badge_id": "B-1002",
            "given_name": "Łukasz",
            "family_name": "Żółć",
            "email": "lukasz@example.org",
            "profession": "nurse",
            "degree": "RN",
        },
        {
            "badge_id": "B-1003",
            "given_name": "Σοφία",
            "family_name": "Παπαδοπούλου",
            "email": "sofia@example.org",
            "profession": "physician_assistant",
            "degree": "PA-C",
        },
        {
            "badge_id": "B-1004",
            "given_name": "Dmitri",
            "family_name": "Ivanov",
            "email": "dmitri@example.org",
            "profession": "pharmacist",
            "degree": "PharmD",
            "nabp_eprofile_id": "1234567",
            "birth_mmdd": "1102",
        },
        {
            "badge_id": "F1",
            "given_name": "Grace",
            "family_name": "Okafor",
            "email": "grace@example.org",
            "profession": "physician",
            "degree": "MD",
        },
    ]


def scan(scan_id: str, badge: str, room: str, hhmm: str, direction: str = "entry", **extra: Any) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "badge_id": badge,
        "room": room,
        "scanned_at": at(hhmm),
        "direction": direction,
        **extra,
    }


def answers(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "objectives_met": 5,
        "practice_change": "Earlier lactate measurement in suspected sepsis.",
        "commitment_to_change": 4,
        "free_of_commercial_bias": "yes",
        "overall_quality": 5,
    }
    base.update(overrides)
    return base


@dataclass
class LambdaContext:
    """The fields of Lambda's context object that the handlers and Powertools read."""

    function_name: str = "cme-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "req-1"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
