"""The certificate mail as raw MIME, ready for SES `send_email(Content={"Raw": {"Data": raw}})`.

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain; charset=utf-8   (templates/certificate.txt)
    │   └── text/html; charset=utf-8    (templates/certificate.html, autoescaped)
    └── application/pdf                 (attachment; filename=...)

No Date or Message-ID header: SES replaces both with its own. The MIME boundaries are derived from
the content, so the same arguments give the same bytes (useful for idempotent retries and tests).
Raw MIME (not SES's structured `Attachments`) is what keeps the PDF under moto (pitfalls.md).
"""

from __future__ import annotations

import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = ["TAGS_HEADER", "compose_certificate_mail", "compose_link_mail", "parse_tags_header", "subject_for"]

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Built once per process. `.html` templates are autoescaped, `.txt` ones are not.
ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


#: The message's SES tags, also as a header: SES event records carry the tags given to `send_email`, and
#: the local stack's stand-in for SES event publishing reads them back from here.
TAGS_HEADER = "X-CME-Tags"


def tags_header(tags: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in sorted(tags.items()))


def parse_tags_header(value: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in value.split(";"))
    return {name: v for name, _, v in pairs if name}


def subject_for(activity_title: str, version: int) -> str:
    subject = f"Your CME certificate: {' '.join(activity_title.split())}"
    return f"{subject} (updated)" if version > 1 else subject


def compose_certificate_mail(
    *,
    sender: str,
    reply_to: str | None,
    to: str,
    learner_name: str,
    activity_title: str,
    credits_text: list[str],
    download_url: str,
    verify_url: str,
    version: int,
    pdf: bytes,
    pdf_filename: str,
    configuration_set: str | None = None,
    tags: dict[str, str] | None = None,
) -> bytes:
    """The raw RFC 5322 message (CRLF line ends, 7-bit clean).

    `to` is a bare address ("ana@example.org"; the learner's name becomes its display name) or a
    full one ("Ana Pérez <ana@example.org>"). `learner_name` is used as written in the greeting
    ("Dear {learner_name},"), so pass the form of address wanted ("Dr. Ana Pérez").
    `credits_text` holds the lines under "Credit claimed", e.g. render.credit_label() output.
    Raises ValueError on a header value with a line break.
    """
    subject = subject_for(activity_title, version)
    updated = version > 1
    context = {
        "subject": subject,
        "preheader": f"Your certificate for {activity_title} is attached.",
        "learner_name": learner_name,
        "activity_title": activity_title,
        "credits_text": credits_text,
        "download_url": download_url,
        "verify_url": verify_url,
        "version": version,
        "updated": updated,
    }
    text = ENV.get_template("certificate.txt").render(context)
    html = ENV.get_template("certificate.html").render(context)
    msg = _message(
        sender=sender,
        reply_to=reply_to,
        to=to if parseaddr(to)[0] or "<" in to else Address(display_name=learner_name, addr_spec=to),
        subject=subject,
        configuration_set=configuration_set,
        tags=tags,
        text=text,
        html=html,
    )
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_filename)
    _drop_part_versions(msg)

    seed = hashlib.sha256()
    for piece in (text, html, pdf_filename):
        seed.update(piece.encode("utf-8"))
    seed.update(pdf)
    token = seed.hexdigest()[:32]
    msg.set_boundary(f"=_mixed_{token}")
    alternative = next(part for part in msg.iter_parts() if part.get_content_type() == "multipart/alternative")
    alternative.set_boundary(f"=_alt_{token}")
    return msg.as_bytes()


def compose_link_mail(
    *,
    sender: str,
    reply_to: str | None,
    to: str,
    learner_name: str,
    activity_title: str,
    link: str,
    expires_on: str,
    requested: bool,
    configuration_set: str | None = None,
    tags: dict[str, str] | None = None,
) -> bytes:
    """A sign-in link mail (text and HTML alternatives, no attachment), as raw MIME."""
    title = " ".join(activity_title.split())
    subject = f"Your sign-in link: {title}" if requested else f"Your CME credit page: {title}"
    context = {
        "subject": subject,
        "preheader": "Your personal link to your CME credit and certificate.",
        "learner_name": learner_name,
        "activity_title": activity_title,
        "link": link,
        "expires_on": expires_on,
        "requested": requested,
    }
    text = ENV.get_template("link.txt").render(context)
    html = ENV.get_template("link.html").render(context)
    msg = _message(
        sender=sender,
        reply_to=reply_to,
        to=Address(display_name=learner_name, addr_spec=to),
        subject=subject,
        configuration_set=configuration_set,
        tags=tags,
        text=text,
        html=html,
    )
    _drop_part_versions(msg)
    msg.set_boundary(f"=_alt_{hashlib.sha256((text + html).encode()).hexdigest()[:32]}")
    return msg.as_bytes()


def _message(
    *,
    sender: str,
    reply_to: str | None,
    to: str | Address,
    subject: str,
    configuration_set: str | None,
    tags: dict[str, str] | None,
    text: str,
    html: str,
) -> EmailMessage:
    """The headers every product mail carries, and its plain-text and HTML alternatives."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to this
    if configuration_set:
        msg["X-SES-CONFIGURATION-SET"] = configuration_set
    if tags:
        msg[TAGS_HEADER] = tags_header(tags)
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def _drop_part_versions(msg: EmailMessage) -> None:
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # EmailMessage.add_* put one on sub-parts too
