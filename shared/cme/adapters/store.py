"""Every DynamoDB access pattern of the product, in one place (single-table design).

Keys (PK / SK), with GSI1 partitions sharded by badge so no key takes a large share of a big
meeting's writes:
  ACT#{a}            ACTIVITY                the agenda (JSON document)
  ACT#{a}            SESSION#{s}             session state: finalized, when; the run holding the finalization lease
  ACT#{a}            DIRTY#{s}#{b}           late scans that arrived while a finalization of s was running
  ACT#{a}            BRANDING#{kind}         a provider logo or signature image (its S3 key and digest)
  ACT#{a}            ENDREQ#{s}              a request to end a session (the outbox turns it into SessionEnded)
  ACT#{a}#B#{b}      PROFILE                 roster row            GSI1: ACT#{a}#ROSTER#{k} / b
  ACT#{a}#B#{b}      SCAN#{scan_id}          an accepted scan      GSI1: ACT#{a}#ROOM#{room}#{k} / at#b#scan
  ACT#{a}#B#{b}      LIVE                    live presence cache (not indexed: read by the roster's badges)
  ACT#{a}#B#{b}      ATT#{s}                 finalized attendance (with the scan count it was computed from)
                                                                   GSI1: ACT#{a}#ATT#{k} / s#b
  ACT#{a}#B#{b}      EVAL#{scope}            the current evaluation per scope (ACTIVITY or a session id)
                                                                   GSI1: ACT#{a}#EVAL#{k} / scope#b
  ACT#{a}#B#{b}      CLAIM                   the current claim     GSI1: ACT#{a}#CLAIM#{k} / b
  CERT#{c}           V#{n:06d}               a certificate version (mail state lives here)
  CERT#{c}           CURRENT                 the current version   GSI1: ACT#{a}#CERT#{k} / b
  DEVICE#{sha256}    DEVICE                  a scanner device token (hash only)
  ACT#{a}#EMAIL#{k}  B#{b}                   roster address index (k: keyed digest of the address)
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from cme.adapters.aws import document_client, table
from cme.cache import per_batch
from cme.concurrency import map_io
from cme.config import settings

if TYPE_CHECKING:
    # Imported where records become models: a function that only reads certificates, mail states or
    # counts (verification, mail events) never builds the pydantic models.
    from cme.domain.models import Activity, Attendee, DoorScan, SessionAttendance

#: GSI1 partitions that hold records of many attendees (attendance, scans by room, claims,
#: certificates, the roster) are split by badge into this many keys. 16 keep the busiest key of a
#: 40,000-attendee door rush within a minute under a third of a partition's 1,000 writes a second
#: (`cme bench --only hot_keys`); readers query every shard. Raising it keeps written items found (a
#: badge's shard modulo 2n is its shard modulo n, or that plus n); lowering it would not.
SHARDS = 16


class ConditionFailed(Exception):
    """A conditional write found the item already in the state it guards against."""


def shard(badge_id: str) -> int:
    return zlib.crc32(badge_id.encode()) % SHARDS


def activity_pk(activity_id: str) -> str:
    return f"ACT#{activity_id}"


def attendee_pk(activity_id: str, badge_id: str) -> str:
    return f"ACT#{activity_id}#B#{badge_id}"


def _table() -> Any:
    return table(settings().table_name)


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


_DESERIALIZE = TypeDeserializer()


def _write_if(operation: Any, *, already: Callable[[dict[str, Any]], bool] | None = None, **request: Any) -> bool:
    """Run a conditional write; False when its condition did not hold (the state it guards exists).

    `already(item)`: whether the item that failed the condition already holds this very write. The
    SDK retries a write whose answer was lost (a timeout after DynamoDB applied it), and the retry then
    fails its own condition: with `already`, that counts as done instead of as someone else's write."""
    if already is not None:
        request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    try:
        operation(**request)
    except ClientError as exc:
        if _is_condition_failure(exc):
            if already is not None:
                raw: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                return bool(raw) and already({k: _DESERIALIZE.deserialize(v) for k, v in raw.items()})
            return False
        raise
    return True


def _query_all(**kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = _table().query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _query_shards(activity_id: str, kind: str) -> Iterator[dict[str, Any]]:
    """Every item of a sharded GSI partition; the shards are read concurrently."""

    def shard(k: int) -> list[dict[str, Any]]:
        return list(
            _query_all(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(f"ACT#{activity_id}#{kind}#{k}"))
        )

    for items in map_io(shard, range(SHARDS)):
        yield from items


def _batch_put(items: Iterable[dict[str, Any]]) -> int:
    count = 0
    with _table().batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)
            count += 1
    return count


#: BatchGetItem's limit of keys a request.
BATCH_GET_KEYS = 100


