"""The organizer's dashboard page over HTTP on the local stack: shells that carry no data (for any activity
id, known or not: the organizer API is what answers 404 or 403), strict headers (no inline script, not
cached, no Referer), the same-origin script and stylesheet, and Cognito's callback page."""

from __future__ import annotations

import re

import pytest

from builders import roster_rows, worked_example_activity
from stack_support import csp_directives, http

SHELLS = ["/organizer/", "/organizer/activities/{activity_id}", "/organizer/callback?code=abc&state=xyz"]


@pytest.mark.parametrize("path", SHELLS)
def test_shells_are_html_with_strict_headers(stack, imported, path):  # type: ignore[no-untyped-def]
    reply = http("GET", stack.api_url + path.format(activity_id=imported))
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    csp = csp_directives(reply)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no nonce, no other origin
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]  # no hosted UI on the local stack: nothing else to call
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    page = reply.body.decode()
    # Every script is the same-origin file; no inline script or handler the policy would have to allow.
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/organizer/app.js" defer>']
    assert "</script>" in page and re.search(r"<script[^>]*>[^<]+</script>", page) is None
    assert re.search(r"\son[a-z]+\s*=", page) is None and "javascript:" not in page
    assert '<link rel="stylesheet" href="/organizer/app.css">' in page and "<style" not in page


def test_the_dashboard_shell_carries_no_data(stack, api, imported):  # type: ignore[no-untyped-def]
    reply = http("GET", f"{stack.api_url}/organizer/activities/{imported}")
    page = reply.body.decode()
    assert f'data-activity-id="{imported}"' in page
    agenda = worked_example_activity()
    for text in [agenda["title"], agenda["location"], *(s["title"] for s in agenda["sessions"])]:
        assert text not in page
    for row in roster_rows():
        assert row["email"] not in page and row["family_name"] not in page
    assert 'id="totals"></ul>' in page and 'id="sessions"></tbody>' in page  # filled by the script
    # ...which reads the numbers from the organizer API, behind its authorizer.
    assert http("GET", f"{stack.api_url}/activities/{imported}/dashboard").status == 401
    assert http("GET", f"{stack.api_url}/activities/{imported}/dashboard", token=api.organizer).status == 200


def test_an_unknown_activity_gets_the_shell_and_the_data_call_404s(stack, api):  # type: ignore[no-untyped-def]
    reply = http("GET", f"{stack.api_url}/organizer/activities/no-such-meeting")
    assert reply.status == 200 and 'data-activity-id="no-such-meeting"' in reply.body.decode()
    data = http("GET", f"{stack.api_url}/activities/no-such-meeting/dashboard", token=api.organizer)
    assert data.status == 404 and data.json["error"]["code"] == "not_found"


def test_an_activity_id_is_escaped_in_the_shell(stack):  # type: ignore[no-untyped-def]
    reply = http("GET", f"{stack.api_url}/organizer/activities/%22%3E%3Cimg%20src%3Dx%3E")
    assert reply.status == 200
    page = reply.body.decode()
    assert "<img" not in page and 'data-activity-id="&#34;&gt;&lt;img src=x&gt;"' in page


@pytest.mark.parametrize(
    ("path", "kind", "marker"),
    [
        ("/organizer/app.js", "text/javascript; charset=utf-8", "/dashboard"),
        ("/organizer/app.css", "text/css; charset=utf-8", ".tiles"),
    ],
)
def test_static_files_are_served_with_their_type_and_revalidated(stack, path, kind, marker):  # type: ignore[no-untyped-def]
    reply = http("GET", stack.api_url + path)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == kind
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Cache-Control"] == "no-cache"
    assert marker in reply.body.decode()
    again = http("GET", stack.api_url + path, headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status == 304 and again.body == b""


def test_the_script_never_uses_the_token_outside_the_tab(stack):  # type: ignore[no-untyped-def]
    script = http("GET", f"{stack.api_url}/organizer/app.js").body.decode()
    assert "sessionStorage" in script and "localStorage" not in script
    assert "document.cookie" not in script
    assert "history.replaceState" in script  # the #token= fragment leaves the address bar


def test_the_callback_page_exchanges_the_code_in_the_browser(stack):  # type: ignore[no-untyped-def]
    reply = http("GET", f"{stack.api_url}/organizer/callback?code=one-time-code&state=s")
    assert reply.status == 200
    page = reply.body.decode()
    assert 'data-view="callback"' in page
    assert "one-time-code" not in page  # the server neither reads nor echoes the code
    # Without a hosted UI (the local stack), the shell has no sign-in settings to offer.
    assert "data-sign-in-url" not in page and "data-client-id" not in page


def test_the_hosted_ui_adds_its_origin_to_connect_src(monkeypatch):  # type: ignore[no-untyped-def]
    from cme.web import organizer

    monkeypatch.setenv("ORGANIZER_SIGN_IN_URL", "https://cme-org.auth.us-east-1.amazoncognito.com")
    monkeypatch.setenv("ORGANIZER_CLIENT_ID", "client123")
    monkeypatch.setenv("ORGANIZER_CALLBACK_URL", "https://cme.example.org/organizer/callback")
    organizer.sign_in.cache_clear()
    try:
        headers = organizer.page_headers(organizer.sign_in())
        page = organizer.shell("home")
    finally:
        organizer.sign_in.cache_clear()
    assert "connect-src 'self' https://cme-org.auth.us-east-1.amazoncognito.com;" in headers["Content-Security-Policy"]
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    assert 'data-sign-in-url="https://cme-org.auth.us-east-1.amazoncognito.com"' in page
    assert 'data-client-id="client123"' in page
    assert 'data-callback-url="https://cme.example.org/organizer/callback"' in page


def test_the_old_local_dashboard_link_redirects_to_the_page(stack):  # type: ignore[no-untyped-def]
    reply = http("GET", f"{stack.api_url}/_local/dashboard")
    assert reply.status == 302 and reply.headers["Location"] == "/organizer/"
