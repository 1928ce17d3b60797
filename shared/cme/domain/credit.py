"""Session credit, activity totals, eligibility and claims (credit-rules.md §2–§4).

Pure functions on whole seconds and integer quarters; amounts leave as `Decimal` via `from_quarters`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from cme.domain.models import (
    ALL_OR_NOTHING_TYPES,
    CREDIT_NAMES,
    CREDIT_TYPES,
    DERIVED_TYPES,
    Activity,
    DoorScan,
    Policy,
    Rounding,
    Session,
    SessionAttendance,
    from_quarters,
    is_quarter,
    to_quarters,
)
from cme.domain.presence import Anomaly, Presence, PresenceWalk, sessions_by_room, walk_presence

Interval = tuple[int, int]

#: §4 eligibility, as data: the credit types each profession may be shown and claim.
#: IPCE is for every profession; PARTICIPATION (hours of participation) for every non-physician.
ELIGIBILITY: dict[str, tuple[str, ...]] = {
    "physician": ("AMA_PRA_1", "IPCE"),
    "nurse": ("ANCC", "IPCE", "PARTICIPATION"),
    "pharmacist": ("ACPE", "IPCE", "PARTICIPATION"),
    "physician_assistant": ("AAPA_1", "IPCE", "PARTICIPATION"),
    "other": ("IPCE", "PARTICIPATION"),
}

#: How the explanation names a credit type next to an amount.
TYPE_LABELS: dict[str, str] = {
    "AMA_PRA_1": "AMA PRA Category 1",
    "ANCC": "ANCC",
    "ACPE": "ACPE",
    "AAPA_1": "AAPA Category 1",
    "IPCE": "IPCE",
    "PARTICIPATION": "participation hours",
}


class ClaimError(ValueError):
    """A claim the learner may not make; `field` names it the way the API reports it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# Rounding


def rounding_of(policy: Policy, credit_type: str) -> Rounding:
    """The type's way of rounding: derived types follow AMA_PRA_1 unless rounding_by_type names them."""
    if credit_type in DERIVED_TYPES and credit_type not in policy.rounding_by_type:
        return policy.rounding_for("AMA_PRA_1")
    return policy.rounding_for(credit_type)


def quarters_for(seconds: int, rounding: Rounding) -> int:
    """§3.3: whole quarter hours for `seconds` of attendance."""
    if rounding == "nearest_quarter":
        return (seconds * 4 + 1800) // 3600
    return (seconds * 4) // 3600


# ---------------------------------------------------------------------------------------------
# Interval arithmetic on [start, end) pairs of epoch seconds


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _clip(intervals: Iterable[Interval], low: int, high: int) -> list[Interval]:
    return _merge((max(start, low), min(end, high)) for start, end in intervals)


def _subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    remaining = _merge(intervals)
    for hole_start, hole_end in _merge(holes):
        pieces: list[Interval] = []
        for start, end in remaining:
            before, after = (start, min(end, hole_start)), (max(start, hole_end), end)
            pieces.extend(piece for piece in (before, after) if piece[1] > piece[0])
        remaining = pieces
    return remaining


def _length(intervals: Iterable[Interval]) -> int:
    return sum(end - start for start, end in intervals)


def _overlaps(first: Interval, second: Interval) -> bool:
    return first[0] < second[1] and second[0] < first[1]


# ---------------------------------------------------------------------------------------------
# §2–§3: session attendance and credit


def session_types(session: Session) -> list[str]:
    """The types a session carries credit in: its designations plus the types derived from AMA_PRA_1."""
    return [t for t in CREDIT_TYPES if t in session.credits or (t in DERIVED_TYPES and "AMA_PRA_1" in session.credits)]


def session_attendance(
    activity: Activity, badge_id: str, scans: Iterable[DoorScan], only: Collection[str] | None = None
) -> dict[str, SessionAttendance]:
    """Every session the attendee attended (or was faculty of), with credits and an explanation;
    `only` limits the answer to those sessions (the others are still walked: they share seconds)."""
    return attendance_from_walk(activity, badge_id, walk_presence(activity, scans), only)


@dataclass(frozen=True)
class _Counting:
    """How a session's seconds were counted, kept for the explanation."""

    seconds: int
    taken_by_earlier_session: int
    breaks_crossed: tuple[Interval, ...]


