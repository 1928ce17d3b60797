"""Live dashboard counts, kept from the table stream (the `CountChanges` function).

Every base record contributes a fixed set of numbers to its activity's counts: a profile counts one
registered attendee, a live-presence record one checked-in attendee (and one per session it checked
into), a claim its credit per type, a certificate version its mail state, and so on
(`contributions`). A stream record changes the counts by what its new image contributes less what its
old image did, so the counts equal the sum over the records as they stand, whatever the order of
the changes; `recount` in dashboard.py recomputes the same numbers from the records themselves.

Exactly once under retries and replays. Lambda reads each stream shard in order and the first
delivery of a record is always in order; a retry re-reads from the failed batch's start (the batch
may then be split, or grow). The counts are kept in one item per (activity, scope, stream shard),
which remembers the sequence number of the last record it took in: a batch's change to an item is
applied only by a conditional update that moves that mark forward from below the first record it
carries; when the mark is already further on (a retry), the item is read and only the records after
the mark are applied. No record is counted twice and none is skipped, and no item is written more
than once per batch, so a 40,000-attendee door rush writes each count item a few times a second.

"Inside now" depends on the clock: a presence adds one at its start and takes one away at its end.
An edge already past when the change is counted goes into the scope's running `inside`; an edge
still ahead (the end of a presence that closes by rule at its cover end) is kept under its own time
(`inside@<epoch>`) and counts once the clock passes it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cme.adapters import store

Number = int | Decimal
#: (scope, attribute) → amount. Scopes: "T" (the activity's totals), "S#<session>" (a session;
#: "S#-" holds presences in a room with no session running), "H#<YYYYMMDDHH>" (check-ins per hour).
Counts = dict[tuple[str, str], Number]
Eligibility = Callable[[str, str], Iterable[str]]  # (activity_id, badge_id) → credit types shown

TOTAL = "T"
NO_SESSION = "-"
#: Check-ins over time are counted per bucket of this many seconds.
BUCKET_SECONDS = 300


def _add(counts: Counts, scope: str, attr: str, amount: Number) -> None:
    if amount:
        counts[(scope, attr)] = counts.get((scope, attr), 0) + amount


def _edge(counts: Counts, scope: str, at: int, sign: int, now: int) -> None:
    _add(counts, scope, "inside" if at <= now else f"inside@{at}", sign)


def _hour_scope(epoch: int) -> tuple[str, str]:
    bucket = epoch - epoch % BUCKET_SECONDS
    return "H#" + datetime.fromtimestamp(bucket, UTC).strftime("%Y%m%d%H"), f"c@{bucket}"


def _positive(values: Iterable[Any]) -> bool:
    return any(Decimal(str(v)) > 0 for v in values)


def activity_of(keys: Mapping[str, Any], image: Mapping[str, Any]) -> str | None:
    if "activity_id" in image:
        return str(image["activity_id"])
    pk = str(keys.get("PK", ""))
    return pk.removeprefix("ACT#").rsplit("#B#", 1)[0] if pk.startswith("ACT#") and "#B#" in pk else None


def contributions(keys: Mapping[str, Any], image: Mapping[str, Any] | None, now: int, eligible: Eligibility) -> Counts:
    """What one record, as it stands in `image`, adds to its activity's counts (nothing when absent)."""
    counts: Counts = {}
    if not image:
        return counts
    pk, sk = str(keys["PK"]), str(keys["SK"])
    if pk.startswith("CERT#"):
        if sk == "CURRENT":
            _add(counts, TOTAL, "certificates", 1)
        elif sk.startswith("V#") and "superseded_by" not in image:
            state, delivery = image.get("mail_state"), image.get("delivery")
            _add(counts, TOTAL, "mails_sent", int(state == "sent"))
            _add(counts, TOTAL, "mails_bounced", int(delivery == "bounced"))
            _add(counts, TOTAL, "mails_delivered", int(delivery in ("delivered", "complained")))
            _add(counts, TOTAL, "mails_to_resend", int(state in ("unknown", "failed") or delivery == "bounced"))
        return counts
    if not pk.startswith("ACT#") or "#B#" not in pk:
        return counts
    if sk == "PROFILE":
        _add(counts, TOTAL, "registered", 1)
    elif sk == "LIVE":
        _add(counts, TOTAL, "checked_in", 1)
        for session_id in image.get("sessions") or []:
            _add(counts, f"S#{session_id}", "checked_in", 1)
        since, until = image.get("since"), image.get("until")
        if since is not None and until is not None:
            scope = f"S#{image.get('session_id') or NO_SESSION}"
            _edge(counts, scope, int(since), +1, now)
            _edge(counts, scope, int(until), -1, now)
        if image.get("first_scan_at") is not None:
            _add(counts, *_hour_scope(int(image["first_scan_at"])), 1)
    elif sk.startswith("ATT#"):
        credits = image.get("credits") or {}
        for credit_type in eligible(str(image["activity_id"]), str(image["badge_id"])):
            if credit_type in credits:
                _add(counts, f"S#{image['session_id']}", f"claimable.{credit_type}", Decimal(str(credits[credit_type])))
    elif sk.startswith("EVAL#"):
        if image.get("scope") != "ACTIVITY":
            _add(counts, f"S#{image['scope']}", "evaluations", 1)
    elif sk == "CLAIM":
        totals = json.loads(image["totals"]) if isinstance(image.get("totals"), str) else image.get("totals") or {}
        claimed = json.loads(image["claimed"]) if isinstance(image.get("claimed"), str) else image.get("claimed") or {}
        _add(counts, TOTAL, "evaluated", 1)
        _add(counts, TOTAL, "learners_claimed", int(_positive(totals.values())))
        for credit_type, amount in totals.items():
            _add(counts, TOTAL, f"credits.{credit_type}", Decimal(str(amount)))
        for session_id in sorted({sid for per_session in claimed.values() for sid in per_session}):
            # Under an activity-scope evaluation, the sessions a learner's claim covers are the
            # sessions their evaluation covers.
            _add(counts, f"S#{session_id}", "claim_evaluations", 1)
    return counts


