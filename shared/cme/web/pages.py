"""The learner's pages: the credit page, the evaluation form and the messages around sign-in, built
from the same data as `GET /me` and `GET /me/evaluation-form`, rendered server-side (no JavaScript)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from jinja2 import Environment


@cache
def env() -> Environment:
    """The pages' templates, loaded on the first page: a function that answers JSON (`GET /me`, a
    verification asked as JSON) never imports jinja2."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


#: Sent with every learner page: no token in a Referer, nothing cached, nothing framed or scripted.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def render(name: str, **context: Any) -> str:
    context.setdefault("refresh", None)
    context.setdefault("brand", None)
    return env().get_template(name).render(**context)


def _amount(value: Any) -> str:
    # Imported here: the organizer's and the scanner's shells (the public function) never show credit.
    from cme.domain.credit import format_credit

    return format_credit(Decimal(str(value)))


def _when(iso: str, zone: ZoneInfo) -> str:
    moment = datetime.fromisoformat(iso).astimezone(zone)
    return moment.strftime("%a %b %-d, %H:%M")


def _step(view: Mapping[str, Any], scope: str) -> dict[str, Any]:
    """The one thing to do next, and why nothing can be claimed yet when that is the case."""
    sessions = view["sessions"]
    earned = any(Decimal(str(v)) > 0 for v in view["credits_total"].values())
    claimable = {t: Decimal(str(v)) for t, v in view["claimable_total"].items()}
    claimed = {t: Decimal(str(v)) for t, v in view["claimed_total"].items()}
    pending = [s for s in sessions if s["evaluation"] == "pending"]
    certificate = view["certificate"]
    if not sessions:
        return {
            "heading": "Nothing to claim yet",
            "tone": "warn",
            "text": "No attendance is recorded for you yet. Credit appears a few minutes after each session "
            "you attended has ended. If you attended a session that has ended and it is missing, please visit "
            "the registration desk.",
            "action": None,
        }
    if not earned:
        return {
            "heading": "Nothing to claim",
            "tone": "warn",
            "text": "The sessions recorded for you earned no credit in your credit types; each session below says why.",
            "action": None,
        }
    if pending and scope == "activity":
        return {
            "heading": "Next: the evaluation",
            "tone": "warn",
            "text": "Your credit is ready to claim once you complete the activity's evaluation (about 3 minutes).",
            "action": {"href": "/l/evaluation", "label": "Complete the evaluation"},
        }
    if pending:
        return {
            "heading": "Next: evaluate your sessions",
            "tone": "warn",
            "text": f"{len(pending)} session{'s' if len(pending) != 1 else ''} still need an evaluation before "
            "their credit can be claimed; use the link under each one.",
            "action": None,
        }
    offered = {t: Decimal(str(v)) for t, v in view.get("claim_offered_total", {}).items()}
    added = bool(claimed) and any(claimable[t] > offered.get(t, Decimal(0)) for t in claimable)
    more = any(claimable.get(t, Decimal(0)) > claimed.get(t, Decimal(0)) for t in claimable)
    if added:
        return {
            "heading": "More credit to claim",
            "tone": "warn",
            "text": "Scans that arrived later added to your credit. You may claim it: a new version of your "
            "certificate will replace the current one.",
            "action": {"href": "/l/evaluation", "label": "Claim the additional credit"},
        }
    claim_version = view.get("claim_version")
    if not claim_version or certificate is None or certificate["version"] < claim_version:
        return {
            "heading": "Your certificate is on its way",
            "tone": "ok",
            "text": "It is being prepared and will appear here, and in your email, within a minute.",
            "action": None,
        }
    chosen = " You claimed less than you earned; to change your claim, submit the evaluation again." if more else ""
    return {
        "heading": "All done",
        "tone": "ok",
        "text": "Your certificate is below and in your email. Keep it for your records." + chosen,
        "action": {"href": "/l/evaluation", "label": "Change my claim", "secondary": True}
        if more and scope == "activity"
        else None,
    }


_DELIVERY = {
    "delivered": "It was delivered to your mailbox.",
    "bounced": "The email bounced; please check your address with the registration desk.",
    "complained": "It was emailed to you.",
}

_MAIL_STATES = {
    "sent": "It was emailed to you.",
    "sending": "It is being emailed to you.",
    "pending": "It is being emailed to you.",
    "unknown": "We could not confirm the email; the organizer will resend it.",
    "resend_requested": "It is being emailed to you again.",
    "failed": "The email could not be delivered; the organizer has been told.",
}