def attendance_from_walk(
    activity: Activity, badge_id: str, walk: PresenceWalk, only: Collection[str] | None = None
) -> dict[str, SessionAttendance]:
    """As `session_attendance`, from a walk already made (so its anomalies can be explained too).

    Besides sessions with attended seconds or faculty, a session also appears (with 0) when a
    presence overlapped it but earned nothing under `missing_exit: no_credit`: the learner must be
    able to see why.
    """
    earning: dict[str, list[Interval]] = {}
    for presence in walk.presences:
        if presence.earns:
            earning.setdefault(presence.room, []).append((presence.start, presence.end))

    results: dict[str, SessionAttendance] = {}
    for room, room_sessions in sessions_by_room(activity).items():
        presence_in_room = _merge(earning.get(room, []))
        taken: list[Interval] = []
        for session in room_sessions:
            window = (session.start, session.end)
            instruction = _subtract(_clip(presence_in_room, *window), session.break_intervals)
            # §2: overlapping sessions in one room: the earlier-starting (then lower id) takes a second.
            counted = _subtract(instruction, taken)
            taken = _merge([*taken, *counted])
            seconds = _length(counted)
            if only is not None and session.session_id not in only:
                continue
            faculty = badge_id in session.faculty
            unearned = any(
                not p.earns and p.room == room and _overlaps((p.start, p.end), window) for p in walk.presences
            )
            if seconds == 0 and not faculty and not unearned:
                continue
            presence_in_window = _clip(presence_in_room, *window)
            counting = _Counting(
                seconds=seconds,
                taken_by_earlier_session=_length(instruction) - seconds,
                breaks_crossed=tuple(
                    b for b in session.break_intervals if any(_overlaps(b, p) for p in presence_in_window)
                ),
            )
            quarters = session_quarters(activity, session, seconds, faculty=faculty)
            attendance = SessionAttendance(
                session_id=session.session_id,
                seconds=seconds,
                credit_seconds=session.credit_seconds,
                faculty=faculty,
                credits={t: from_quarters(q) for t, q in quarters.items()},
                basis=_explain(activity, session, walk, counting, faculty, quarters),
                capped=_capped(activity, seconds, quarters),
            )
            results[session.session_id] = attendance.model_copy(update={"explanation": explanation_for(attendance)})
    order = {s.session_id: (s.start, s.session_id) for s in activity.sessions}
    return {sid: results[sid] for sid in sorted(results, key=order.__getitem__)}


def minimum_percent(activity: Activity, session: Session) -> int:
    """§3.2: the session's minimum attendance, when set, overrides the activity's."""
    if session.min_attendance_percent is not None:
        return session.min_attendance_percent
    return activity.policy.min_attendance_percent


def below_minimum(activity: Activity, session: Session, seconds: int) -> bool:
    return seconds * 100 < minimum_percent(activity, session) * session.credit_seconds


def full_credit_reached(activity: Activity, session: Session, seconds: int) -> bool:
    """§3.4: all-or-nothing types need this share of the session's credit seconds."""
    return seconds * 100 >= activity.policy.full_credit_percent * session.credit_seconds


def session_quarters(activity: Activity, session: Session, seconds: int, *, faculty: bool) -> dict[str, int]:
    """§3: the session's credit in quarters for each type it carries."""
    quarters: dict[str, int] = {}
    designations: dict[str, Decimal] = {str(t): amount for t, amount in session.credits.items()}
    no_credit = faculty or below_minimum(activity, session, seconds)
    for credit_type in session_types(session):
        designated_as = "AMA_PRA_1" if credit_type in DERIVED_TYPES else credit_type
        designation = to_quarters(designations[designated_as])
        if no_credit:
            quarters[credit_type] = 0
        elif credit_type in ALL_OR_NOTHING_TYPES:
            quarters[credit_type] = designation if full_credit_reached(activity, session, seconds) else 0
        else:
            earned = quarters_for(seconds, rounding_of(activity.policy, credit_type))
            quarters[credit_type] = min(earned, designation)
    return quarters


# ---------------------------------------------------------------------------------------------
# Explanations


def _clock(moment: int, zone: ZoneInfo) -> str:
    local = datetime.fromtimestamp(moment, zone)
    # Seconds only when they matter: a device clock of 08:52:30 must not read as 08:52.
    return local.strftime("%H:%M:%S" if local.second else "%H:%M")


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def format_credit(amount: Decimal) -> str:
    """1.5, 2.0, 1.25, 0: at most two places, at least one for a whole amount above zero."""
    text = f"{amount:.2f}"
    return "0" if amount == 0 else text[:-1] if text.endswith("0") else text