def change(
    keys: Mapping[str, Any],
    new: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    now: int,
    eligible: Eligibility,
) -> Counts:
    """What a stream record changes: the new image's contributions less the old image's."""
    delta = contributions(keys, new, now, eligible)
    for key, amount in contributions(keys, old, now, eligible).items():
        delta[key] = delta.get(key, 0) - amount
    return {k: v for k, v in delta.items() if v}


@dataclass
class Pending:
    """One count item's share of a batch: each record's change in stream order."""

    changes: list[tuple[int, Counts]] = field(default_factory=list)

    def after(self, mark: int | None) -> tuple[dict[str, Number], int | None, int | None]:
        """(summed change, first and last sequence numbers) of the records after `mark`."""
        summed: dict[str, Number] = defaultdict(int)
        kept = [(seq, c) for seq, c in self.changes if mark is None or seq > mark]
        for _, counts in kept:
            for (_, attr), amount in counts.items():
                summed[attr] += amount
        first = kept[0][0] if kept else None
        last = kept[-1][0] if kept else None
        return {a: v for a, v in summed.items() if v}, first, last


def apply_batch(
    shard_id: str,
    records: Iterable[tuple[int, Mapping[str, Any], Mapping[str, Any] | None, Mapping[str, Any] | None]],
    now: int,
    eligible: Eligibility,
) -> int:
    """Apply a stream batch (sequence number, keys, new image, old image) to the count items of
    `shard_id`; returns the number of items written."""
    pending: dict[tuple[str, str], Pending] = defaultdict(Pending)
    for seq, keys, new, old in records:
        activity_id = activity_of(keys, new or old or {})
        if activity_id is None:
            continue
        delta = change(keys, new, old, now, eligible)
        by_scope: dict[str, Counts] = defaultdict(dict)
        for (scope, attr), amount in delta.items():
            by_scope[scope][(scope, attr)] = amount
        for scope, counts in by_scope.items():
            pending[(activity_id, scope)].changes.append((int(seq), counts))
    written = 0
    for (activity_id, scope), share in pending.items():
        summed, first, last = share.after(None)
        if first is None or last is None:
            continue
        if store.add_counts(activity_id, f"{scope}@{shard_id}", summed, first=first, last=last):
            written += 1
            continue
        # A retry: this item already took in part of the batch. Apply only what came after its mark.
        mark = store.count_mark(activity_id, f"{scope}@{shard_id}")
        summed, first, last = share.after(mark)
        if first is None or last is None:
            continue
        if not store.add_counts(activity_id, f"{scope}@{shard_id}", summed, first=first, last=last, expect=mark):
            raise RuntimeError("a count item moved while this batch was applied; retry the batch")
        written += 1
    return written


