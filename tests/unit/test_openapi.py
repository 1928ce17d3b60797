"""The OpenAPI document (shared/cme/openapi.yaml): what infra/build_openapi.py builds, a valid OpenAPI 3.1
document, and the same routes as template.yaml with the same credentials, path parameters and a 4xx for
every refusal (never a 5xx)."""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import template_support as ts

pytestmark = pytest.mark.unit

BUILDER = ts.REPO_ROOT / "infra" / "build_openapi.py"
DOCUMENT = ts.REPO_ROOT / "shared" / "cme" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@cache
def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_openapi", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _document() -> dict[str, Any]:
    return dict(yaml.safe_load(DOCUMENT.read_text(encoding="utf-8")))


def _operations() -> dict[str, dict[str, Any]]:
    """'METHOD /path' -> operation."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in _document()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _template_routes() -> dict[str, str]:
    """'METHOD /path' -> the route's authorizer (NONE for public routes), from every function's HttpApi events."""
    template = ts.load_sam_template()
    default = (
        next(
            (
                (resource.get("Properties") or {}).get("Auth", {}).get("DefaultAuthorizer")
                for resource in template["Resources"].values()
                if resource.get("Type") == "AWS::Serverless::HttpApi"
            ),
            None,
        )
        or "NONE"
    )
    routes: dict[str, str] = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            properties = event.get("Properties") or {}
            authorizer = (properties.get("Auth") or {}).get("Authorizer", default)
            routes[f"{properties['Method'].upper()} {properties['Path']}"] = authorizer
    return routes


def test_the_committed_document_is_what_the_builder_builds() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == _builder().render(), (
        "shared/cme/openapi.yaml is out of date: run python infra/build_openapi.py"
    )


def test_the_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    assert _document()["openapi"].startswith("3.1")
    validate(_document())


def test_every_template_route_is_documented_and_nothing_else() -> None:
    template = set(_template_routes())
    documented = set(_operations())
    assert template - documented == set(), "routes of template.yaml missing from the OpenAPI document"
    assert documented - template == set(), "operations of the OpenAPI document that template.yaml does not route"


def test_each_route_names_the_credentials_it_takes() -> None:
    routes = _template_routes()
    schemes = set(_document()["components"]["securitySchemes"])
    for key, operation in _operations().items():
        names = {name for requirement in operation["security"] for name in requirement}
        assert names <= schemes, key
        if routes[key] == "OrganizerAuthorizer":
            assert names == {"organizerJwt"}, key
        else:
            assert "organizerJwt" not in names, key
        if key.split(" ")[1].startswith(("/me", "/evaluations", "/certificates/")):
            assert names == {"learnerBearer", "learnerCookie"}, key
        if key in ("POST /scans", "GET /scanner/setup"):
            assert names == {"scannerDevice"}, key


def test_path_parameters_are_those_of_the_path() -> None:
    for key, operation in _operations().items():
        path = key.split(" ", 1)[1]
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), key
        assert all(p["required"] for p in operation.get("parameters", []) if p["in"] == "path"), key


def test_refusals_are_documented_4xx_with_the_error_envelope_and_never_5xx() -> None:
    error = "#/components/schemas/Error"
    for key, operation in _operations().items():
        statuses = [int(status) for status in operation["responses"]]
        assert statuses and all(100 <= status < 500 for status in statuses), key
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            schema = response["content"]["application/json"]["schema"]
            refs = [schema.get("$ref")] + [option.get("$ref") for option in schema.get("anyOf", [])]
            assert error in refs, (key, status)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(operation["responses"]), key


def test_request_bodies_are_the_models_the_handlers_validate_with() -> None:
    from cme.domain.models import Activity, Attendee, EvaluationSubmission, Scan

    schemas = _document()["components"]["schemas"]
    assert set(schemas["Scan"]["properties"]) == set(Scan.model_fields)
    assert set(schemas["Attendee"]["properties"]) == set(Attendee.model_fields)
    assert set(schemas["EvaluationSubmission"]["properties"]) == set(EvaluationSubmission.model_fields)
    assert set(schemas["Activity-Input"]["properties"]) == set(Activity.model_fields)
    assert "activity_id" not in schemas["Activity-Input"]["required"]  # the path names it


def test_the_documented_limits_are_the_products() -> None:
    from cme.service.roster import MAX_ROWS
    from cme.service.scans import MAX_SCANS

    schemas = _document()["components"]["schemas"]
    assert schemas["ScanBatch"]["properties"]["scans"]["maxItems"] == MAX_SCANS
    roster = _operations()["POST /activities/{activity_id}/attendees"]["requestBody"]["content"]
    assert roster["application/json"]["schema"]["anyOf"][0]["maxItems"] == MAX_ROWS
    assert "text/csv" in roster


def test_the_contract_error_body_is_the_documented_one() -> None:
    import json

    import jsonschema

    from cme.api import error_response

    document = _document()
    schema = {**document["components"]["schemas"]["Error"], "components": document["components"]}
    body = json.loads(error_response(422, "validation_error", "bad", [{"field": "attest", "message": "x"}]).body)
    jsonschema.validate(body, schema)