def _presence_clauses(
    presence: Presence, session: Session, walk: PresenceWalk, policy: Policy, zone: ZoneInfo
) -> list[str]:
    def clock(moment: int) -> str:
        return _clock(moment, zone)

    entered = f"entered {presence.room} {clock(presence.start)}"
    if presence.start < session.start:
        entered += f" (counted from the {clock(session.start)} start)"
    clauses = [entered]
    # A double scan happens while this presence is open, so its time falls within it.
    clauses.extend(
        f"entry scan {clock(d.at)} ignored (double scan)"
        for d in walk.double_scans
        if d.room == presence.room and presence.start <= d.at <= presence.end
    )
    departure: int | None = None
    if presence.closed_by_exit:
        departure = presence.end
        clauses.append(f"exited {clock(presence.end)}")
    elif presence.ended_by == "next_entry":
        departure = presence.end
        clauses.append(f"left for {presence.next_room} at {clock(presence.end)}")
    elif presence.next_room is not None and presence.next_room != presence.room:
        departure = presence.next_entry_at
        clauses.append(f"left for {presence.next_room} at {clock(presence.next_entry_at or presence.end)}")
    elif presence.earns:
        clauses.append("no exit scan")
    if presence.end >= session.end and (departure is None or departure > session.end):
        clauses.append(f"session ended {clock(session.end)}")
    elif not presence.closed_by_exit and presence.ended_by == "cover_end" and presence.end < session.end:
        clauses.append(f"counted until {clock(presence.end)}, the end of the sessions your entry covered")
    if not presence.closed_by_exit and policy.missing_exit == "no_credit":
        clauses.append("no exit scan: no credit under this activity's policy")
    return clauses


def explain_anomaly(anomaly: Anomaly, zone: ZoneInfo) -> str:
    when = _clock(anomaly.at, zone)
    if anomaly.kind == "exit_from_other_room":
        return f"exit scan at {anomaly.room} {when} while you were in {anomaly.inside_room}: ignored"
    return f"exit scan at {anomaly.room} {when} without an entry: ignored"


def explain_anomalies(walk: PresenceWalk, shown_session_ids: Collection[str] = ()) -> list[str]:
    """Sentences, in time order, for the scans no shown session's explanation mentions: ignored exits
    outside those sessions, and entries that covered no session at all (a room with nothing after)."""
    zone = ZoneInfo(walk.timezone)
    notes = [
        (a.at, _capitalize(explain_anomaly(a, zone)) + ".")
        for a in walk.anomalies
        if a.session_id is None or a.session_id not in shown_session_ids
    ]
    notes.extend(
        (p.start, f"Entry scan at {p.room} {_clock(p.start, zone)}: no session in that room afterwards, not counted.")
        for p in walk.presences
        if not p.covered
    )
    return [text for _, text in sorted(notes)]


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def credit_phrase(amounts: Mapping[str, Decimal], capped: Collection[str] = ()) -> str:
    """ "1.5 credits, the session's maximum (ANCC 1.25)" or "ANCC 1.75, participation hours 2.0": the
    credit part of an explanation, for the types in `amounts` (all of a session's, or a learner's)."""
    if "AMA_PRA_1" in amounts:
        main = amounts["AMA_PRA_1"]
        phrase = f"{format_credit(main)} credits" + (", the session's maximum" if "AMA_PRA_1" in capped else "")
        # Other designated types always show; derived ones only when their own rounding made them differ.
        others = [
            f"{TYPE_LABELS[t]} {format_credit(v)}"
            for t, v in amounts.items()
            if t != "AMA_PRA_1" and (t not in DERIVED_TYPES or v != main)
        ]
        return phrase + (f" ({', '.join(others)})" if others else "")
    if not amounts:
        return "no credit designated"
    parts = [
        f"{format_credit(v)} {CREDIT_NAMES[t][0 if v == 1 else 1]}"
        + (", the session's maximum" if t in capped and i == 0 else "")
        for i, (t, v) in enumerate(amounts.items())
    ]
    return ", ".join(parts)


def explanation_for(attendance: SessionAttendance, types: Collection[str] | None = None) -> str:
    """The sentence for one session, its credit part in `types` only (a learner's eligible types)."""
    if not attendance.basis:
        return attendance.explanation
    amounts = {t: Decimal(str(v)) for t, v in attendance.credits.items() if types is None or t in types}
    if types is not None:
        order = [t for t in CREDIT_TYPES if t in amounts]
        amounts = {t: amounts[t] for t in order}
    phrase = credit_phrase(amounts, attendance.capped) if amounts or types is None else "none of your credit types"
    return f"{attendance.basis}: {_duration(attendance.seconds)} → {phrase}"