def home_page(view: Mapping[str, Any], *, flash: str | None = None) -> str:
    """The credit page, from `GET /me`'s body; times in the activity's time zone."""
    # The certificate's wording, imported with the first page (the JSON routes never need it).
    from cme.certificates.render import credit_label, credit_name, format_dates

    zone = ZoneInfo(view["activity"]["timezone"])
    types = view["attendee"]["credit_types"]
    scope = view["activity"]["evaluation_scope"]
    step = _step(view, scope)
    totals = [
        {
            "name": credit_name(t, Decimal(2)),
            "earned": _amount(view["credits_total"].get(t, 0)),
            "claimable": _amount(view["claimable_total"].get(t, 0)),
            "claimed": _amount(view["claimed_total"].get(t, 0)),
        }
        for t in types
        if t in view["credits_total"]
    ]
    sessions = [
        {
            "title": s["title"],
            "room": s["room"],
            "when": _when(s["starts_at"], zone),
            "minutes": s["minutes"],
            "credits": [{"name": credit_name(t, Decimal(2)), "amount": _amount(v)} for t, v in s["credits"].items()],
            "evaluation": s["evaluation"],
            "evaluate_href": f"/l/evaluation/{s['session_id']}"
            if scope == "session" and s["evaluation"] == "pending"
            else None,
            "explanation": s["explanation"],
        }
        for s in view["sessions"]
    ]
    certificate = None
    if view["certificate"]:
        c = view["certificate"]
        certificate = {
            "version": c["version"],
            "issued": _when(c["issued_at"], zone),
            "credits": "; ".join(credit_label(t, Decimal(str(v))) for t, v in c["credits"].items()),
            "verify_url": c["verify_url"],
            "mail": _DELIVERY.get(str(c.get("delivery")), _MAIL_STATES.get(str(c.get("mail")), "")),
            "revoked": c.get("status") == "revoked",
        }
    activity = view["activity"]
    dates = format_dates(
        datetime.fromisoformat(activity["starts_on"]).date(), datetime.fromisoformat(activity["ends_on"]).date()
    )
    return render(
        "home.html",
        title=activity["title"],
        activity=activity,
        dates=dates,
        attendee=view["attendee"],
        flash=flash,
        step=step,
        totals=totals,
        sessions=sessions,
        notes=view.get("notes", []),
        certificate=certificate,
        refresh=10 if step["heading"] == "Your certificate is on its way" else None,
    )


def _choices(question: Mapping[str, Any]) -> list[dict[str, str]]:
    if question["type"] == "scale":
        low, high = int(question.get("min", 1)), int(question.get("max", 5))
        return [{"value": str(n), "label": str(n)} for n in range(low, high + 1)]
    if question["type"] == "yes_no":
        return [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]
    return [{"value": o, "label": o} for o in question.get("options", [])]


def _label(field: str, questions: list[Mapping[str, Any]], titles: Mapping[str, str]) -> tuple[str, str]:
    """(anchor, readable name) for an error's dotted field."""
    parts = field.split(".")
    if parts[0] == "answers" and len(parts) > 1:
        qid = parts[1]
        base = qid.removesuffix("_comment")
        text = next((str(q["text"]) for q in questions if q["id"] == base), qid)
        if qid.endswith("_comment"):
            return f"f-answers-{qid}", f"Comment on “{text}”"
        return f"f-answers-{qid}", text.rstrip(".?:! ")
    if parts[0] == "claims" and len(parts) == 3:
        return f"f-claims-{parts[1]}-{parts[2]}", f"Claim for {titles.get(parts[2], parts[2])}"
    if parts[0] == "claims":
        return "f-claims", "Claims"
    if parts[0] == "attest":
        return "f-attest", "Attestation"
    return "main", "Evaluation"


def evaluation_page(
    *,
    activity_title: str,
    session_title: str | None,
    form: Mapping[str, Any],
    options: Mapping[str, Mapping[str, Decimal]],
    titles: Mapping[str, str],
    action: str,
    csrf: str,
    values: Mapping[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> str:
    from cme.certificates.render import credit_name

    questions = [dict(q, choices=_choices(q)) for q in form["questions"]]
    claims = [
        {
            "type": credit_type,
            "name": credit_name(credit_type, Decimal(2)),
            "rows": [
                {"session_id": sid, "title": titles.get(sid, sid), "max": _amount(amount)}
                for sid, amount in by_session.items()
                if amount > 0
            ],
        }
        for credit_type, by_session in options.items()
        if any(v > 0 for v in by_session.values())
    ]
    field_errors: dict[str, str] = {}
    shown: list[dict[str, str]] = []
    for error in errors or []:
        field_errors.setdefault(error["field"], error["message"])
        anchor, label = _label(error["field"], form["questions"], titles)
        shown.append({"anchor": anchor, "label": label, "message": error["message"]})
    return render(
        "evaluation.html",
        title="Evaluation",
        activity_title=activity_title,
        session_title=session_title,
        questions=questions,
        claims=claims,
        attestation=form["attestation"],
        action=action,
        csrf=csrf,
        values=dict(values or {}),
        errors=shown,
        field_errors=field_errors,
    )


def message_page(
    heading: str,
    *lines: str,
    signin_activity: str | None = None,
    offer_signin: bool = False,
    link: dict[str, str] | None = None,
) -> str:
    return render(
        "message.html",
        title=heading,
        heading=heading,
        lines=list(lines),
        signin={"activity_id": signin_activity or ""} if offer_signin else None,
        link=link,
    )


_VERIFY_STATUS = {
    "valid": ("ok", "Valid: this is the current version of the certificate."),
    "superseded": ("warn", "Superseded: a newer version of this certificate was issued."),
    "revoked": ("bad", "Revoked by the provider."),
}


def verify_page(result: Mapping[str, Any]) -> str:
    """The public verification page: what the certificate says and whether it still stands."""
    from cme.certificates.render import credit_label, format_dates

    starts, _, ends = str(result["dates"]).partition("/")
    tone, status_text = _VERIFY_STATUS[str(result["status"])]
    issued = datetime.fromisoformat(str(result["issued_at"]))
    return render(
        "verify.html",
        title=f"Certificate {result['status']}",
        tone=tone,
        status_text=status_text,
        learner=result["learner_name"],
        activity=result["activity_title"],
        dates=format_dates(datetime.fromisoformat(starts).date(), datetime.fromisoformat(ends or starts).date()),
        credits="; ".join(credit_label(t, Decimal(str(v))) for t, v in result["credits"].items()),
        issued=f"{issued.strftime('%B')} {issued.day}, {issued.year}",
        version=result["version"],
        current_version=result.get("current_version", result["version"]),
        sha256=result["sha256"],
        certificate_id=result["certificate_id"],
    )
