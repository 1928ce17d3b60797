"""The certificate mail: raw MIME with text and HTML alternatives and the PDF attached."""

from __future__ import annotations

import email
import email.policy
import html
from email.message import EmailMessage

import pytest

from cme.mail import compose
from cme.mail.compose import compose_certificate_mail

pytestmark = pytest.mark.unit

PDF = b"%PDF-1.4\n%\xe9\xeb\xf1\xbf\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
DOWNLOAD = "https://bucket.s3.amazonaws.com/certs/C1-v2.pdf?X-Amz-Expires=604800&X-Amz-Signature=ab12"
VERIFY = "https://cme.example.org/verify/CERT-7F3K9Q2M?version=2"
CREDITS = ["3.5 AMA PRA Category 1 Credits™", "3.5 MOC points (ABIM)"]


def compose_mail(**changes: object) -> bytes:
    args: dict[str, object] = dict(
        sender="CME Office <cme@provider.example.org>",
        reply_to="CME Help <help@provider.example.org>",
        to="lukasz@example.org",
        learner_name="Łukasz Żółć",
        activity_title="Annual Scientific Sessions 2025: Advances in Heart Failure",
        credits_text=CREDITS,
        download_url=DOWNLOAD,
        verify_url=VERIFY,
        version=1,
        pdf=PDF,
        pdf_filename="certificate-CERT-7F3K9Q2M-v1.pdf",
    )
    return compose_certificate_mail(**{**args, **changes})  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def bodies(msg: EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


def test_headers() -> None:
    msg = parse(compose_mail())
    assert msg["Subject"] == "Your CME certificate: Annual Scientific Sessions 2025: Advances in Heart Failure"
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Łukasz Żółć", "lukasz@example.org")
    (reply,) = msg["Reply-To"].addresses
    assert reply.addr_spec == "help@provider.example.org"
    assert msg["From"].addresses[0].addr_spec == "cme@provider.example.org"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "Message-ID" not in msg and "Date" not in msg, "SES sets both"
    assert "X-SES-CONFIGURATION-SET" not in msg


def test_raw_message_is_seven_bit_smtp_text() -> None:
    raw = compose_mail()
    assert max(raw) < 128, "non-ASCII must be encoded (RFC 2047 headers, quoted-printable/base64 bodies)"
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert "=?utf-8?" in raw.decode("ascii").split("\r\n\r\n", 1)[0]


def test_structure() -> None:
    msg = parse(compose_mail())
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "application/pdf"
    assert [p["MIME-Version"] for p in msg.walk()] == ["1.0", None, None, None, None]


def test_both_alternatives_carry_name_links_and_credits() -> None:
    plain, rich = bodies(parse(compose_mail()))
    assert plain.startswith("Dear Łukasz Żółć,")
    assert 'Thank you for taking part in "Annual Scientific Sessions 2025: Advances in Heart Failure"' in plain
    for needed in (DOWNLOAD, VERIFY, *CREDITS):
        assert needed in plain
    unescaped = html.unescape(rich)
    assert "Dear Łukasz Żółć," in unescaped
    assert f'href="{DOWNLOAD}"' in unescaped and f'href="{VERIFY}"' in unescaped
    assert "&amp;X-Amz-Signature" in rich, "the & in the link is escaped in HTML"
    for line in CREDITS:
        assert f'<li style="margin:0 0 4px 0;">{line}</li>' in rich
    assert "max-width:600px" in rich
    assert "updated" not in plain.lower()


def test_updated_certificate() -> None:
    msg = parse(compose_mail(version=2, pdf_filename="certificate-CERT-7F3K9Q2M-v2.pdf"))
    assert msg["Subject"] == (
        "Your CME certificate: Annual Scientific Sessions 2025: Advances in Heart Failure (updated)"
    )
    plain, rich = bodies(msg)
    assert "(version 2) is attached and replaces the one we sent before" in plain
    assert "Updated certificate" in rich and "(version 2)" in rich


def test_html_escapes_learner_input() -> None:
    name = '<script>alert("x")</script> Ana'
    title = "Cardiology & <b>Friends</b>"
    msg = parse(compose_mail(learner_name=name, activity_title=title))
    plain, rich = bodies(msg)
    assert "<script>" not in rich and "<b>Friends" not in rich
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Ana" in rich
    assert "Cardiology &amp; &lt;b&gt;Friends&lt;/b&gt;" in rich
    assert f"Dear {name}," in plain, "the text part is not HTML and stays as written"
    assert msg["Subject"] == f"Your CME certificate: {title}"


def test_attachment_is_the_pdf_byte_for_byte() -> None:
    msg = parse(compose_mail())
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "certificate-CERT-7F3K9Q2M-v1.pdf"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content() == PDF


def test_non_ascii_names_in_headers_and_filename() -> None:
    msg = parse(compose_mail(
        to="Дмитрий Иванов <dmitry@example.org>", sender="Σοφία — CME <cme@provider.example.org>",
        activity_title="Kardiologie-Fortbildung Köln", pdf_filename="Zertifikat-Köln.pdf",
    ))  # fmt: skip
    assert msg["To"].addresses[0].display_name == "Дмитрий Иванов"
    assert msg["From"].addresses[0].display_name == "Σοφία — CME"
    assert msg["Subject"] == "Your CME certificate: Kardiologie-Fortbildung Köln"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "Zertifikat-Köln.pdf"


def test_optional_headers() -> None:
    msg = parse(compose_mail(reply_to=None, configuration_set="cme-certificates"))
    assert "Reply-To" not in msg
    assert msg["X-SES-CONFIGURATION-SET"] == "cme-certificates"


def test_header_injection_is_refused() -> None:
    msg = parse(compose_mail(activity_title="Cardiology\r\nBcc: everyone@example.org"))
    assert msg["Subject"] == "Your CME certificate: Cardiology Bcc: everyone@example.org"
    assert "Bcc" not in msg
    with pytest.raises(ValueError):
        compose_mail(reply_to="help@provider.example.org\r\nBcc: everyone@example.org")


def test_same_arguments_same_bytes() -> None:
    assert compose_mail() == compose_mail()
    assert compose_mail() != compose_mail(version=2)


def test_templates_built_once_with_autoescape_for_html_only() -> None:
    assert compose.ENV.autoescape("certificate.html") is True
    assert compose.ENV.autoescape("certificate.txt") is False
    assert compose.ENV.get_template("certificate.html") is compose.ENV.get_template("certificate.html")
