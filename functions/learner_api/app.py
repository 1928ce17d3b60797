"""Learner routes: the phone pages (magic link → session cookie, credit page, evaluation form,
certificate download) and the JSON API behind any other client (`/me`, `/evaluations`, ...), plus the
sign-in link request."""

from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie

from cme.adapters import store
from cme.api import base_url, bearer_token, content_type, json_body, json_response, new_resolver, parse, raw_body
from cme.auth import Learner, csrf_ok, csrf_token, read_learner_token
from cme.auth import certificate_id as certificate_id_of
from cme.domain.models import EvaluationSubmission
from cme.errors import NotFound, Unauthorized, Unprocessable, UnsupportedMediaType
from cme.observability import logger
from cme.service.access import cleared_cookie, cookie_token, request_login, session_cookie, session_token
from cme.service.certificates import download_url
from cme.service.learners import evaluation_form, evaluation_page_data, learner_view, submit_evaluation
from cme.web import pages
from cme.web.forms import form_fields, submission_from_form

app = new_resolver()


def _session() -> str | None:
    return cookie_token(app.current_event.cookies)


def _learner() -> Learner:
    """The JSON API: a bearer token, or the session cookie a magic link set."""
    token = bearer_token(app) or _session()
    if not token:
        raise Unauthorized("sign in with the link from your email")
    return read_learner_token(token)


def _html(
    status: int, body: str, headers: dict[str, str] | None = None, cookies: list[Cookie] | None = None
) -> Response:
    return Response(status_code=status, headers={**pages.HEADERS, **(headers or {})}, body=body, cookies=cookies)


