"""The HTTP side shared by every API function: one resolver factory, errors mapped to statuses in one
place (contract.md error body), body parsing that never lets client input become a 5xx."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

# pydantic's ValidationError is pydantic_core's: a function that validates no model (the public one) does
# not import pydantic itself.
from pydantic_core import ValidationError

from cme.errors import ApiError, BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from cme.observability import logger

MAX_BODY_BYTES = 5 * 1024 * 1024
#: No request of this API nests deeper than a few levels; DynamoDB stores at most 32.
MAX_JSON_DEPTH = 32
#: The domain's `Id` (cme.domain.models): what an activity, session, badge, device or certificate id can be.
ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
ModelT = TypeVar("ModelT", bound="BaseModel")

if TYPE_CHECKING:
    from pydantic import BaseModel


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
    return decode_json(data)


class _NotJson(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def decode_json(data: bytes) -> Any:
    """Strict JSON (RFC 8259): UTF-8, no NaN or Infinity, numbers Python can read, at most `MAX_JSON_DEPTH`
    levels, text of valid Unicode. Python's own parser lets some of these through or fails on them with
    errors that are not `JSONDecodeError`; each is a 400 saying what is wrong, never a 5xx."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid UTF-8 (byte {exc.start})") from exc
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except _NotJson as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    except ValueError as exc:  # an integer longer than Python reads (sys.int_info.default_max_str_digits)
        raise BadRequest("the body is not valid JSON: a number has too many digits") from exc
    except RecursionError as exc:
        raise BadRequest(f"the body is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from exc
    _check_decoded(value)
    return value


def _check_decoded(value: Any) -> None:
    """Depth and text that cannot be stored or mailed: a `\\ud800` escape decodes to half a surrogate pair,
    which no UTF-8 encoder (DynamoDB's, a PDF's, a mail's) accepts."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise BadRequest(
                f"the body is nested too deeply (at most {MAX_JSON_DEPTH} levels)",
                [{"field": _dotted(path[:MAX_JSON_DEPTH]), "message": "nested too deeply"}],
            )
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, (*path, key))
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, str(index))) for index, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, path)


def _check_text(text: str, path: tuple[str, ...]) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(
            "the body has text that is not valid Unicode (an unpaired surrogate escape such as \\ud800)",
            [{"field": _dotted(path), "message": "not valid Unicode"}],
        ) from exc


def _dotted(path: tuple[str, ...]) -> str:
    """A field path for an error detail (a key that is itself broken text is shown with `?` for it)."""
    return ".".join(part.encode("utf-8", "replace").decode() for part in path) or "body"


def parse(model: type[ModelT], data: Any, prefix: str = "") -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable("the request has invalid fields", validation_details(exc, prefix)) from exc
    except ArithmeticError as exc:
        # A model's own check computed with a number or a time beyond what Decimal or datetime holds
        # ("9E+999999" credits, a session on 0001-01-01 in another zone); pydantic reports only ValueErrors.
        raise Unprocessable("the request has a value out of range", out_of_range(data, prefix)) from exc


#: Beyond these no credit amount, and no time of an activity, can be: they are only looked for once a
#: check has overflowed, to name the field.
_HUGE_EXPONENT = 100
_TIMESTAMP_LIMIT = 10**13


def out_of_range(data: Any, prefix: str = "") -> list[dict[str, Any]]:
    """`{"field", "message"}` for each value a check cannot compute with: a decimal of absurd magnitude, or a
    time within a day of the calendar's ends (years 1 and 9999)."""
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            stack.extend((child, (*path, str(key))) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, (*path, str(index))) for index, child in enumerate(item))
        elif _beyond_range(item):
            field = ".".join(path)
            found.append(
                {"field": f"{prefix}{field}" if field else prefix.rstrip(".") or "body", "message": "out of range"}
            )
    found.sort(key=lambda detail: detail["field"])
    return found or [{"field": prefix.rstrip(".") or "body", "message": "a number or a time is out of range"}]


def _beyond_range(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return abs(value) >= _TIMESTAMP_LIMIT
    if not isinstance(value, str) or len(value) > 64:
        return False
    text = value.strip()
    try:
        number = Decimal(text)
        return number.is_finite() and abs(number.adjusted()) > _HUGE_EXPONENT
    except (InvalidOperation, ValueError):
        pass
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return False
    return moment.year in (1, 9999)


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


def is_id(value: str) -> bool:
    """Whether a path's value can be an id at all (else no record has it, and a longer one than a key
    holds must not reach DynamoDB, which refuses keys over 1 or 2 KB with an error)."""
    return ID.fullmatch(value) is not None


def bearer_token(app: APIGatewayHttpResolver) -> str | None:
    header = app.current_event.headers.get("authorization") or app.current_event.headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
