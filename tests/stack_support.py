"""A local stack per test session, and a small HTTP client for it (integration and e2e tests)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cme_local.stack import LocalStack


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(
    method: str,
    url: str,
    *,
    body: Any = None,
    token: str | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Reply:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with _opener.open(request, timeout=60) as response:
            return Reply(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers.items()), error.read())


class Api:
    """The contract's routes on a running stack, with the local tokens."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.url = stack.api_url
        self.organizer = stack.organizer_token
        self.scanner = stack.scanner_token

    def put_activity(self, activity_id: str, body: dict[str, Any]) -> Reply:
        return http("PUT", f"{self.url}/activities/{activity_id}", body=body, token=self.organizer)

    def post_roster(self, activity_id: str, rows: list[dict[str, Any]]) -> Reply:
        return http("POST", f"{self.url}/activities/{activity_id}/attendees", body=rows, token=self.organizer)

    def post_scans(self, activity_id: str, scans: list[dict[str, Any]], token: str | None = None) -> Reply:
        return http(
            "POST", f"{self.url}/scans", body={"activity_id": activity_id, "scans": scans}, token=token or self.scanner
        )

    def learner_token(self, activity_id: str, badge_id: str) -> str:
        reply = http("GET", f"{self.url}/activities/{activity_id}/attendees/{badge_id}/link", token=self.organizer)
        assert reply.status == 200, reply.body
        return str(reply.json["url"].rsplit("/l/", 1)[1])

    def me(self, token: str) -> dict[str, Any]:
        reply = http("GET", f"{self.url}/me", token=token)
        assert reply.status == 200, reply.body
        return dict(reply.json)

    def evaluate(self, token: str, body: dict[str, Any]) -> Reply:
        return http("POST", f"{self.url}/evaluations", body=body, token=token)

    def dashboard(self, activity_id: str) -> dict[str, Any]:
        reply = http("GET", f"{self.url}/activities/{activity_id}/dashboard", token=self.organizer)
        assert reply.status == 200, reply.body
        return dict(reply.json)


def csp_directives(reply: Reply) -> dict[str, list[str]]:
    """A response's Content-Security-Policy, directive name → sources."""
    policy = reply.headers["Content-Security-Policy"]
    directives = [part.strip().split() for part in policy.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def stream_records(stream_arn: str) -> list[dict[str, Any]]:
    """Every record of a table's stream so far (from its start), shard by shard, each tagged with its
    `shardId`, as the stream's API returns them."""
    from cme.adapters.aws import client

    streams = client("dynamodbstreams")
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    records: list[dict[str, Any]] = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [dict(r, shardId=shard["ShardId"]) for r in page["Records"]]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def new_activity_id() -> str:
    return f"act-{uuid.uuid4().hex[:10]}"


def start_stack(now: str = "2027-10-14T07:00:00-05:00") -> LocalStack:
    return LocalStack(now=datetime.fromisoformat(now), background_pump=False).start()
