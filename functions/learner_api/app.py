"""Learner routes: the credit view, the evaluation form, submitting an evaluation, certificate download."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from cme.adapters import blobs, store
from cme.api import base_url, bearer_token, json_body, json_response, new_resolver, parse
from cme.auth import Learner, read_learner_token
from cme.auth import certificate_id as certificate_id_of
from cme.domain.models import EvaluationSubmission
from cme.errors import NotFound, Unauthorized
from cme.observability import logger
from cme.service.learners import evaluation_form, learner_view, submit_evaluation

app = new_resolver()


def _learner() -> Learner:
    token = bearer_token(app)
    if not token:
        raise Unauthorized("sign in with the link from your email")
    return read_learner_token(token)


@app.get("/me")
def get_me() -> Response:
    learner = _learner()
    return json_response(200, learner_view(learner.activity_id, learner.badge_id, base_url(app)))


@app.get("/me/evaluation-form")
def get_evaluation_form() -> Response:
    learner = _learner()
    session_id = app.current_event.get_query_string_value("session_id") or None
    return json_response(200, evaluation_form(learner.activity_id, learner.badge_id, session_id))


@app.post("/evaluations")
def post_evaluation() -> Response:
    learner = _learner()
    submission = parse(EvaluationSubmission, json_body(app))
    return json_response(202, submit_evaluation(learner.activity_id, learner.badge_id, submission))


@app.get("/certificates/<certificate_id>")
def get_certificate(certificate_id: str) -> Response:
    learner = _learner()
    cid = certificate_id
    record = store.get_certificate(cid)
    if record is None or cid != certificate_id_of(learner.activity_id, learner.badge_id):
        raise NotFound("no such certificate")
    url = blobs.presigned_url(record["s3_key"], f"certificate-{cid}-v{int(record['version'])}.pdf")
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"}, body="")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
