"""Builds the HTTP API's OpenAPI 3.1 document, `shared/cme/openapi.yaml`, from the routes below and the
pydantic models the handlers parse requests with (so a request schema cannot drift from its validation).

    python infra/build_openapi.py           # write the document
    python infra/build_openapi.py --check   # exit 1 when the committed document is not what this builds

The routes are the template's `HttpApi` events (tests/unit/test_openapi.py holds the two lists equal);
responses list every status a handler can answer, each with its schema, so a client can rely on them
and a schema-driven test (tests/e2e/test_api_schema.py) can check the running API against them.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from pydantic.json_schema import models_json_schema  # noqa: E402

from cme.api import MAX_BODY_BYTES  # noqa: E402
from cme.domain.models import (  # noqa: E402
    CREDIT_TYPES,
    Activity,
    Attendee,
    EvaluationQuestion,
    EvaluationSubmission,
    Scan,
)
from cme.service.branding import KINDS, MAX_BYTES  # noqa: E402
from cme.service.reports import REPORTS  # noqa: E402
from cme.service.roster import MAX_ROWS  # noqa: E402
from cme.service.scans import MAX_SCANS  # noqa: E402

DOCUMENT = ROOT / "shared" / "cme" / "openapi.yaml"
REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# ---- schemas -------------------------------------------------------------------------------------------


def model_schemas() -> dict[str, Any]:
    """The request models as the handlers validate them, and the stored agenda as `GET` returns it."""
    _, top = models_json_schema(
        [
            (Activity, "validation"),
            (Activity, "serialization"),
            (Attendee, "validation"),
            (Scan, "validation"),
            (EvaluationSubmission, "validation"),
            (EvaluationQuestion, "serialization"),
        ],
        ref_template=REF,
    )
    schemas: dict[str, Any] = top["$defs"]
    # The path names the activity: the body may leave `activity_id` out (and must match the path when given).
    request = schemas["Activity-Input"]
    request["required"] = [name for name in request["required"] if name != "activity_id"]
    request["properties"]["activity_id"]["description"] = "Optional: the path's activity id, when given."
    return schemas


CREDITS = {
    "type": "object",
    "description": "Credit amounts per credit type (numbers with at most two decimals).",
    "propertyNames": {"enum": list(CREDIT_TYPES)},
    "additionalProperties": {"type": "number"},
}
STRING_OR_NULL = {"type": ["string", "null"]}

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every refusal of the product: a code, a message saying what was wrong, and the fields.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["validation_error", "bad_request", "not_found"]},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": ref("ErrorDetail")},
                },
            }
        },
    },
    "ErrorDetail": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "Dotted path of the field (`sessions.0.credits.ACPE`)."},
            "message": {"type": "string"},
        },
    },
    "GatewayError": {
        "type": "object",
        "description": "API Gateway's own answer (no route, or the JWT authorizer refused the token).",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
    "Credits": CREDITS,
    "ActivityImport": {
        "type": "object",
        "required": ["activity_id", "created", "sessions", "sessions_ended_on_import"],
        "properties": {
            "activity_id": {"type": "string"},
            "created": {"type": "boolean"},
            "sessions": {"type": "integer", "minimum": 0},
            "sessions_ended_on_import": {"type": "array", "items": {"type": "string"}},
        },
    },
    "RosterResult": {
        "type": "object",
        "required": ["created", "updated", "rejected"],
        "properties": {
            "created": {"type": "integer", "minimum": 0},
            "updated": {"type": "integer", "minimum": 0},
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["row", "error"],
                    "properties": {
                        "row": {"type": "integer", "minimum": 1},
                        "error": {"type": "string", "description": "Field: problem; never the row's values."},
                    },
                },
            },
        },
    },
    "DeviceIssued": {
        "type": "object",
        "required": ["device_id", "token"],
        "properties": {
            "device_id": {"type": "string"},
            "token": {"type": "string", "description": "Shown once; stored hashed."},
            "label": {"type": "string"},
            "setup_url": {"type": "string"},
            "setup_qr_svg": {"type": "string"},
        },
    },
    "Device": {
        "type": "object",
        "required": ["device_id"],
        "properties": {
            "device_id": {"type": "string"},
            "activity_id": {"type": "string"},
            "label": {"type": "string"},
            "created_at": {"type": "string"},
            "revoked": {"type": "boolean"},
            "revoked_at": {"type": "string"},
        },
    },
    "SessionEndAccepted": {
        "type": "object",
        "required": ["activity_id", "session_id", "status"],
        "properties": {
            "activity_id": {"type": "string"},
            "session_id": {"type": "string"},
            "status": {"const": "accepted"},
        },
    },
    "Dashboard": {
        "type": "object",
        "required": ["activity_id", "as_of", "totals", "sessions"],
        "properties": {
            "activity_id": {"type": "string"},
            "as_of": {"type": "string", "format": "date-time"},
            "totals": {
                "type": "object",
                "required": [
                    "registered",
                    "checked_in",
                    "inside_now",
                    "evaluations_submitted",
                    "learners_claimed",
                    "credits_claimed",
                    "certificates_issued",
                    "emails_sent",
                    "emails_bounced",
                ],
                "properties": {
                    **{
                        name: {"type": "integer"}
                        for name in (
                            "registered",
                            "checked_in",
                            "inside_now",
                            "evaluations_submitted",
                            "learners_claimed",
                            "certificates_issued",
                            "emails_sent",
                            "emails_bounced",
                            "emails_delivered",
                            "emails_to_resend",
                        )
                    },
                    "credits_claimed": ref("Credits"),
                },
            },
            "sessions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["session_id", "checked_in", "inside_now", "finalized", "credits_claimable"],
                    "properties": {
                        "session_id": {"type": "string"},
                        "title": {"type": "string"},
                        "room": {"type": "string"},
                        "starts_at": {"type": "string"},
                        "ends_at": {"type": "string"},
                        "checked_in": {"type": "integer"},
                        "inside_now": {"type": "integer"},
                        "finalized": {"type": "boolean"},
                        "credits_claimable": ref("Credits"),
                        "evaluations_submitted": {"type": "integer"},
                    },
                },
            },
        },
    },
    "Recount": {
        "type": "object",
        "required": ["consistent", "differences", "live", "recount"],
        "properties": {
            "corrected": {"description": "`POST` only: what the repair set."},
            "consistent": {"type": "boolean"},
            "differences": {
                "type": "array",
                "items": {"type": "object", "required": ["field"], "properties": {"field": {"type": "string"}}},
            },
            "live": ref("Dashboard"),
            "recount": ref("Dashboard"),
        },
    },
    "LearnerView": {
        "type": "object",
        "description": "`GET /me`; the organizer's attendee view adds `scans`.",
        "required": [
            "attendee",
            "activity_id",
            "sessions",
            "credits_total",
            "claimable_total",
            "claimed_total",
            "certificate",
        ],
        "properties": {
            "attendee": {
                "type": "object",
                "required": ["badge_id", "name"],
                "properties": {
                    "badge_id": {"type": "string"},
                    "name": {"type": "string"},
                    "given_name": {"type": "string"},
                    "family_name": {"type": "string"},
                    "degree": {"type": "string"},
                    "profession": {"type": "string"},
                    "credit_types": {"type": "array", "items": {"enum": list(CREDIT_TYPES)}},
                },
            },
            "activity_id": {"type": "string"},
            "activity": {"type": "object"},
            "sessions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["session_id", "title", "minutes", "credits", "claimable", "evaluation", "explanation"],
                    "properties": {
                        "session_id": {"type": "string"},
                        "title": {"type": "string"},
                        "starts_at": {"type": "string"},
                        "room": {"type": "string"},
                        "minutes": {"type": "integer", "minimum": 0},
                        "credits": ref("Credits"),
                        "claimable": ref("Credits"),
                        "evaluation": {"enum": ["pending", "submitted", "not_required"]},
                        "faculty": {"type": "boolean"},
                        "explanation": {"type": "string"},
                    },
                },
            },
            "credits_total": ref("Credits"),
            "claimable_total": ref("Credits"),
            "claimed_total": ref("Credits"),
            "claim_offered_total": ref("Credits"),
            "claim_version": {"type": ["integer", "null"]},
            "certificate": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["certificate_id", "version", "download_url", "verify_url"],
                        "properties": {
                            "certificate_id": {"type": "string"},
                            "version": {"type": "integer"},
                            "download_url": {"type": "string"},
                            "verify_url": {"type": "string"},
                            "issued_at": {"type": "string"},
                            "credits": ref("Credits"),
                            "mail": {"type": "string"},
                            "delivery": STRING_OR_NULL,
                            "status": {"enum": ["valid", "revoked"]},
                        },
                    },
                ]
            },
            "notes": {"type": "array", "items": {"type": "string"}},
            "scans": {"type": "array", "items": {"type": "object"}},
        },
    },
    "LearnerLink": {
        "type": "object",
        "required": ["url"],
        "properties": {"url": {"type": "string"}, "expires_at": {"type": "string"}},
    },
    "Review": {
        "type": "object",
        "required": ["activity_id", "learners"],
        "properties": {
            "activity_id": {"type": "string"},
            "learners": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["badge_id", "certificate_id", "version", "excess"],
                    "properties": {
                        "badge_id": {"type": "string"},
                        "certificate_id": {"type": "string"},
                        "version": {"type": "integer"},
                        "certificate_credits": ref("Credits"),
                        "credits_now": ref("Credits"),
                        "excess": ref("Credits"),
                    },
                },
            },
        },
    },
    "Verification": {
        "type": "object",
        "required": [
            "certificate_id",
            "status",
            "learner_name",
            "activity_title",
            "dates",
            "credits",
            "issued_at",
            "version",
            "sha256",
        ],
        "properties": {
            "certificate_id": {"type": "string"},
            "status": {"enum": ["valid", "superseded", "revoked"]},
            "learner_name": {"type": "string"},
            "activity_title": {"type": "string"},
            "dates": {},
            "credits": ref("Credits"),
            "issued_at": {"type": "string"},
            "version": {"type": "integer"},
            "current_version": {"type": "integer"},
            "sha256": {"type": "string"},
        },
    },
    "CertificateAccepted": {
        "type": "object",
        "required": ["certificate_id", "version", "status"],
        "properties": {
            "certificate_id": {"type": "string"},
            "version": {"type": "integer"},
            "status": {"const": "accepted"},
        },
    },
    "BrandingImage": {
        "type": "object",
        "required": ["kind", "sha256", "content_type", "width", "height", "size"],
        "properties": {
            "kind": {"enum": list(KINDS)},
            "s3_key": {"type": "string"},
            "sha256": {"type": "string"},
            "content_type": {"enum": ["image/png", "image/jpeg"]},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "size": {"type": "integer"},
            "uploaded_at": {"type": "string"},
        },
    },
    "BrandingListing": {
        "type": "object",
        "required": ["images"],
        "properties": {
            "images": {"type": "object", "propertyNames": {"enum": list(KINDS)}},
            "accent_color": STRING_OR_NULL,
            "signer_name": STRING_OR_NULL,
            "signer_title": STRING_OR_NULL,
        },
    },
    "ScanBatch": {
        "type": "object",
        "required": ["scans"],
        "properties": {
            "activity_id": {
                "type": "string",
                "description": "May be left out when the device token is bound to one activity (must match it).",
            },
            "scans": {"type": "array", "minItems": 1, "maxItems": MAX_SCANS, "items": ref("Scan")},
        },
    },
    "ScanResults": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "description": "One per scan, in request order; one bad scan never rejects the others.",
                "items": {
                    "type": "object",
                    "required": ["scan_id", "status", "reason", "attendee_name", "session_id"],
                    "properties": {
                        "scan_id": STRING_OR_NULL,
                        "status": {"enum": ["accepted", "duplicate", "rejected"]},
                        "reason": {
                            "enum": [
                                None,
                                "unknown_badge",
                                "unknown_room",
                                "unknown_session",
                                "outside_activity",
                                "invalid",
                            ]
                        },
                        "attendee_name": STRING_OR_NULL,
                        "session_id": STRING_OR_NULL,
                        "message": {"type": "string", "description": "What to fix, for a refused scan."},
                    },
                },
            }
        },
    },
    "ScannerSetup": {
        "type": "object",
        "required": ["device_id", "activity", "rooms", "badges", "as_of"],
        "properties": {
            "device_id": {"type": "string"},
            "activity": {
                "type": "object",
                "required": ["activity_id", "title", "timezone", "starts_on", "ends_on"],
                "properties": {
                    "activity_id": {"type": "string"},
                    "title": {"type": "string"},
                    "timezone": {"type": "string"},
                    "starts_on": {"type": "string", "format": "date"},
                    "ends_on": {"type": "string", "format": "date"},
                },
            },
            "rooms": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["room", "sessions"],
                    "properties": {
                        "room": {"type": "string"},
                        "sessions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["session_id", "title", "starts_at", "ends_at"],
                            },
                        },
                    },
                },
            },
            "badges": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["badge_id", "name"],
                    "properties": {"badge_id": {"type": "string"}, "name": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
            "as_of": {"type": "string"},
        },
    },
    "LoginRequest": {
        "type": "object",
        "required": ["activity_id", "email"],
        "properties": {
            "activity_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "email": {"type": "string", "format": "email", "maxLength": 254},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "accepted"}},
    },
    "EvaluationForm": {
        "type": "object",
        "required": ["questions"],
        "properties": {
            "activity_id": {"type": "string"},
            "session_id": STRING_OR_NULL,
            "scope": {"enum": ["activity", "session"]},
            "questions": {"type": "array", "items": ref("EvaluationQuestion")},
            "attestation": {"type": "string"},
        },
    },
    "EvaluationAccepted": {
        "type": "object",
        "required": ["evaluation_id"],
        "properties": {"evaluation_id": {"type": "string"}},
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
}

# ---- responses -----------------------------------------------------------------------------------------

JSON = "application/json"
HTML = "text/html"
ERROR = {JSON: {"schema": ref("Error")}}
ERROR_TEXT = {
    400: "The request cannot be read: broken JSON or UTF-8, an empty body, a bad query value.",
    401: "No valid credentials for this route.",
    403: "The credentials do not allow this activity (or the device was revoked: `device_revoked`).",
    404: "No such resource (or no such route).",
    409: "The request conflicts with what exists.",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes, or than this route's own limit.",
    415: "The body's content type is not one this route takes (the message names it).",
    422: "Fields are invalid: `details` names each one.",
    429: "Too many requests; `Retry-After` says when to try again.",
}


def error(status: int, *, gateway: bool = False, html: bool = False, text: str | None = None) -> dict[str, Any]:
    """An error response: the product's envelope, API Gateway's `{"message"}` where the gateway answers
    (no route; the JWT authorizer), and an HTML page where a browser route answers with one."""
    schema = {"anyOf": [ref("Error"), ref("GatewayError")]} if gateway else ref("Error")
    content: dict[str, Any] = {JSON: {"schema": schema}}
    if html:
        content[HTML] = {"schema": {"type": "string"}}
    response: dict[str, Any] = {"description": text or ERROR_TEXT[status], "content": content}
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "required": True}}
    return response


def ok(schema: dict[str, Any] | str, text: str) -> dict[str, Any]:
    body = ref(schema) if isinstance(schema, str) else schema
    return {"description": text, "content": {JSON: {"schema": body}}}


def page(text: str) -> dict[str, Any]:
    return {"description": text, "content": {HTML: {"schema": {"type": "string"}}}}


def redirect(text: str, cookie: bool = False) -> dict[str, Any]:
    headers: dict[str, Any] = {"Location": {"schema": {"type": "string"}, "required": True}}
    if cookie:
        headers["Set-Cookie"] = {"schema": {"type": "string"}, "description": "The `cme_session` cookie."}
    return {"description": text, "headers": headers}


def asset(media: str, text: str) -> dict[str, dict[str, Any]]:
    return {
        "200": {
            "description": text,
            "headers": {"ETag": {"schema": {"type": "string"}}},
            "content": {media: {"schema": {"type": "object" if media.endswith("+json") else "string"}}},
        },
        "304": {"description": "Unchanged since the `If-None-Match` ETag."},
        "404": error(404, gateway=True),
    }


def path_param(name: str, text: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": text,
        "schema": schema or {"type": "string", "minLength": 1},
    }


def query_param(name: str, text: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": text, "schema": schema or {"type": "string"}}


ACTIVITY = path_param("activity_id", "The activity's id.")
BADGE = path_param("badge_id", "The attendee's badge id.")
CERTIFICATE = path_param("certificate_id", "The certificate's id.")
SESSION = path_param("session_id", "A session id of the agenda.")

ORGANIZER = [{"organizerJwt": []}]
SCANNER = [{"scannerDevice": []}]
LEARNER = [{"learnerBearer": []}, {"learnerCookie": []}]
LEARNER_PAGE = [{"learnerCookie": []}]
PUBLIC: list[dict[str, list[str]]] = []


def organizer_errors(*statuses: int) -> dict[str, Any]:
    """Every organizer route: the authorizer's 401, the scope's 403, and the route's own refusals."""
    found: dict[str, Any] = {"401": error(401, gateway=True), "403": error(403), "404": error(404, gateway=True)}
    for status in statuses:
        found[str(status)] = error(status)
    return dict(sorted(found.items()))


