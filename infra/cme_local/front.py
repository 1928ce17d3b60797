"""The local HTTP front: what API Gateway (HTTP API) does for the template's routes.

A request is matched to a route of template.yaml, organizer routes get their JWT checked the way the
API's JWT authorizer would (locally signed, same claims as Cognito's), and the function receives a
real API Gateway v2 event. A few `/_local/...` routes drive the stack itself (clock, settle, mail)."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import jwt

from cme_local.provision import ACCOUNT

if TYPE_CHECKING:
    from cme_local.stack import LocalStack

log = logging.getLogger("cme_local.front")


def _event(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    route: Any,
    params: dict[str, str],
    host: str,
) -> dict[str, Any]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    query_params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_params[name] = f"{query_params[name]},{value}" if name in query_params else value
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": datetime.now().strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";") if c.strip()]
    if query_params:
        event["queryStringParameters"] = query_params
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = text
    return event


class LocalAuthorizer:
    """Signs and checks organizer JWTs with the claims a Cognito ID token carries."""

    ISSUER = "https://cognito-idp.local/cme-local"
    AUDIENCE = "cme-local-organizers"

    def __init__(self, key: str):
        self.key = key

    def issue(self, subject: str, activities: str = "*", groups: list[str] | None = None, ttl: int = 7 * 86400) -> str:
        now = int(time.time())
        claims = {
            "sub": subject,
            "iss": self.ISSUER,
            "aud": self.AUDIENCE,
            "token_use": "id",
            "iat": now,
            "exp": now + ttl,
            "custom:activities": activities,
            "cognito:groups": groups or ["organizers"],
        }
        return jwt.encode(claims, self.key, algorithm="HS256")

    def claims(self, authorization: str | None) -> dict[str, Any] | None:
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        try:
            return jwt.decode(
                authorization[7:].strip(), self.key, algorithms=["HS256"], audience=self.AUDIENCE, issuer=self.ISSUER
            )
        except jwt.PyJWTError:
            return None


def make_handler(stack: LocalStack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cme-local"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _send(
            self, status: int, body: bytes, headers: dict[str, str] | None = None, cookies: list[str] | None = None
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            for cookie in cookies or []:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if url.path.startswith("/_local/"):
                self._local(url.path, url.query, body)
                return
            match = stack.match_route(self.command, url.path)
            if match is None:
                known_path = any(r.pattern.match(url.path) for r in stack.wiring.routes)
                self._json(405 if known_path else 404, {"message": "Method Not Allowed" if known_path else "Not Found"})
                return
            route, params = match
            event = _event(
                self.command,
                url.path,
                url.query,
                dict(self.headers.items()),
                body,
                route,
                params,
                self.headers.get("Host", "127.0.0.1"),
            )
            if route.authorizer:
                claims = stack.authorizer.claims(self.headers.get("Authorization"))
                if claims is None:
                    self._json(401, {"message": "Unauthorized"})
                    return
                event["requestContext"]["authorizer"] = {
                    "jwt": {
                        "claims": {
                            k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, list) else str(v)
                            for k, v in claims.items()
                        },
                        "scopes": None,
                    }
                }
            try:
                result = stack.host.invoke(route.function, event)
            except Exception:
                log.exception("function %s failed", route.function)
                self._json(500, {"message": "Internal Server Error"})
                return
            body_out = result.get("body") or ""
            data = base64.b64decode(body_out) if result.get("isBase64Encoded") else str(body_out).encode()
            headers = dict(result.get("headers") or {})
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers[name] = ",".join(values)
            self._send(int(result.get("statusCode", 200)), data, headers, result.get("cookies"))

        def _local(self, path: str, query: str, body: bytes) -> None:
            if path == "/_local/clock" and self.command == "POST":
                payload = json.loads(body or b"{}")
                moment = stack.set_clock(datetime.fromisoformat(payload["now"]))
                self._json(200, {"now": moment.isoformat()})
            elif path == "/_local/settle" and self.command == "POST":
                self._json(200, {"delivered": stack.settle()})
            elif path == "/_local/mail" and self.command == "GET":
                self._json(200, {"messages": stack.sent_mail()})
            elif path == "/_local/status" and self.command == "GET":
                self._json(200, stack.status())
            elif path.rstrip("/") == "/_local/dashboard" and self.command == "GET":
                # The product's page took its place; a browser keeps the old link's #activity=&token= fragment
                # across the redirect, and the page reads it.
                self._send(302, b"", {"Location": "/organizer/", "Cache-Control": "no-store"})
            else:
                self._json(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def do_PATCH(self) -> None:
            self._dispatch()

        def do_HEAD(self) -> None:
            self._dispatch()

    return Handler


class Front(ThreadingHTTPServer):
    """Requests are served by a small pool of reused threads (each keeps its SDK clients warm)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any):
        from concurrent.futures import ThreadPoolExecutor

        super().__init__(*args, **kwargs)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cme-front")

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
