"""The presence walk of credit-rules.md §1: one attendee's door scans become time spent in rooms.

Pure and order-independent: the same set of scans gives the same walk whatever order they arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cme.domain.models import Activity, DoorScan, Session

EndedBy = Literal["exit", "cover_end", "next_entry"]
AnomalyKind = Literal["exit_without_entry", "exit_from_other_room"]


@dataclass(frozen=True)
class Presence:
    """Time spent in one room, from an entry scan to its exit, cover end or the next entry elsewhere."""

    room: str
    start: int
    end: int
    closed_by_exit: bool
    entry_scan_id: str
    exit_scan_id: str | None
    ended_by: EndedBy
    #: The room of the entry that followed this presence, when one did and no exit closed it.
    next_room: str | None = None
    #: When that following entry happened (it may be later than `end` when the cover ended first).
    next_entry_at: int | None = None
    #: Sessions the entry covered (§1.2) and the latest of their ends; empty/None: it earns nothing.
    covered: tuple[str, ...] = ()
    cover_end: int | None = None
    #: False when the presence counts for nothing: it covered no session, or the policy is
    #: `missing_exit: no_credit` and no exit scan of its own closed it.
    earns: bool = True

    @property
    def seconds(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Anomaly:
    """A scan the walk could not use, kept so the learner and the organizer can see it."""

    scan_id: str
    room: str
    at: int
    kind: AnomalyKind
    #: For `exit_from_other_room`: the room the attendee was in at the time.
    inside_room: str | None = None
    #: The session of `room` whose window [starts_at, ends_at] holds `at`, if any (for explanations).
    session_id: str | None = None


@dataclass(frozen=True)
class PresenceWalk:
    presences: tuple[Presence, ...]
    anomalies: tuple[Anomaly, ...]
    #: Entries into the room the attendee was already in, before the cover end: ignored (§1.3).
    double_scans: tuple[DoorScan, ...]
    #: The activity's time zone, so explanations can print local clock times.
    timezone: str = "UTC"


def unique_scans(scans: Iterable[DoorScan]) -> list[DoorScan]:
    """§1.1: drop repeated scan_ids (the first by (at, scan_id) wins) and order by (at, scan_id).

    Room and direction complete the sort key only so that two different scans sharing an id and a
    second still resolve the same way whatever order they arrived in.
    """
    ordered = sorted(scans, key=lambda s: (s.at, s.scan_id, s.room, s.direction))
    seen: set[str] = set()
    unique: list[DoorScan] = []
    for scan in ordered:
        if scan.scan_id not in seen:
            seen.add(scan.scan_id)
            unique.append(scan)
    return unique


def sessions_by_room(activity: Activity) -> dict[str, list[Session]]:
    """Each room's sessions, earliest-starting first, then lowest session_id (the rules' tie-break)."""
    rooms: dict[str, list[Session]] = {}
    for session in sorted(activity.sessions, key=lambda s: (s.start, s.session_id)):
        rooms.setdefault(session.room, []).append(session)
    return rooms


def covered_sessions(room_sessions: Sequence[Session], at: int, lookahead_seconds: int) -> list[Session]:
    """§1.2: the session in progress at `at` and the first to start within the lookahead;
    if neither exists, the first to start after `at`. `room_sessions` is in (start, session_id) order."""
    in_progress = next((s for s in room_sessions if s.start <= at < s.end), None)
    upcoming = next((s for s in room_sessions if at < s.start <= at + lookahead_seconds), None)
    if in_progress is None and upcoming is None:
        upcoming = next((s for s in room_sessions if s.start > at), None)
    return [s for s in (in_progress, upcoming) if s is not None]


def may_be_present(activity: Activity, session: Session, room_scans: Iterable[tuple[int, str]]) -> bool:
    """Whether an attendee whose scans in `session`'s room are `room_scans` ((at, direction) pairs) can
    have a presence there that overlaps the session, before the rest of their scans is read.

    Every presence starts with an entry into the room (§1.3). One not closed by an exit ends at its
    cover end at the latest (§1.4), so it overlaps the session only if its entry came before the
    session's end and its cover end after the session's start; one closed by an exit ends at that exit,
    which then comes after the session's start. An attendee with neither has no second in the session,
    and no presence overlapping it that earns nothing, so the rules give them no attendance row there.
    True does not mean present: an entry elsewhere may cut the presence short."""
    room_sessions = sessions_by_room(activity).get(session.room, [])
    lookahead_seconds = activity.policy.lookahead_minutes * 60
    for at, direction in room_scans:
        if direction == "exit":
            if at > session.start:
                return True
        elif at < session.end:
            covered = covered_sessions(room_sessions, at, lookahead_seconds)
            if covered and max(s.end for s in covered) > session.start:
                return True
    return False


@dataclass(frozen=True)
class _OpenPresence:
    room: str
    start: int
    entry_scan_id: str
    covered: tuple[str, ...]
    cover_end: int | None


def walk_presence(activity: Activity, scans: Iterable[DoorScan]) -> PresenceWalk:
    """Walk one attendee's scans (§1.3) into presences, anomalies and ignored double scans."""
    rooms = sessions_by_room(activity)
    lookahead_seconds = activity.policy.lookahead_minutes * 60
    exit_required = activity.policy.missing_exit == "no_credit"

    presences: list[Presence] = []
    anomalies: list[Anomaly] = []
    double_scans: list[DoorScan] = []
    inside: _OpenPresence | None = None

    def end_without_exit(open_presence: _OpenPresence, next_entry: DoorScan | None) -> Presence:
        # §1.4: until the cover end or the next entry anywhere, whichever is earlier.
        cover_end = open_presence.cover_end if open_presence.cover_end is not None else open_presence.start
        end, ended_by = cover_end, "cover_end"  # type: tuple[int, EndedBy]
        if next_entry is not None and next_entry.at < cover_end:
            end, ended_by = next_entry.at, "next_entry"
        return Presence(
            room=open_presence.room,
            start=open_presence.start,
            end=end,
            closed_by_exit=False,
            entry_scan_id=open_presence.entry_scan_id,
            exit_scan_id=None,
            ended_by=ended_by,
            next_room=next_entry.room if next_entry is not None else None,
            next_entry_at=next_entry.at if next_entry is not None else None,
            covered=open_presence.covered,
            cover_end=open_presence.cover_end,
            earns=bool(open_presence.covered) and not exit_required,
        )

    for scan in unique_scans(scans):
        if scan.direction == "entry":
            if (
                inside is not None
                and scan.room == inside.room
                and inside.cover_end is not None
                and scan.at < inside.cover_end
            ):
                double_scans.append(scan)
                continue
            if inside is not None:
                presences.append(end_without_exit(inside, scan))
            covered = covered_sessions(rooms.get(scan.room, []), scan.at, lookahead_seconds)
            inside = _OpenPresence(
                room=scan.room,
                start=scan.at,
                entry_scan_id=scan.scan_id,
                covered=tuple(s.session_id for s in covered),
                cover_end=max((s.end for s in covered), default=None),
            )
        elif inside is not None and scan.room == inside.room:
            # §1.4: an exit scan is evidence of continuous presence, so it spans every session between.
            presences.append(
                Presence(
                    room=inside.room,
                    start=inside.start,
                    end=scan.at,
                    closed_by_exit=True,
                    entry_scan_id=inside.entry_scan_id,
                    exit_scan_id=scan.scan_id,
                    ended_by="exit",
                    covered=inside.covered,
                    cover_end=inside.cover_end,
                    earns=bool(inside.covered),
                )
            )
            inside = None
        else:
            anomalies.append(
                Anomaly(
                    scan_id=scan.scan_id,
                    room=scan.room,
                    at=scan.at,
                    kind="exit_from_other_room" if inside is not None else "exit_without_entry",
                    inside_room=inside.room if inside is not None else None,
                    session_id=_session_at(rooms.get(scan.room, []), scan.at),
                )
            )
    if inside is not None:
        presences.append(end_without_exit(inside, None))

    return PresenceWalk(
        presences=tuple(presences),
        anomalies=tuple(anomalies),
        double_scans=tuple(double_scans),
        timezone=activity.timezone,
    )


def _session_at(room_sessions: Sequence[Session], at: int) -> str | None:
    """The session whose window holds `at`, end included: an exit right at the end belongs to it."""
    return next((s.session_id for s in room_sessions if s.start <= at <= s.end), None)