def _explain(
    activity: Activity,
    session: Session,
    walk: PresenceWalk,
    counting: _Counting,
    faculty: bool,
    quarters: Mapping[str, int],
) -> str:
    """The clauses saying how the session's seconds were counted (the explanation before its credit)."""
    zone = activity.zone
    window = (session.start, session.end)
    presences = [p for p in walk.presences if p.room == session.room and _overlaps((p.start, p.end), window)]
    clauses: list[str] = []
    for presence in presences:
        clauses.extend(_presence_clauses(presence, session, walk, activity.policy, zone))
    clauses.extend(
        f"break {_clock(start, zone)}–{_clock(end, zone)} not counted" for start, end in counting.breaks_crossed
    )
    if counting.taken_by_earlier_session:
        clauses.append(
            f"{_duration(counting.taken_by_earlier_session)} counted for another session "
            f"in {session.room} at the same time"
        )
    clauses.extend(explain_anomaly(a, zone) for a in walk.anomalies if a.session_id == session.session_id)
    if faculty:
        clauses.append("you were faculty of this session: no learner credit")
    elif below_minimum(activity, session, counting.seconds):
        clauses.append(
            f"minimum attendance not met ({_duration(counting.seconds)} of "
            f"{_duration(session.credit_seconds)} credit time; "
            f"{minimum_percent(activity, session)}% required): no credit"
        )
    else:
        clauses.extend(
            f"{TYPE_LABELS[t]} needs {activity.policy.full_credit_percent}% of the "
            f"{_duration(session.credit_seconds)} credit time: not earned"
            for t, q in quarters.items()
            if t in ALL_OR_NOTHING_TYPES and q == 0
        )
    if not clauses:
        clauses.append(f"attended {session.title}")
    return _capitalize("; ".join(clauses))


def _capped(activity: Activity, seconds: int, quarters: Mapping[str, int]) -> list[str]:
    """The time-based types whose designation, not the time attended, limited the credit."""
    return [
        t
        for t, q in quarters.items()
        if t not in ALL_OR_NOTHING_TYPES and q > 0 and quarters_for(seconds, rounding_of(activity.policy, t)) > q
    ]


# ---------------------------------------------------------------------------------------------
# §4: eligibility, totals, claims


def eligible_types(activity: Activity, profession: str) -> list[str]:
    """The types a learner of this profession is shown: their mapping ∩ what the activity offers."""
    allowed = set(ELIGIBILITY.get(profession, ELIGIBILITY["other"]))
    return [t for t in activity.offered_types() if t in allowed]


def _capped_total_quarters(
    activity: Activity,
    credit_type: str,
    quarters_by_session: Mapping[str, int],
    attendances: Mapping[str, SessionAttendance],
) -> int:
    """§4 total: never above the activity maximum, the sum, nor (time-based) the time spent."""
    maximum = to_quarters(activity.maximum(credit_type))
    summed = sum(quarters_by_session.values())
    if credit_type in ALL_OR_NOTHING_TYPES:
        return min(maximum, summed)
    seconds = sum(attendances[sid].seconds for sid, q in quarters_by_session.items() if q > 0)
    return min(maximum, summed, quarters_for(seconds, rounding_of(activity.policy, credit_type)))


def _offered(activity: Activity, types: Iterable[str]) -> list[str]:
    wanted = set(types)
    return [t for t in activity.offered_types() if t in wanted]


def activity_totals(
    activity: Activity, attendances: Mapping[str, SessionAttendance], types: Iterable[str]
) -> dict[str, Decimal]:
    """§4: the activity total per type (only types the activity offers)."""
    totals: dict[str, Decimal] = {}
    for credit_type in _offered(activity, types):
        per_session = {
            sid: to_quarters(a.credits[credit_type]) for sid, a in attendances.items() if credit_type in a.credits
        }
        total = _capped_total_quarters(activity, credit_type, per_session, attendances)
        totals[credit_type] = from_quarters(total)
    return totals


def is_unlocked(activity: Activity, session_id: str, evaluated: Collection[str | None]) -> bool:
    """§4 evaluation gate: `None` stands for the activity evaluation, a session id for that session's."""
    if activity.policy.evaluation_scope == "activity":
        return None in evaluated
    return session_id in evaluated