def json_body(schema: dict[str, Any] | str, required: bool = True) -> dict[str, Any]:
    body = ref(schema) if isinstance(schema, str) else schema
    return {"required": required, "content": {JSON: {"schema": body}}}


BODY_ERRORS = (400, 413, 415, 422)

# ---- the routes ----------------------------------------------------------------------------------------


def operations() -> dict[str, dict[str, dict[str, Any]]]:
    """path -> method -> operation, for every route of template.yaml."""
    ops: dict[str, dict[str, dict[str, Any]]] = {}

    def add(method: str, path: str, **operation: Any) -> None:
        operation.setdefault("operationId", _operation_id(method, path))
        operation["responses"] = dict(sorted(operation["responses"].items()))
        ops.setdefault(path, {})[method.lower()] = operation

    # ---- organizer
    add(
        "PUT",
        "/activities/{activity_id}",
        tags=["organizer"],
        summary="Create or replace the activity and its agenda",
        description="201 when created, 200 when replaced. Once a certificate exists, a replacement that "
        "changes a session's times, room, designations, breaks or faculty is refused (409).",
        security=ORGANIZER,
        parameters=[ACTIVITY],
        requestBody=json_body("Activity-Input"),
        responses={
            "200": ok("ActivityImport", "Replaced."),
            "201": ok("ActivityImport", "Created."),
            **organizer_errors(*BODY_ERRORS, 409),
        },
    )
    add(
        "GET",
        "/activities/{activity_id}",
        tags=["organizer"],
        summary="The agenda as stored (defaults filled in)",
        security=ORGANIZER,
        parameters=[ACTIVITY],
        responses={"200": ok("Activity-Output", "The agenda."), **organizer_errors()},
    )
    add(
        "POST",
        "/activities/{activity_id}/attendees",
        tags=["organizer"],
        summary="Roster upsert (JSON list or CSV with the same column names)",
        description=f"Up to {MAX_ROWS} rows per request. Each row is validated on its own: bad rows are "
        "listed in `rejected` by row number and field, good rows are kept. A later row for the same badge "
        "wins. CSV: `board_ids` as `ABIM:123456;ABP:7890`, `moc_consent` as yes/no.",
        security=ORGANIZER,
        parameters=[
            ACTIVITY,
            query_param(
                "send_links",
                "`false`: do not mail sign-in links to new attendees.",
                {"type": "string", "enum": ["true", "false"]},
            ),
        ],
        requestBody={
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "anyOf": [
                            {"type": "array", "maxItems": MAX_ROWS, "items": ref("Attendee")},
                            {
                                "type": "object",
                                "required": ["attendees"],
                                "properties": {
                                    "attendees": {"type": "array", "maxItems": MAX_ROWS, "items": ref("Attendee")}
                                },
                            },
                        ]
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        responses={"200": ok("RosterResult", "Rows created, updated and rejected."), **organizer_errors(*BODY_ERRORS)},
    )
    add(
        "POST",
        "/activities/{activity_id}/devices",
        tags=["organizer"],
        summary="Issue a scanner device token (shown once)",
        security=ORGANIZER,
        parameters=[ACTIVITY],
        requestBody=json_body(
            {"type": "object", "properties": {"label": {"type": "string", "description": "Cut to 100 characters."}}},
            required=False,
        ),
        responses={"201": ok("DeviceIssued", "The device and its token."), **organizer_errors(400, 413, 415)},
    )
    add(
        "GET",
        "/activities/{activity_id}/devices",
        tags=["organizer"],
        summary="The activity's scanner devices",
        security=ORGANIZER,
        parameters=[ACTIVITY],
        responses={
            "200": ok(
                {
                    "type": "object",
                    "required": ["devices"],
                    "properties": {"devices": {"type": "array", "items": ref("Device")}},
                },
                "The devices.",
            ),
            **organizer_errors(),
        },
    )
    add(
        "DELETE",
        "/activities/{activity_id}/devices/{device_id}",
        tags=["organizer"],
        summary="Revoke a scanner device (its scans stay)",
        security=ORGANIZER,
        parameters=[ACTIVITY, path_param("device_id", "The device's id.")],
        responses={"200": ok("Device", "The revoked device."), **organizer_errors()},
    )
    add(
        "POST",
        "/activities/{activity_id}/sessions/{session_id}/end",
        tags=["organizer"],
        summary="End a session by hand (idempotent; credit uses the agenda's ends_at)",
        security=ORGANIZER,
        parameters=[ACTIVITY, SESSION],
        responses={"202": ok("SessionEndAccepted", "Accepted."), **organizer_errors()},
    )
    add(
        "GET",
        "/activities/{activity_id}/dashboard",
        tags=["organizer"],
        summary="Live counts",
        security=ORGANIZER,
        parameters=[ACTIVITY],
        responses={"200": ok("Dashboard", "The counts."), **organizer_errors()},
    )
    for method, text in (("GET", "Compare"), ("POST", "Repair, then compare")):
        add(
            method,
            "/activities/{activity_id}/dashboard/recount",
            tags=["organizer"],
            summary=f"{text} the live counts with a recount from the records",
            security=ORGANIZER,
            parameters=[ACTIVITY],
            responses={"200": ok("Recount", "Both counts and where they differ."), **organizer_errors()},
        )
    add(
        "GET",
        "/activities/{activity_id}/attendees/{badge_id}",
        tags=["organizer"],
        summary="The help desk's view of one attendee (`GET /me`'s body plus the scans)",
        security=ORGANIZER,
        parameters=[ACTIVITY, BADGE],
        responses={"200": ok("LearnerView", "The attendee's credit."), **organizer_errors()},
    )
    add(
        "GET",
        "/activities/{activity_id}/attendees/{badge_id}/link",
        tags=["organizer"],
        summary="The learner's sign-in link, for the help desk",
        security=ORGANIZER,
        parameters=[ACTIVITY, BADGE],
        responses={"200": ok("LearnerLink", "The link."), **organizer_errors()},
    )
    add(
        "GET",
        "/activities/{activity_id}/review",
        tags=["organizer"],
        summary="Learners whose certificate shows more credit than their scans now support",
        security=ORGANIZER,
        parameters=[ACTIVITY],
        responses={"200": ok("Review", "The list."), **organizer_errors()},
    )
    add(
        "GET",
        "/activities/{activity_id}/certificates/{certificate_id}",
        tags=["organizer"],
        summary="Download a certificate (302 to a presigned URL of at most 10 minutes)",
        security=ORGANIZER,
        parameters=[ACTIVITY, CERTIFICATE],
        responses={"302": redirect("To the PDF."), **organizer_errors()},
    )
    add(
        "POST",
        "/activities/{activity_id}/certificates/{certificate_id}/revoke",
        tags=["organizer"],
        summary="Revoke the current version (the reason stays internal)",
        security=ORGANIZER,
        parameters=[ACTIVITY, CERTIFICATE],
        requestBody=json_body(
            {
                "type": "object",
                "required": ["reason"],
                "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
            }
        ),
        responses={"200": ok("Verification", "The version's verification."), **organizer_errors(*BODY_ERRORS)},
    )
    for action, text in (("reissue", "Reissue from the learner's evaluations"), ("resend", "Mail it once more")):
        add(
            "POST",
            f"/activities/{{activity_id}}/certificates/{{certificate_id}}/{action}",
            tags=["organizer"],
            summary=text,
            security=ORGANIZER,
            parameters=[ACTIVITY, CERTIFICATE],
            responses={"202": ok("CertificateAccepted", "Accepted."), **organizer_errors(409)},
        )
    kind = path_param("kind", "Which image.", {"type": "string", "enum": list(KINDS)})
    add(
        "PUT",
        "/activities/{activity_id}/branding/{kind}",
        tags=["organizer"],
        summary=f"Upload the logo or signature (PNG or JPEG, at most {MAX_BYTES // 1024} KB, checked by decoding)",
        security=ORGANIZER,
        parameters=[ACTIVITY, kind],
        requestBody={
            "required": True,
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        responses={"200": ok("BrandingImage", "Stored."), **organizer_errors(400, 413, 415, 422)},
    )
    add(
        "GET",
        "/activities/{activity_id}/branding",
        tags=["organizer"],
        summary="The branding: images uploaded, accent colour and signer",
        security=ORGANIZER,
        parameters=[ACTIVITY],
        responses={"200": ok("BrandingListing", "The branding."), **organizer_errors()},
    )
    add(
        "DELETE",
        "/activities/{activity_id}/branding/{kind}",
        tags=["organizer"],
        summary="Remove an image",
        security=ORGANIZER,
        parameters=[ACTIVITY, kind],
        responses={"204": {"description": "Removed."}, **organizer_errors()},
    )
    report_types = sorted({content_type.split(";")[0] for content_type, _ in REPORTS.values()})
    add(
        "GET",
        "/activities/{activity_id}/reports/{name}",
        tags=["organizer"],
        summary="A report, as an attachment named `{activity_id}-{name}`",
        description="The accreditor batches (`pars-learners.txt`, `cpe-monitor.csv`) add `X-CME-Excluded` "
        "(`reason=count, …`) and answer 409 when the activity cannot have the batch.",
        security=ORGANIZER,
        parameters=[ACTIVITY, path_param("name", "The report.", {"type": "string", "enum": list(REPORTS)})],
        responses={
            "200": {
                "description": "The file.",
                "headers": {
                    "Content-Disposition": {"schema": {"type": "string"}, "required": True},
                    "X-CME-Excluded": {"schema": {"type": "string"}},
                },
                "content": {media: {"schema": {"type": "string"}} for media in report_types},
            },
            **organizer_errors(409),
        },
    )

    # ---- scanner
    add(
        "POST",
        "/scans",
        tags=["scanner"],
        summary=f"Upload 1–{MAX_SCANS} scans; one result per scan in request order",
        security=SCANNER,
        requestBody=json_body("ScanBatch"),
        responses={
            "200": ok("ScanResults", "A result per scan."),
            "401": error(401),
            "403": error(403),
            "404": error(404, gateway=True, text="No such activity."),
            **{str(status): error(status) for status in BODY_ERRORS},
        },
    )
    add(
        "GET",
        "/scanner/setup",
        tags=["scanner"],
        summary="What a door scanner keeps to decide offline: the activity, rooms, sessions and badge names",
        description="Gzipped when the device accepts it. A token of every activity needs `activity_id`.",
        security=SCANNER,
        parameters=[query_param("activity_id", "The activity, for a token of every activity.")],
        responses={
            "200": ok("ScannerSetup", "The set-up."),
            "400": error(400),
            "401": error(401),
            "403": error(403),
            "404": error(404, gateway=True),
        },
    )

    # ---- learner: pages
    sign_in = {"401": error(401, html=True, text="Not signed in, or the link expired: the sign-in page.")}
    add(
        "GET",
        "/l/{token}",
        tags=["learner"],
        summary="Open a sign-in link: sets the session cookie and redirects to /l (303)",
        security=PUBLIC,
        parameters=[
            path_param("token", "The signed, expiring sign-in token."),
            query_param(
                "next", "Where to land instead of /l.", {"type": "string", "enum": ["certificate", "evaluation"]}
            ),
        ],
        responses={"303": redirect("Signed in.", cookie=True), **sign_in, "404": error(404, gateway=True)},
    )
    add(
        "GET",
        "/l",
        tags=["learner"],
        summary="The learner's credit page",
        security=LEARNER_PAGE,
        parameters=[query_param("done", "`evaluation`: thank the learner for the evaluation just sent.")],
        responses={"200": page("The page."), **sign_in, "404": error(404, gateway=True)},
    )
    form = {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "description": "`csrf`, `answers.<question id>`, `answers.<id>_comment`, "
                    "`claims.<credit type>.<session id>`, `attest`.",
                    "properties": {"csrf": {"type": "string"}, "attest": {"type": "string"}},
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    }
    for path, parameters in (("/l/evaluation", []), ("/l/evaluation/{session_id}", [SESSION])):
        add(
            "GET",
            path,
            tags=["learner"],
            summary="The evaluation form",
            security=LEARNER_PAGE,
            parameters=parameters,
            responses={
                "200": page("The form."),
                "303": redirect("Evaluated per session: back to /l, which links each one."),
                **sign_in,
                "404": error(404, gateway=True, html=True, text="A session not attended."),
                "422": error(422, html=True, text="The evaluation cannot be opened (the page says why)."),
            },
        )
        add(
            "POST",
            path,
            tags=["learner"],
            summary="Submit the evaluation form (form-encoded, with the CSRF token)",
            security=LEARNER_PAGE,
            parameters=parameters,
            requestBody=form,
            responses={
                "303": redirect("Submitted: to /l?done=evaluation."),
                "400": error(400),
                **sign_in,
                "403": error(403, html=True, text="The CSRF token does not match: open the form again."),
                "404": error(404, gateway=True, html=True, text="A session not attended."),
                "413": error(413),
                "415": error(415),
                "422": error(422, html=True, text="The form again, with each error beside its field."),
            },
        )
    add(
        "GET",
        "/l/certificate",
        tags=["learner"],
        summary="302 to the current certificate PDF",
        security=LEARNER_PAGE,
        responses={
            "302": redirect("To the PDF."),
            **sign_in,
            "404": error(404, gateway=True, html=True, text="No certificate yet."),
        },
    )
    add(
        "GET",
        "/login",
        tags=["learner"],
        summary="The sign-in page (ask for a new link)",
        security=PUBLIC,
        parameters=[query_param("activity_id", "The meeting, filled in.")],
        responses={"200": page("The page.")},
    )
    add(
        "POST",
        "/login",
        tags=["learner"],
        summary="Mail a sign-in link: 202 whatever the address",
        description="Rate-limited per address and per client network (429 with `Retry-After`). A form post "
        "is answered with a page.",
        security=PUBLIC,
        requestBody={
            "required": True,
            "content": {
                JSON: {"schema": ref("LoginRequest")},
                "application/x-www-form-urlencoded": {"schema": ref("LoginRequest")},
            },
        },
        responses={
            "202": {
                "description": "Accepted.",
                "content": {JSON: {"schema": ref("Accepted")}, HTML: {"schema": {"type": "string"}}},
            },
            **{str(status): error(status) for status in (*BODY_ERRORS, 429)},
        },
    )

    # ---- learner: JSON API
    add(
        "GET",
        "/me",
        tags=["learner"],
        summary="The learner's credit, claims and certificate",
        security=LEARNER,
        responses={"200": ok("LearnerView", "The credit."), "401": error(401), "404": error(404, gateway=True)},
    )
    add(
        "GET",
        "/me/evaluation-form",
        tags=["learner"],
        summary="The evaluation's questions as data",
        security=LEARNER,
        parameters=[query_param("session_id", "Under session scope: the session evaluated.")],
        responses={
            "200": ok("EvaluationForm", "The questions."),
            "401": error(401),
            "404": error(404, gateway=True),
            "422": error(422),
        },
    )
    add(
        "POST",
        "/evaluations",
        tags=["learner"],
        summary="Submit the evaluation, the claim and the attestation",
        security=LEARNER,
        requestBody=json_body("EvaluationSubmission"),
        responses={
            "202": ok("EvaluationAccepted", "Recorded; the claim and certificate follow."),
            "401": error(401),
            "404": error(404, gateway=True),
            **{str(status): error(status) for status in BODY_ERRORS},
        },
    )
    add(
        "GET",
        "/certificates/{certificate_id}",
        tags=["learner"],
        summary="302 to the learner's current certificate PDF",
        security=LEARNER,
        parameters=[CERTIFICATE],
        responses={"302": redirect("To the PDF."), "401": error(401), "404": error(404, gateway=True)},
    )

    # ---- public
    add(
        "GET",
        "/verify/{certificate_id}",
        tags=["public"],
        summary="Verify a certificate (HTML, or JSON with `Accept: application/json`)",
        security=PUBLIC,
        parameters=[
            CERTIFICATE,
            query_param("version", "A version printed on a PDF; without it, the current one.", {"type": "string"}),
        ],
        responses={
            "200": {
                "description": "The verification.",
                "content": {JSON: {"schema": ref("Verification")}, HTML: {"schema": {"type": "string"}}},
            },
            "400": error(400, text="`version` is not a whole number."),
            "404": error(404, gateway=True),
        },
    )
    add(
        "GET",
        "/health",
        tags=["public"],
        summary="Health check",
        security=PUBLIC,
        responses={"200": ok("Health", "Up.")},
    )
    for path, text, parameters in (
        ("/organizer/", "The organizer's home page (sign-in, pick an activity)", []),
        ("/organizer/activities/{activity_id}", "The organizer's live dashboard page", [ACTIVITY]),
        ("/organizer/callback", "Where Cognito's hosted UI returns (`?code=`)", []),
        ("/scanner", "The door scanner's page (the device token stays in the fragment)", []),
    ):
        add(
            "GET",
            path,
            tags=["public"],
            summary=text,
            security=PUBLIC,
            parameters=parameters,
            responses={"200": page("The page's shell; its data comes from the API."), "404": error(404, gateway=True)},
        )
    for path, media, text in (
        ("/organizer/app.js", "text/javascript", "The dashboard's script"),
        ("/organizer/app.css", "text/css", "The dashboard's styles"),
        ("/scanner-sw.js", "text/javascript", "The scanner's service worker (scope /scanner)"),
        ("/scanner/app.js", "text/javascript", "The scanner's script"),
        ("/scanner/app.css", "text/css", "The scanner's styles"),
        ("/scanner/jsqr.js", "text/javascript", "The bundled QR decoder (jsQR, Apache-2.0)"),
        ("/scanner/manifest.webmanifest", "application/manifest+json", "The scanner's web app manifest"),
        ("/scanner/icon.svg", "image/svg+xml", "The scanner's icon"),
    ):
        add("GET", path, tags=["public"], summary=text, security=PUBLIC, responses=asset(media, text))
    return dict(sorted(ops.items()))


def _operation_id(method: str, path: str) -> str:
    words = [part.strip("{}").replace("-", "_").replace(".", "_") for part in path.split("/") if part]
    return "_".join([method.lower(), *words]) or method.lower()


def build() -> dict[str, Any]:
    models = model_schemas()
    clash = set(models) & set(RESPONSE_SCHEMAS)
    if clash:
        raise ValueError(f"response schemas named like a model's: {sorted(clash)}")
    schemas = {**models, **copy.deepcopy(RESPONSE_SCHEMAS)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CME credit pipeline",
            "version": "1",
            "description": "Badge scans to credit, evaluations, certificates and mail. JSON everywhere; times "
            "are RFC 3339 with an offset; credit amounts are numbers with at most two decimals. Every refusal "
            'is a 4xx with `{"error": {"code", "message", "details"}}` naming the problem; no request, '
            "however malformed, gets a 5xx. Generated by infra/build_openapi.py: do not edit by hand.",
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "organizer", "description": "Cognito ID token; `custom:activities` or groups limit activities."},
            {"name": "scanner", "description": "A scanner device's token, issued by an organizer."},
            {"name": "learner", "description": "A signed sign-in token, or the session cookie it turns into."},
            {"name": "public", "description": "No credentials."},
        ],
        "paths": operations(),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "organizerJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito ID token, checked by the HTTP API's JWT authorizer.",
                },
                "scannerDevice": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A scanner device token (`dev_…`), stored hashed, revocable.",
                },
                "learnerBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A learner's signed, expiring sign-in token.",
                },
                "learnerCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "cme_session",
                    "description": "The session cookie a sign-in link sets (HttpOnly, Secure, SameSite=Lax).",
                },
            },
        },
    }


def render() -> str:
    # Through JSON first: plain types only (no YAML anchors or Python tags), keys in the order built.
    document = json.loads(json.dumps(build()))
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed document is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != text:
            print(f"{DOCUMENT.relative_to(ROOT)} is out of date: run python infra/build_openapi.py", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