def _batch_get(keys: list[dict[str, str]], *, consistent: bool = False) -> list[dict[str, Any]]:
    name = settings().table_name
    found: list[dict[str, Any]] = []
    dynamodb = document_client()
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: dict[str, Any] = {name: {"Keys": keys[start : start + BATCH_GET_KEYS], "ConsistentRead": consistent}}
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            found.extend(response["Responses"].get(name, []))
            request = response.get("UnprocessedKeys") or {}
    return found


# ---- activities -----------------------------------------------------------------------------------


@per_batch  # a consumer's batch reads its activity once
def get_activity(activity_id: str) -> Activity | None:
    from cme.domain.models import Activity

    item = _table().get_item(Key={"PK": activity_pk(activity_id), "SK": "ACTIVITY"}).get("Item")
    return Activity.model_validate_json(item["doc"]) if item else None


def put_activity(activity: Activity, *, updated_at: str) -> None:
    _table().put_item(
        Item={
            "PK": activity_pk(activity.activity_id),
            "SK": "ACTIVITY",
            "doc": activity.model_dump_json(),
            "updated_at": updated_at,
        }
    )


@per_batch
def activity_and_states(activity_id: str) -> tuple[Activity | None, dict[str, dict[str, Any]]]:
    """The agenda and every session's state in one query (they share the activity's partition); once
    per consumer batch, so every record of the batch sees the same states."""
    from cme.domain.models import Activity

    activity = None
    states: dict[str, dict[str, Any]] = {}
    for item in _query_all(KeyConditionExpression=Key("PK").eq(activity_pk(activity_id)), ConsistentRead=True):
        if item["SK"] == "ACTIVITY":
            activity = Activity.model_validate_json(item["doc"])
        elif item["SK"].startswith("SESSION#"):
            states[item["SK"].removeprefix("SESSION#")] = item
    return activity, states


def session_states(activity_id: str) -> dict[str, dict[str, Any]]:
    items = _query_all(
        KeyConditionExpression=Key("PK").eq(activity_pk(activity_id)) & Key("SK").begins_with("SESSION#"),
        ConsistentRead=True,
    )
    return {item["SK"].removeprefix("SESSION#"): item for item in items}


def finalized_ids(states: dict[str, dict[str, Any]]) -> set[str]:
    """The finalized sessions among session states (as `session_states` or `activity_and_states` give)."""
    return {sid for sid, state in states.items() if state.get("finalized")}


def finalized_sessions(activity_id: str) -> set[str]:
    return finalized_ids(session_states(activity_id))


def begin_finalization(activity_id: str, session_id: str, *, run_id: str, at: str) -> None:
    """Mark the session finalized and take its lease: until `end_finalization`, a late-scan consumer
    leaves a DIRTY marker instead of writing attendance the finalizer's batch could overwrite."""
    _table().update_item(
        Key={"PK": activity_pk(activity_id), "SK": f"SESSION#{session_id}"},
        UpdateExpression=(
            "SET finalized = :t, finalized_at = if_not_exists(finalized_at, :at), last_finalized_at = :at, "
            "running = :run, running_since = :at"
        ),
        ExpressionAttributeValues={":t": True, ":at": at, ":run": run_id},
    )


def end_finalization(activity_id: str, session_id: str, *, run_id: str) -> bool:
    """Release the lease; False when a later run of the same session holds it now (that run finishes)."""
    return _write_if(
        _table().update_item,
        Key={"PK": activity_pk(activity_id), "SK": f"SESSION#{session_id}"},
        UpdateExpression="REMOVE running, running_since",
        ConditionExpression=Attr("running").eq(run_id),
        already=lambda item: "running" not in item,  # released (by this run's retried request)
    )


def mark_dirty(activity_id: str, badge_id: str, session_ids: Iterable[str], *, at: str) -> None:
    with _table().batch_writer() as batch:
        for session_id in session_ids:
            batch.put_item(
                Item={
                    "PK": activity_pk(activity_id),
                    "SK": f"DIRTY#{session_id}#{badge_id}",
                    "badge_id": badge_id,
                    "at": at,
                }
            )


def dirty_badges(activity_id: str, session_id: str) -> list[str]:
    items = _query_all(
        KeyConditionExpression=Key("PK").eq(activity_pk(activity_id)) & Key("SK").begins_with(f"DIRTY#{session_id}#"),
        ConsistentRead=True,
    )
    return [str(item["badge_id"]) for item in items]


def clear_dirty(activity_id: str, session_id: str, badge_ids: Iterable[str]) -> None:
    with _table().batch_writer() as batch:
        for badge_id in badge_ids:
            batch.delete_item(Key={"PK": activity_pk(activity_id), "SK": f"DIRTY#{session_id}#{badge_id}"})


def request_session_end(activity_id: str, session_id: str, *, reason: str, ended_at: str, requested_at: str) -> None:
    """Written once per request; the stream outbox publishes SessionEnded from it."""
    _table().put_item(
        Item={
            "PK": activity_pk(activity_id),
            "SK": f"ENDREQ#{session_id}",
            "activity_id": activity_id,
            "session_id": session_id,
            "reason": reason,
            "ended_at": ended_at,
            "requested_at": requested_at,
        }
    )