def _redirect(location: str, status: int = 303, cookies: list[Cookie] | None = None) -> Response:
    headers = {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(status_code=status, headers=headers, body="", cookies=cookies)


class _SignInNeeded(Exception):
    def __init__(self, expired_activity: str | None = None):
        self.expired_activity = expired_activity


def _page_learner() -> tuple[Learner, str]:
    """The learner of a page request (cookie only); otherwise the sign-in page is shown."""
    token = _session()
    if not token:
        raise _SignInNeeded()
    try:
        return read_learner_token(token), token
    except Unauthorized:
        raise _SignInNeeded(_activity_of(token)) from None


def _activity_of(token: str) -> str | None:
    try:
        return read_learner_token(token, allow_expired=True).activity_id
    except Unauthorized:
        return None


@app.exception_handler(_SignInNeeded)
def _sign_in(exc: _SignInNeeded) -> Response:
    lines = (
        ["Your sign-in has expired."]
        if exc.expired_activity
        else ["Open the sign-in link from your email to continue."]
    )
    lines.append("Enter the email address you registered with and we will send you a new link.")
    page = pages.message_page("Sign in", *lines, signin_activity=exc.expired_activity, offer_signin=True)
    return _html(401, page, cookies=[cleared_cookie()] if exc.expired_activity else None)


# ---- phone pages ---------------------------------------------------------------------------------

_NEXT = {"certificate": "/l/certificate", "evaluation": "/l/evaluation"}


@app.get("/l")
def get_home() -> Response:
    learner, _ = _page_learner()
    view = learner_view(learner.activity_id, learner.badge_id, base_url(app))
    flag = app.current_event.get_query_string_value("done")
    flash = {
        "evaluation": "Thank you: your evaluation and claim were received. Your certificate will appear "
        "here and in your email within a minute."
    }.get(flag or "")
    return _html(200, pages.home_page(view, flash=flash))


@app.get("/l/evaluation")
def get_evaluation_page() -> Response:
    return _evaluation_page(None)


@app.get("/l/evaluation/<session_id>")
def get_session_evaluation_page(session_id: str) -> Response:
    return _evaluation_page(session_id)


@app.post("/l/evaluation")
def post_evaluation_page() -> Response:
    return _post_evaluation_page(None)


@app.post("/l/evaluation/<session_id>")
def post_session_evaluation_page(session_id: str) -> Response:
    return _post_evaluation_page(session_id)


def _evaluation_action(session_id: str | None) -> str:
    return "/l/evaluation" + (f"/{quote(session_id, safe='')}" if session_id else "")


def _page_data(learner: Learner, session_id: str | None) -> dict[str, Any] | Response:
    try:
        return evaluation_page_data(learner.activity_id, learner.badge_id, session_id)
    except Unprocessable as exc:
        message = exc.details[0]["message"] if exc.details else exc.message
        if session_id is None and "per session" in exc.message:
            return _redirect("/l")  # evaluated per session: the credit page links each one
        return _html(
            404 if "not attended" in message else 422,
            pages.message_page("Evaluation", exc.message, link={"href": "/l", "label": "Back to your credit"}),
        )


def _evaluation_page(session_id: str | None) -> Response:
    learner, token = _page_learner()
    data = _page_data(learner, session_id)
    if isinstance(data, Response):
        return data
    return _html(200, _render_form(data, session_id, token))


def _render_form(
    data: dict[str, Any],
    session_id: str | None,
    token: str,
    values: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> str:
    return pages.evaluation_page(
        activity_title=data["activity"].title,
        session_title=data["session_title"],
        form=data["form"],
        options=data["options"],
        titles=data["titles"],
        action=_evaluation_action(session_id),
        csrf=csrf_token(token),
        values=values,
        errors=errors,
    )


def _post_evaluation_page(session_id: str | None) -> Response:
    learner, token = _page_learner()
    if content_type(app) != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send the form as application/x-www-form-urlencoded")
    fields = form_fields(raw_body(app))
    if not csrf_ok(token, fields.get("csrf")):
        return _html(
            403,
            pages.message_page(
                "Please try again",
                "This form was open too long or came from another page. Open the evaluation again.",
                link={"href": _evaluation_action(session_id), "label": "Open the evaluation"},
            ),
        )
    data = _page_data(learner, session_id)
    if isinstance(data, Response):
        return data
    try:
        body, errors = submission_from_form(fields, data["form"]["questions"], data["options"], session_id)
    except ValueError:
        # A rating of digits that int() refuses ("²", or thousands of them): the form offers 1 to 5 only.
        body, errors = {}, _unreadable_numbers(fields)
    if not errors:
        try:
            submit_evaluation(learner.activity_id, learner.badge_id, parse(EvaluationSubmission, body))
        except Unprocessable as exc:
            errors = exc.details or [{"field": "evaluation", "message": exc.message}]
    if errors:
        return _html(422, _render_form(data, session_id, token, values=fields, errors=errors))
    return _redirect("/l?done=evaluation")


def _unreadable_numbers(fields: dict[str, str]) -> list[dict[str, str]]:
    """The answers made of digits that are no number int() reads, each named as its field."""

    def unreadable(text: str) -> bool:
        try:
            int(text)
        except ValueError:
            return True
        return False

    bad = [name for name, value in fields.items() if value.strip().isdigit() and unreadable(value.strip())]
    return [{"field": name, "message": "choose a number from the list"} for name in bad] or [
        {"field": "answers", "message": "choose a number from the list"}
    ]


@app.get("/l/certificate")
def get_certificate_page() -> Response:
    learner, _ = _page_learner()
    cid = certificate_id_of(learner.activity_id, learner.badge_id)
    record = store.get_certificate(cid)
    if record is None:
        return _html(
            404,
            pages.message_page(
                "No certificate yet",
                "Your certificate appears once you have completed the evaluation and claimed your credit.",
                link={"href": "/l", "label": "Back to your credit"},
            ),
        )
    return _redirect(download_url(record), status=302)


@app.get("/l/<token>")
def open_magic_link(token: str) -> Response:
    """A magic link: trade the token for a session cookie and move it out of the address bar."""
    try:
        learner = read_learner_token(token)
    except Unauthorized:
        raise _SignInNeeded(_activity_of(token) or "") from None
    fresh, max_age = session_token(learner.activity_id, learner.badge_id)
    target = _NEXT.get(app.current_event.get_query_string_value("next") or "", "/l")
    logger.info("learner signed in", extra={"activity_id": learner.activity_id})
    return _redirect(target, cookies=[session_cookie(fresh, max_age)])


# ---- sign-in link requests ------------------------------------------------------------------------


@app.get("/login")
def get_login_page() -> Response:
    activity_id = app.current_event.get_query_string_value("activity_id") or None
    page = pages.message_page(
        "Sign in",
        "Enter the email address you registered with and we will send you a sign-in link.",
        signin_activity=activity_id,
        offer_signin=True,
    )
    return _html(200, page)


@app.post("/login")
def post_login() -> Response:
    kind = content_type(app)
    if kind == "application/x-www-form-urlencoded":
        fields = form_fields(raw_body(app))
        activity_id, email = fields.get("activity_id"), fields.get("email")
    else:
        body = json_body(app)
        if not isinstance(body, dict):
            raise Unprocessable('expected {"activity_id", "email"}', [{"field": "body", "message": "an object"}])
        activity_id, email = body.get("activity_id"), body.get("email")
    request_login(activity_id, email, app.current_event.request_context.http.source_ip)
    if kind == "application/x-www-form-urlencoded":
        page = pages.message_page(
            "Check your email",
            "If that address is registered for this meeting, a sign-in link is on its way. It works for 24 hours.",
            "Nothing after a few minutes? Check your spam folder, or ask at the registration desk.",
        )
        return _html(202, page)
    return json_response(202, {"status": "accepted"})


# ---- JSON API -------------------------------------------------------------------------------------


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
    record = None
    if certificate_id == certificate_id_of(learner.activity_id, learner.badge_id):
        record = store.get_certificate(certificate_id)
    if record is None:
        raise NotFound("no such certificate")
    return Response(status_code=302, headers={"Location": download_url(record), "Cache-Control": "no-store"}, body="")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