def claimable(
    activity: Activity,
    attendances: Mapping[str, SessionAttendance],
    evaluated: Collection[str | None],
    types: Iterable[str],
) -> dict[str, dict[str, Decimal]]:
    """Per type, per session: credit above 0 whose evaluation gate is met."""
    result: dict[str, dict[str, Decimal]] = {}
    for credit_type in _offered(activity, types):
        result[credit_type] = {
            sid: a.credits[credit_type]
            for sid, a in attendances.items()
            if a.credits.get(credit_type, Decimal(0)) > 0 and is_unlocked(activity, sid, evaluated)
        }
    return result


def claimable_totals(
    activity: Activity,
    attendances: Mapping[str, SessionAttendance],
    claimable_by_session: Mapping[str, Mapping[str, Decimal]],
) -> dict[str, Decimal]:
    """The §4 total of what is claimable, per type."""
    return {
        credit_type: from_quarters(
            _capped_total_quarters(
                activity, credit_type, {sid: to_quarters(v) for sid, v in by_session.items()}, attendances
            )
        )
        for credit_type, by_session in claimable_by_session.items()
    }


def resolve_claims(
    activity: Activity,
    attendances: Mapping[str, SessionAttendance],
    claimable_by_session: Mapping[str, Mapping[str, Decimal]],
    requested: Mapping[str, Mapping[str, Decimal]] | None,
) -> tuple[dict[str, dict[str, Decimal]], dict[str, Decimal]]:
    """What the learner attests to, per type and session, and the totals (capped by the claimable total).

    `requested` None claims everything claimable. A type or session the request leaves out defaults to
    all of its claimable credit (§4 "default: all of it"); claiming 0 declines it. Raises `ClaimError`.
    """
    requested = requested or {}
    for credit_type, by_session in requested.items():
        if credit_type not in claimable_by_session:
            raise ClaimError(f"claims.{credit_type}", f"{credit_type} is not a credit type you can claim here")
        for session_id, amount in by_session.items():
            whole = claimable_by_session[credit_type].get(session_id, Decimal(0))
            field = f"claims.{credit_type}.{session_id}"
            _check_claim(field, session_id, amount, attendances, whole)
            if credit_type in ALL_OR_NOTHING_TYPES and 0 < Decimal(amount) < whole:
                # A live ACPE activity has no partial credit: the learner claims it whole or declines it.
                raise ClaimError(
                    field, f"{credit_type} credit is claimed whole ({format_credit(whole)}) or not at all (0)"
                )

    claimed: dict[str, dict[str, Decimal]] = {}
    for credit_type, available in claimable_by_session.items():
        asked = requested.get(credit_type, {})
        chosen = {sid: Decimal(asked.get(sid, amount)) for sid, amount in available.items()}
        claimed[credit_type] = {sid: from_quarters(to_quarters(v)) for sid, v in chosen.items() if v > 0}
    ceilings = claimable_totals(activity, attendances, claimable_by_session)
    totals = {
        credit_type: min(from_quarters(sum(to_quarters(v) for v in by_session.values())), ceilings[credit_type])
        for credit_type, by_session in claimed.items()
    }
    return claimed, totals


def _check_claim(
    field: str,
    session_id: str,
    amount: Decimal,
    attendances: Mapping[str, SessionAttendance],
    available: Decimal,
) -> None:
    attendance = attendances.get(session_id)
    if attendance is None or attendance.seconds <= 0:
        raise ClaimError(field, f"you have no attendance in session {session_id}")
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        raise ClaimError(field, "must be a decimal amount")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise ClaimError(field, "must be a number")
    if amount < 0:
        raise ClaimError(field, "must not be negative")
    if not is_quarter(amount):
        raise ClaimError(field, f"{amount} is not a multiple of 0.25")
    if amount > 0 and available == 0:
        raise ClaimError(field, "nothing is claimable for this session (no credit earned, or its evaluation is not in)")
    if amount > available:
        raise ClaimError(field, f"{amount} is above the {format_credit(available)} you can claim for this session")


__all__ = [
    "ELIGIBILITY",
    "ClaimError",
    "activity_totals",
    "attendance_from_walk",
    "claimable",
    "claimable_totals",
    "credit_phrase",
    "eligible_types",
    "explain_anomalies",
    "explanation_for",
    "quarters_for",
    "resolve_claims",
    "rounding_of",
    "session_attendance",
    "session_types",
]