def put_branding_image(activity_id: str, kind: str, record: dict[str, Any]) -> None:
    _table().put_item(Item={"PK": activity_pk(activity_id), "SK": f"BRANDING#{kind}", "kind": kind, **record})


def delete_branding_image(activity_id: str, kind: str) -> bool:
    return _write_if(
        _table().delete_item,
        Key={"PK": activity_pk(activity_id), "SK": f"BRANDING#{kind}"},
        ConditionExpression=Attr("PK").exists(),
    )


def branding_images(activity_id: str) -> dict[str, dict[str, Any]]:
    items = _query_all(
        KeyConditionExpression=Key("PK").eq(activity_pk(activity_id)) & Key("SK").begins_with("BRANDING#"),
        ConsistentRead=True,
    )
    return {str(item["kind"]): item for item in items}


# ---- roster ---------------------------------------------------------------------------------------


def _profile_item(activity_id: str, attendee: Attendee) -> dict[str, Any]:
    return {
        "PK": attendee_pk(activity_id, attendee.badge_id),
        "SK": "PROFILE",
        "GSI1PK": f"ACT#{activity_id}#ROSTER#{shard(attendee.badge_id)}",
        "GSI1SK": attendee.badge_id,
        "activity_id": activity_id,
        **attendee.model_dump(mode="json", exclude_none=True),
    }


def existing_badges(activity_id: str, badge_ids: list[str]) -> set[str]:
    keys = [{"PK": attendee_pk(activity_id, b), "SK": "PROFILE"} for b in dict.fromkeys(badge_ids)]
    return {item["badge_id"] for item in _batch_get(keys)}


def put_attendees(
    activity_id: str, attendees: list[Attendee], *, email_keys: dict[str, str] | None = None, send_links: bool = True
) -> int:
    """Upsert roster rows, and index each address (by its keyed digest) for sign-in link requests.
    `send_links`: a new attendee's insert becomes LearnerRegistered (their first sign-in link)."""
    keys = email_keys or {}

    def items() -> Iterator[dict[str, Any]]:
        for attendee in attendees:
            yield {**_profile_item(activity_id, attendee), "send_link": send_links}
            if attendee.badge_id in keys:
                yield {
                    "PK": f"ACT#{activity_id}#EMAIL#{keys[attendee.badge_id]}",
                    "SK": f"B#{attendee.badge_id}",
                    "badge_id": attendee.badge_id,
                }

    _batch_put(items())
    return len(attendees)


def badges_for_email(activity_id: str, key: str) -> list[str]:
    """Badges whose roster row had this address (check the profile: an address may have changed)."""
    items = _query_all(KeyConditionExpression=Key("PK").eq(f"ACT#{activity_id}#EMAIL#{key}"))
    return [str(item["badge_id"]) for item in items]


def _attendee(item: dict[str, Any]) -> Attendee:
    from cme.domain.models import Attendee

    fields = Attendee.model_fields
    return Attendee.model_validate({k: v for k, v in item.items() if k in fields})


def attendee_from_item(item: dict[str, Any]) -> Attendee:
    return _attendee(item)


def get_attendee(activity_id: str, badge_id: str) -> Attendee | None:
    item = _table().get_item(Key={"PK": attendee_pk(activity_id, badge_id), "SK": "PROFILE"}).get("Item")
    return _attendee(item) if item else None


def get_attendees(activity_id: str, badge_ids: Iterable[str]) -> dict[str, Attendee]:
    keys = [{"PK": attendee_pk(activity_id, b), "SK": "PROFILE"} for b in dict.fromkeys(badge_ids)]
    return {item["badge_id"]: _attendee(item) for item in _batch_get(keys)}


def roster(activity_id: str) -> list[Attendee]:
    return [_attendee(item) for item in _query_shards(activity_id, "ROSTER")]


# ---- scans ----------------------------------------------------------------------------------------