@dataclass
class Totals:
    """The summed count items of one activity."""

    by_scope: dict[str, dict[str, Number]]

    def get(self, scope: str, attr: str) -> Number:
        return self.by_scope.get(scope, {}).get(attr, 0)

    def inside(self, scope: str, now: int) -> int:
        values = self.by_scope.get(scope, {})
        passed = sum(
            int(v) for a, v in values.items() if a.startswith("inside@") and int(a.removeprefix("inside@")) <= now
        )
        return int(values.get("inside", 0)) + passed

    def with_prefix(self, scope: str, prefix: str) -> dict[str, Number]:
        return {a.removeprefix(prefix): v for a, v in self.by_scope.get(scope, {}).items() if a.startswith(prefix)}

    def session_scopes(self) -> list[str]:
        return [s for s in self.by_scope if s.startswith("S#")]

    def checkins_over_time(self) -> list[tuple[int, int]]:
        buckets: dict[int, int] = defaultdict(int)
        for scope, values in self.by_scope.items():
            if scope.startswith("H#"):
                for attr, amount in values.items():
                    buckets[int(attr.removeprefix("c@"))] += int(amount)
        return sorted((at, n) for at, n in buckets.items() if n)


def read(activity_id: str) -> Totals:
    by_scope: dict[str, dict[str, Number]] = defaultdict(lambda: defaultdict(int))
    for item in store.count_items(activity_id):
        scope = str(item["SK"]).rsplit("@", 1)[0]
        for attr, value in item.items():
            if attr in ("PK", "SK", "seq", "activity_id") or not isinstance(value, (int, Decimal)):
                continue
            by_scope[scope][attr] += value
    return Totals({s: dict(v) for s, v in by_scope.items()})


def expected(activity_id: str, now: int) -> Counts:
    """The counts as the records stand now: every record's contribution, summed."""
    from cme.domain.credit import eligible_types

    activity = store.get_activity(activity_id)
    professions = {a.badge_id: a.profession for a in store.roster(activity_id)}

    def eligible(_: str, badge_id: str) -> list[str]:
        return eligible_types(activity, professions.get(badge_id, "other")) if activity else []

    summed: Counts = {}
    for item in store.counted_items(activity_id):
        for key, amount in contributions(item, item, now, eligible).items():
            summed[key] = summed.get(key, 0) + amount
    return summed


def repair(activity_id: str, now: int) -> int:
    """Make the counts equal the records again (after records a failed batch left out, or counts kept
    from before this function existed): the difference goes into a correction item per scope.
    Changes counted while it runs may be counted twice or not at all, so run it when the meeting is
    quiet and recount afterwards. Returns the number of corrected counts."""
    target = expected(activity_id, now)
    have = read(activity_id)
    corrections: dict[str, dict[str, Number]] = defaultdict(dict)
    scopes = {s for s, _ in target} | set(have.by_scope)
    for scope in scopes:
        attrs = {a for s, a in target if s == scope} | set(have.by_scope.get(scope, {}))
        if any(a.startswith("inside") for a in attrs):
            attrs.add("inside")
        for attr in attrs:
            wanted, current = target.get((scope, attr), 0), have.get(scope, attr)
            if attr.startswith("inside@") and int(attr.removeprefix("inside@")) <= now:
                continue  # an edge already passed is part of the running count below
            if attr == "inside":
                wanted, current = (
                    sum(v for (s, a), v in target.items() if s == scope and _inside_now(a, now)),
                    have.inside(scope, now),
                )
            if wanted != current:
                corrections[scope][attr] = wanted - current
    for scope, deltas in corrections.items():
        store.correct_counts(activity_id, f"{scope}@repair", deltas)
    return sum(len(d) for d in corrections.values())


def _inside_now(attr: str, now: int) -> bool:
    return attr == "inside" or (attr.startswith("inside@") and int(attr.removeprefix("inside@")) <= now)
