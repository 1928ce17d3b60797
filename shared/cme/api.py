"""The HTTP side shared by every API function: one resolver factory, errors mapped to statuses in one
place (contract.md error body), body parsing that never lets client input become a 5xx."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel, ValidationError

from cme.errors import ApiError, BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from cme.observability import logger

MAX_BODY_BYTES = 5 * 1024 * 1024
ModelT = TypeVar("ModelT", bound=BaseModel)


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def validation_details(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """One `{"field", "message"}` per problem, the field as a dotted path (`sessions.0.credits.AMA_PRA_1`)."""
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        # Model-level checks name the field inside the message ("sessions[1].credits.ACPE: ...").
        head, separator, rest = message.partition(": ")
        if separator and head and " " not in head:
            path = re.sub(r"\[(\d+)\]", r".\1", head)
            field, message = (f"{field}.{path}" if field else path), rest
        details.append({"field": f"{prefix}{field}" if field else prefix.rstrip(".") or "body", "message": message})
    return details


def new_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(strip_prefixes=None)

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        logger.info("request refused", extra={"status": exc.status, "code": exc.code})
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(ValidationError)
    def _invalid(exc: ValidationError) -> Response:
        details = validation_details(exc)
        logger.info("request invalid", extra={"status": 422, "fields": [d["field"] for d in details]})
        return error_response(422, "validation_error", "the request has invalid fields", details)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "not_found", "no such route")

    return app


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    """The request body as bytes (API Gateway base64-encodes bodies that are not valid text)."""
    event = app.current_event
    body = event.body
    if body is None:
        return b""
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the body is not valid base64") from exc
    else:
        data = body.encode("utf-8", "surrogateescape")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    return data


def content_type(app: APIGatewayHttpResolver) -> str:
    value = app.current_event.headers.get("content-type") or app.current_event.headers.get("Content-Type") or ""
    return value.split(";")[0].strip().lower()


def json_body(app: APIGatewayHttpResolver) -> Any:
    kind = content_type(app)
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaType(f"expected application/json, got {kind}")
    data = raw_body(app)
    if not data:
        raise BadRequest("the request body is empty")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not valid UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def parse(model: type[ModelT], data: Any, prefix: str = "") -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable("the request has invalid fields", validation_details(exc, prefix)) from exc


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, default=_json_default),
        headers=headers or {},
    )


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def base_url(app: APIGatewayHttpResolver) -> str:
    from cme.config import settings

    configured = settings().public_base_url
    if configured:
        return configured.rstrip("/")
    return f"https://{app.current_event.request_context.domain_name}"


def bearer_token(app: APIGatewayHttpResolver) -> str | None:
    header = app.current_event.headers.get("authorization") or app.current_event.headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