def put_scan(activity_id: str, badge_id: str, scan: DoorScan, **extra: Any) -> bool:
    """Store an accepted scan once; False when that scan_id is already stored (a duplicate)."""
    item = {
        "PK": attendee_pk(activity_id, badge_id),
        "SK": f"SCAN#{scan.scan_id}",
        "GSI1PK": f"ACT#{activity_id}#ROOM#{scan.room}#{shard(badge_id)}",
        "GSI1SK": f"{scan.at:012d}#{badge_id}#{scan.scan_id}",
        "activity_id": activity_id,
        "badge_id": badge_id,
        "scan_id": scan.scan_id,
        "room": scan.room,
        "at": scan.at,
        "direction": scan.direction,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return _write_if(_table().put_item, Item=item, ConditionExpression=Attr("PK").not_exists())


def scans_of(activity_id: str, badge_id: str) -> list[DoorScan]:
    items = _query_all(
        KeyConditionExpression=Key("PK").eq(attendee_pk(activity_id, badge_id)) & Key("SK").begins_with("SCAN#"),
        ProjectionExpression="scan_id, room, #at, direction",
        ExpressionAttributeNames={"#at": "at"},
        ConsistentRead=True,
    )
    return [scan_from_item(item) for item in items]


def room_scans(activity_id: str, room: str) -> dict[str, list[tuple[int, str]]]:
    """Every scan in `room`, as (at, direction) by badge: what finalization picks its candidates from
    (one query per index shard, rather than one per attendee who ever entered the room)."""

    def shard_scans(k: int) -> list[dict[str, Any]]:
        return list(
            _query_all(
                IndexName="GSI1",
                KeyConditionExpression=Key("GSI1PK").eq(f"ACT#{activity_id}#ROOM#{room}#{k}"),
                ProjectionExpression="badge_id, #at, direction",
                ExpressionAttributeNames={"#at": "at"},
            )
        )

    found: dict[str, list[tuple[int, str]]] = {}
    for items in map_io(shard_scans, range(SHARDS)):
        for item in items:
            found.setdefault(str(item["badge_id"]), []).append((int(item["at"]), str(item["direction"])))
    return found


def _from_no_more_scans(scan_count: int) -> ConditionBase:
    """The condition of a record derived from an attendee's scans (attendance rows, the live record):
    none is stored, or the stored one was computed from no more than `scan_count` scans. An attendee's
    scans are never deleted and are read consistently, so more scans means a later read: concurrent
    writers converge on the newest, and a retried write of the same scans passes."""
    return Attr("PK").not_exists() | Attr("scan_count").not_exists() | Attr("scan_count").lte(scan_count)


def put_live_if_newer(activity_id: str, badge_id: str, live: dict[str, Any], scan_count: int) -> bool:
    """Write the attendee's live record unless the stored one was computed from more scans: of two
    invocations that handle an attendee's scans at once, the one that read more wins. No GSI1 entry: every
    check-in rewrites it, so an entry would double its write units and make the busiest index key of a
    door rush; its only reader across attendees is the recount, which reads it by the roster's badges."""
    return _write_if(
        _table().put_item,
        Item={
            "PK": attendee_pk(activity_id, badge_id),
            "SK": "LIVE",
            "activity_id": activity_id,
            "badge_id": badge_id,
            "scan_count": scan_count,
            **live,
        },
        ConditionExpression=_from_no_more_scans(scan_count),
    )


def live_items(activity_id: str, badge_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The live records of these attendees (those who have one), consistently read, the requests side by
    side (`_batch_get` sends its own one after the other)."""
    keys = [{"PK": attendee_pk(activity_id, badge_id), "SK": "LIVE"} for badge_id in sorted(set(badge_ids))]
    chunks = [keys[start : start + BATCH_GET_KEYS] for start in range(0, len(keys), BATCH_GET_KEYS)]
    return [item for found in map_io(lambda chunk: _batch_get(chunk, consistent=True), chunks) for item in found]


def attendee_items(activity_id: str, badge_id: str, *, with_scans: bool = False) -> dict[str, list[dict[str, Any]]]:
    """An attendee's records in one query, grouped by kind: ATT, CLAIM, EVAL, LIVE, PROFILE, and SCAN
    when asked for. Sort keys below "SCAN" are exactly the kinds but the scans."""
    key = Key("PK").eq(attendee_pk(activity_id, badge_id))
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in _query_all(
        KeyConditionExpression=key if with_scans else key & Key("SK").lt("SCAN#"), ConsistentRead=True
    ):
        grouped.setdefault(str(item["SK"]).split("#", 1)[0], []).append(item)
    return grouped


def scan_from_item(item: dict[str, Any]) -> DoorScan:
    from cme.domain.models import DoorScan

    return DoorScan(scan_id=item["scan_id"], room=item["room"], at=int(item["at"]), direction=item["direction"])


# ---- attendance -----------------------------------------------------------------------------------


def _attendance_item(activity_id: str, badge_id: str, attendance: SessionAttendance, scan_count: int) -> dict[str, Any]:
    return {
        "PK": attendee_pk(activity_id, badge_id),
        "SK": f"ATT#{attendance.session_id}",
        "GSI1PK": f"ACT#{activity_id}#ATT#{shard(badge_id)}",
        "GSI1SK": f"{attendance.session_id}#{badge_id}",
        "activity_id": activity_id,
        "badge_id": badge_id,
        "scan_count": scan_count,
        **attendance.model_dump(mode="python"),
    }


def put_attendances(activity_id: str, rows: Iterable[tuple[str, SessionAttendance, int]]) -> int:
    """Batch-write attendance rows (badge, attendance, the number of scans it was computed from)."""
    return _batch_put(_attendance_item(activity_id, badge, att, count) for badge, att, count in rows)


def put_attendance_if_newer(activity_id: str, badge_id: str, attendance: SessionAttendance, scan_count: int) -> bool:
    """Write unless the stored row was computed from more scans (`_from_no_more_scans`)."""
    return _write_if(
        _table().put_item,
        Item=_attendance_item(activity_id, badge_id, attendance, scan_count),
        ConditionExpression=_from_no_more_scans(scan_count),
    )


def _attendance(item: dict[str, Any]) -> SessionAttendance:
    from cme.domain.models import SessionAttendance

    fields = SessionAttendance.model_fields
    return SessionAttendance.model_validate({k: v for k, v in item.items() if k in fields})


def attendance_from_item(item: dict[str, Any]) -> SessionAttendance:
    return _attendance(item)


def attendance_of(activity_id: str, badge_id: str) -> dict[str, SessionAttendance]:
    items = _query_all(
        KeyConditionExpression=Key("PK").eq(attendee_pk(activity_id, badge_id)) & Key("SK").begins_with("ATT#")
    )
    return {item["session_id"]: _attendance(item) for item in items}


def all_attendance(activity_id: str) -> list[tuple[str, SessionAttendance]]:
    return [(str(item["badge_id"]), _attendance(item)) for item in _query_shards(activity_id, "ATT")]


def finalized_attendance(activity_id: str, states: dict[str, dict[str, Any]]) -> list[tuple[str, SessionAttendance]]:
    """Every attendance row of the finalized sessions (a row of a session not yet finalized is
    provisional: consumers write them for sessions about to end)."""
    finalized = finalized_ids(states)
    return [(badge, row) for badge, row in all_attendance(activity_id) if row.session_id in finalized]


# ---- evaluations and claims -----------------------------------------------------------------------


def put_evaluation(activity_id: str, badge_id: str, evaluation: dict[str, Any]) -> None:
    scope = evaluation["session_id"] or "ACTIVITY"
    _table().put_item(
        Item={
            "PK": attendee_pk(activity_id, badge_id),
            "SK": f"EVAL#{scope}",
            "GSI1PK": f"ACT#{activity_id}#EVAL#{shard(badge_id)}",
            "GSI1SK": f"{scope}#{badge_id}",
            "activity_id": activity_id,
            "badge_id": badge_id,
            "scope": scope,
            "doc": json.dumps(evaluation, default=str),
            "evaluation_id": evaluation["evaluation_id"],
            "submitted_at": evaluation["submitted_at"],
        }
    )


def evaluations_from_items(items: Iterable[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    result: dict[str | None, dict[str, Any]] = {}
    for item in items:
        scope = None if item["scope"] == "ACTIVITY" else str(item["scope"])
        result[scope] = json.loads(item["doc"])
    return result


def all_evaluations(activity_id: str) -> list[dict[str, Any]]:
    return list(_query_shards(activity_id, "EVAL"))


def get_claim(activity_id: str, badge_id: str) -> dict[str, Any] | None:
    item = (
        _table()
        .get_item(Key={"PK": attendee_pk(activity_id, badge_id), "SK": "CLAIM"}, ConsistentRead=True)
        .get("Item")
    )
    return claim_from_item(item) if item else None


def claim_and_certificate(
    activity_id: str, badge_id: str, certificate_id: str, version: int
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The learner's claim and one version record of their certificate, read together (one consistent
    request)."""
    claim_key = {"PK": attendee_pk(activity_id, badge_id), "SK": "CLAIM"}
    version_key = {"PK": f"CERT#{certificate_id}", "SK": f"V#{version:06d}"}
    found = {(item["PK"], item["SK"]): item for item in _batch_get([claim_key, version_key], consistent=True)}
    claim = found.get((claim_key["PK"], claim_key["SK"]))
    return (claim_from_item(claim) if claim else None), found.get((version_key["PK"], version_key["SK"]))


def claim_from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "claimed": json.loads(item["claimed"]),
        "totals": json.loads(item["totals"]),
        "offered": json.loads(item.get("offered") or item["totals"]),
    }


def put_claim(
    activity_id: str,
    badge_id: str,
    *,
    version: int,
    evaluation_id: str,
    submitted_at: str,
    claimed: dict[str, dict[str, Decimal]],
    totals: dict[str, Decimal],
    claimed_at: str,
    offered: dict[str, Decimal] | None = None,
) -> bool:
    """Record claim `version` only over version-1 and only for a newer submission (idempotent).
    `offered`: the claimable totals when it was recorded (so later credit can be told from a choice)."""
    condition = (
        Attr("PK").not_exists()
        if version == 1
        else (Attr("version").eq(version - 1) & Attr("submitted_at").lte(submitted_at))
    )
    return _write_if(
        _table().put_item,
        Item={
            "PK": attendee_pk(activity_id, badge_id),
            "SK": "CLAIM",
            "GSI1PK": f"ACT#{activity_id}#CLAIM#{shard(badge_id)}",
            "GSI1SK": badge_id,
            "activity_id": activity_id,
            "badge_id": badge_id,
            "version": version,
            "evaluation_id": evaluation_id,
            "submitted_at": submitted_at,
            "claimed": json.dumps(claimed, default=str),
            "totals": json.dumps(totals, default=str),
            "offered": json.dumps(offered if offered is not None else totals, default=str),
            "claimed_at": claimed_at,
        },
        ConditionExpression=condition,
        already=lambda item: int(item.get("version", 0)) == version and item.get("claimed_at") == claimed_at,
    )


def all_claims(activity_id: str) -> list[dict[str, Any]]:
    return [{**i, "totals": json.loads(i["totals"])} for i in _query_shards(activity_id, "CLAIM")]


# ---- certificates ---------------------------------------------------------------------------------


def get_certificate(certificate_id: str, version: int | None = None) -> dict[str, Any] | None:
    """A version record, or the current (highest) one when `version` is None."""
    if version is None:
        page = _table().query(
            KeyConditionExpression=Key("PK").eq(f"CERT#{certificate_id}") & Key("SK").begins_with("V#"),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        return page["Items"][0] if page.get("Items") else None
    item: dict[str, Any] | None = (
        _table()
        .get_item(Key={"PK": f"CERT#{certificate_id}", "SK": f"V#{version:06d}"}, ConsistentRead=True)
        .get("Item")
    )
    return item


def certificate_and_current(certificate_id: str, version: int) -> tuple[dict[str, Any] | None, int | None]:
    """A version record and the number of the current version, read together (one consistent request)."""
    pk, sk = f"CERT#{certificate_id}", f"V#{version:06d}"
    found = {
        item["SK"]: item for item in _batch_get([{"PK": pk, "SK": sk}, {"PK": pk, "SK": "CURRENT"}], consistent=True)
    }
    current = found.get("CURRENT")
    return found.get(sk), int(current["version"]) if current else None


def current_certificate_version(certificate_id: str) -> int | None:
    item = _table().get_item(Key={"PK": f"CERT#{certificate_id}", "SK": "CURRENT"}).get("Item")
    return int(item["version"]) if item else None


def put_certificate_version(record: dict[str, Any]) -> bool:
    """Write a certificate version once, then move CURRENT forward (never back)."""
    pk = f"CERT#{record['certificate_id']}"
    version = int(record["version"])
    created = _write_if(
        _table().put_item,
        Item={"PK": pk, "SK": f"V#{version:06d}", **record},
        ConditionExpression=Attr("PK").not_exists(),
    )
    _write_if(
        _table().put_item,
        Item={
            "PK": pk,
            "SK": "CURRENT",
            "GSI1PK": f"ACT#{record['activity_id']}#CERT#{shard(record['badge_id'])}",
            "GSI1SK": record["badge_id"],
            "activity_id": record["activity_id"],
            "badge_id": record["badge_id"],
            "certificate_id": record["certificate_id"],
            "version": version,
        },
        ConditionExpression=Attr("PK").not_exists() | Attr("version").lt(version),
    )
    _mark_superseded(pk, version)
    return created


def _mark_superseded(pk: str, version: int) -> None:
    """Mark the earlier versions superseded (the live counts read mail states of current versions
    only). Repeated by every retry of the issue, so a crash between the writes is caught up."""
    if version <= 1:
        return
    earlier = _query_all(
        KeyConditionExpression=Key("PK").eq(pk) & Key("SK").between("V#000000", f"V#{version - 1:06d}"),
        ProjectionExpression="SK, superseded_by",
        ConsistentRead=True,
    )
    for item in earlier:
        if int(item.get("superseded_by", 0)) < version:
            _write_if(
                _table().update_item,
                Key={"PK": pk, "SK": item["SK"]},
                UpdateExpression="SET superseded_by = :v",
                ConditionExpression=(
                    "attribute_exists(PK) AND (attribute_not_exists(superseded_by) OR superseded_by < :v)"
                ),
                ExpressionAttributeValues={":v": version},
            )


def set_mail_state(certificate_id: str, version: int, state: str, *, expect: str | None, **fields: Any) -> bool:
    """Move a version's mail state; `expect=None` means only if no state is recorded yet. Each move
    carries its own token, so a retried request whose first answer was lost still reports success."""
    attempt = uuid.uuid4().hex
    names = {"#s": "mail_state", "#a": "mail_attempt"}
    values: dict[str, Any] = {":s": state, ":a": attempt}
    sets = ["#s = :s", "#a = :a"]
    for index, (key, value) in enumerate(fields.items()):
        names[f"#f{index}"] = key
        values[f":f{index}"] = value
        sets.append(f"#f{index} = :f{index}")
    if expect is None:
        condition = "attribute_exists(PK) AND attribute_not_exists(#s)"
    else:
        condition = "#s = :e"
        values[":e"] = expect
    return _write_if(
        _table().update_item,
        Key={"PK": f"CERT#{certificate_id}", "SK": f"V#{version:06d}"},
        UpdateExpression="SET " + ", ".join(sets),
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        already=lambda item: item.get("mail_attempt") == attempt and item.get("mail_state") == state,
    )


def revoke_certificate_version(certificate_id: str, version: int, *, reason: str, at: str, by: str) -> bool:
    """Mark a version revoked (once; the first reason stands)."""
    return _write_if(
        _table().update_item,
        Key={"PK": f"CERT#{certificate_id}", "SK": f"V#{version:06d}"},
        UpdateExpression="SET #s = :r, revoked_at = :at, revoked_reason = :why, revoked_by = :by",
        ConditionExpression="attribute_exists(PK) AND #s <> :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": "revoked", ":at": at, ":why": reason, ":by": by},
    )


def request_resend(certificate_id: str, version: int, *, at: str, by: str) -> bool:
    """Ask for the version's mail again (an organizer's decision); refused while a send is under way.
    The stream turns the change into CertificateResendRequested."""
    return _write_if(
        _table().update_item,
        Key={"PK": f"CERT#{certificate_id}", "SK": f"V#{version:06d}"},
        UpdateExpression=(
            "SET #s = :req, resend_requested_at = :at, resend_requested_by = :by ADD resend_count :one "
            "REMOVE delivery, delivery_rank, delivery_at, delivery_detail"
        ),
        ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(#s) OR NOT #s IN (:sending, :req))",
        ExpressionAttributeNames={"#s": "mail_state"},
        ExpressionAttributeValues={":req": "resend_requested", ":sending": "sending", ":at": at, ":by": by, ":one": 1},
    )


#: A later delivery event never undoes a worse one: a complaint outranks a bounce outranks a delivery.
DELIVERY_RANK = {"delivered": 1, "bounced": 2, "complained": 3}


def record_delivery(
    certificate_id: str, version: int, state: str, *, message_id: str | None, at: str, detail: str = ""
) -> bool:
    """Record what became of the version's latest send: only for that send's SES message id (an event
    of an earlier send, before a resend, is ignored), and never a better outcome over a worse one."""
    rank = DELIVERY_RANK[state]
    condition = "attribute_exists(PK) AND (attribute_not_exists(delivery_rank) OR delivery_rank < :r)"
    values: dict[str, Any] = {":d": state, ":r": rank, ":at": at, ":x": detail}
    if message_id:
        condition += " AND message_id = :m"
        values[":m"] = message_id
    return _write_if(
        _table().update_item,
        Key={"PK": f"CERT#{certificate_id}", "SK": f"V#{version:06d}"},
        UpdateExpression="SET delivery = :d, delivery_rank = :r, delivery_at = :at, delivery_detail = :x",
        ConditionExpression=condition,
        ExpressionAttributeValues=values,
    )


def current_certificates(activity_id: str) -> list[dict[str, Any]]:
    """Current version records of the activity's certificates."""
    pointers = list(_query_shards(activity_id, "CERT"))
    keys = [{"PK": f"CERT#{p['certificate_id']}", "SK": f"V#{int(p['version']):06d}"} for p in pointers]
    return _batch_get(keys)


def activity_has_certificates(activity_id: str) -> bool:
    for k in range(SHARDS):
        page = _table().query(
            IndexName="GSI1",
            KeyConditionExpression=Key("GSI1PK").eq(f"ACT#{activity_id}#CERT#{k}"),
            Limit=1,
        )
        if page.get("Items"):
            return True
    return False


# ---- scanner devices ------------------------------------------------------------------------------


def put_device(token_hash: str, *, activity_id: str, device_id: str, created_at: str, label: str = "") -> None:
    """A scanner device: the token record (found by the token's hash) and, for a device of one
    activity, its entry in the activity's device list (found by device id, to list and revoke)."""
    device = {"activity_id": activity_id, "device_id": device_id, "label": label, "created_at": created_at}
    writes = [
        {
            "Put": {
                "TableName": settings().table_name,
                "Item": {"PK": f"DEVICE#{token_hash}", "SK": "DEVICE", **device, "revoked": False},
            }
        }
    ]
    if activity_id != "*":
        writes.append(
            {
                "Put": {
                    "TableName": settings().table_name,
                    "Item": {
                        "PK": activity_pk(activity_id),
                        "SK": f"DEVICE#{device_id}",
                        **device,
                        "token_hash": token_hash,
                        "revoked": False,
                    },
                }
            }
        )
    document_client().transact_write_items(TransactItems=writes)


def list_devices(activity_id: str) -> list[dict[str, Any]]:
    items = _query_all(KeyConditionExpression=Key("PK").eq(activity_pk(activity_id)) & Key("SK").begins_with("DEVICE#"))
    return [{k: v for k, v in item.items() if k not in ("PK", "SK", "token_hash")} for item in items]


def revoke_device(activity_id: str, device_id: str, *, revoked_at: str) -> dict[str, Any] | None:
    """Mark a device revoked (its token and its list entry, together); None when no such device."""
    entry = _table().get_item(Key={"PK": activity_pk(activity_id), "SK": f"DEVICE#{device_id}"}).get("Item")
    if entry is None:
        return None
    if not entry.get("revoked"):
        update = {
            "UpdateExpression": "SET revoked = :t, revoked_at = :at",
            "ExpressionAttributeValues": {":t": True, ":at": revoked_at},
            "TableName": settings().table_name,
        }
        document_client().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        **update,
                        "Key": {"PK": activity_pk(activity_id), "SK": f"DEVICE#{device_id}"},
                    }
                },
                {"Update": {**update, "Key": {"PK": f"DEVICE#{entry['token_hash']}", "SK": "DEVICE"}}},
            ]
        )
        entry = {**entry, "revoked": True, "revoked_at": revoked_at}
    return {k: v for k, v in entry.items() if k not in ("PK", "SK", "token_hash")}


def get_device(token_hash: str) -> dict[str, Any] | None:
    return _table().get_item(Key={"PK": f"DEVICE#{token_hash}", "SK": "DEVICE"}).get("Item")


# ---- live counts (service/counters.py) ------------------------------------------------------------


def _count_pk(activity_id: str) -> str:
    return f"COUNT#{activity_id}"


def _mark(sequence: int | Decimal) -> str:
    """A stream sequence number as the count items keep it: 40 digits, zero-padded, so that string
    order is number order (sequence numbers may have up to 40 digits; a DynamoDB number holds 38)."""
    return f"{int(sequence):040d}"


def _additions(deltas: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The `ADD` clause for `deltas` (count attributes' names may hold any character) with its names
    and values."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for index, (attr, amount) in enumerate(sorted(deltas.items())):
        names[f"#a{index}"] = attr
        values[f":v{index}"] = amount
    return ", ".join(f"#a{i} :v{i}" for i in range(len(names))), names, values


def add_counts(
    activity_id: str,
    key: str,
    deltas: Mapping[str, Any],
    *,
    first: int | Decimal,
    last: int | Decimal,
    expect: int | Decimal | None = None,
) -> bool:
    """Add `deltas` to one count item and move its stream mark to `last`: only if the mark is still
    below `first` (the item has taken in none of these records), or, when retrying, exactly `expect`."""
    adds, names, values = _additions(deltas)
    names["#seq"] = "seq"
    values.update({":last": _mark(last), ":act": activity_id})
    if expect is None:
        condition = "attribute_not_exists(#seq) OR #seq < :first"
        values[":first"] = _mark(first)
    else:
        condition = "#seq = :mark"
        values[":mark"] = _mark(expect)
    expression = "SET #seq = :last, activity_id = :act" + (f" ADD {adds}" if adds else "")
    return _write_if(
        _table().update_item,
        Key={"PK": _count_pk(activity_id), "SK": key},
        UpdateExpression=expression,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def count_mark(activity_id: str, key: str) -> int | None:
    item = (
        _table()
        .get_item(Key={"PK": _count_pk(activity_id), "SK": key}, ConsistentRead=True, ProjectionExpression="seq")
        .get("Item")
    )
    return int(str(item["seq"])) if item and "seq" in item else None


def count_items(activity_id: str) -> list[dict[str, Any]]:
    return list(_query_all(KeyConditionExpression=Key("PK").eq(_count_pk(activity_id)), ConsistentRead=True))


def counted_items(activity_id: str) -> Iterator[dict[str, Any]]:
    """Every record the live counts are made of (an administrative read of the whole activity):
    profiles, presences, attendance, evaluations, claims, certificate pointers and current versions."""
    profiles = list(_query_shards(activity_id, "ROSTER"))
    yield from profiles
    yield from live_items(activity_id, (str(p["badge_id"]) for p in profiles))  # by badge: not indexed
    for kind in ("ATT", "EVAL", "CLAIM"):
        yield from _query_shards(activity_id, kind)
    pointers = list(_query_shards(activity_id, "CERT"))
    yield from pointers
    yield from _batch_get([{"PK": p["PK"], "SK": f"V#{int(p['version']):06d}"} for p in pointers])


def correct_counts(activity_id: str, key: str, deltas: Mapping[str, Any]) -> None:
    """Add a recount's corrections to a count item of their own (no stream mark: not a stream batch)."""
    if not deltas:
        return
    adds, names, values = _additions(deltas)
    _table().update_item(
        Key={"PK": _count_pk(activity_id), "SK": key},
        UpdateExpression=f"SET activity_id = :act ADD {adds}",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={**values, ":act": activity_id},
    )
