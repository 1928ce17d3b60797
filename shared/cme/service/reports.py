"""The accreditor's and the organizer's reports (`GET /activities/{id}/reports/{name}`), built from
the stored records. Every cell a spreadsheet could read as a formula is neutralised."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from cme.adapters import store
from cme.auth import certificate_id
from cme.domain.credit import eligible_types, format_credit
from cme.domain.models import CREDIT_TYPES, Activity, Attendee, Session, SessionAttendance
from cme.errors import Conflict, NotFound

#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (`=HYPERLINK(...)` in a name must stay text): such cells get a leading apostrophe (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8 names right


def _amount(value: Any) -> str:
    return format_credit(Decimal(str(value))) if value not in (None, "") else ""


def _types(activity: Activity) -> list[str]:
    return [t for t in CREDIT_TYPES if t in activity.offered_types()]


class Records:
    """What the reports read of one activity, each read at most once: the post-event package builds
    several reports from the same records."""

    def __init__(self, activity: Activity) -> None:
        self.activity = activity

    @cached_property
    def people(self) -> dict[str, Attendee]:
        return {a.badge_id: a for a in store.roster(self.activity.activity_id)}

    @cached_property
    def attendance(self) -> list[tuple[str, SessionAttendance]]:
        """(badge, row) of finalized sessions only (rows of a session still running are provisional)."""
        return store.finalized_attendance(self.activity.activity_id, store.session_states(self.activity.activity_id))

    @cached_property
    def claims(self) -> list[dict[str, Any]]:
        return store.all_claims(self.activity.activity_id)

    @cached_property
    def certificates(self) -> list[dict[str, Any]]:
        return store.current_certificates(self.activity.activity_id)

    @cached_property
    def evaluations(self) -> list[dict[str, Any]]:
        return store.all_evaluations(self.activity.activity_id)


def attendance_csv(records: Records) -> bytes:
    """One row per attendee and finalized session they attended (or taught), with the minutes, the
    credit per type for their profession, and the sentence that explains it."""
    activity, people = records.activity, records.people
    sessions = {s.session_id: s for s in activity.sessions}
    order = {s.session_id: i for i, s in enumerate(sorted(activity.sessions, key=lambda s: (s.start, s.session_id)))}
    types = _types(activity)
    rows = []
    for badge, row in records.attendance:
        session = sessions.get(row.session_id)
        person = people.get(badge)
        if session is None or person is None:
            continue
        eligible = set(eligible_types(activity, person.profession))
        rows.append(
            (
                person.family_name.casefold(),
                order[row.session_id],
                [
                    badge,
                    person.family_name,
                    person.given_name,
                    person.degree,
                    person.profession,
                    row.session_id,
                    session.title,
                    session.starts_at.astimezone(activity.zone).date().isoformat(),
                    session.room,
                    row.minutes,
                    "yes" if row.faculty else "no",
                    *[_amount(row.credits.get(t)) if t in eligible and t in row.credits else "" for t in types],
                    row.explanation,
                ],
            )
        )
    header = [
        "badge_id", "family_name", "given_name", "degree", "profession", "session_id", "session_title",
        "date", "room", "minutes", "faculty", *types, "explanation",
    ]  # fmt: skip
    return _csv(header, (r for _, _, r in sorted(rows, key=lambda r: (r[0], r[2][0], r[1]))))


def claims_csv(records: Records) -> bytes:
    """One row per learner who claimed: the credit claimed per type (what their certificate shows),
    the claim and certificate versions, and what became of the certificate mail."""
    activity, people = records.activity, records.people
    certificates = {str(c["certificate_id"]): c for c in records.certificates}
    types = _types(activity)
    rows = []
    for claim in records.claims:
        badge = str(claim["badge_id"])
        person = people.get(badge)
        if person is None:
            continue
        cid = certificate_id(activity.activity_id, badge)
        cert = certificates.get(cid, {})
        rows.append(
            [
                badge,
                person.family_name,
                person.given_name,
                person.degree,
                person.profession,
                int(claim["version"]),
                claim.get("claimed_at", ""),
                *[_amount(claim["totals"].get(t)) for t in types],
                cid if cert else "",
                int(cert["version"]) if cert else "",
                cert.get("status", "") if cert else "",
                cert.get("issued_at", "") if cert else "",
                cert.get("mail_state", "") if cert else "",
                cert.get("delivery", "") if cert else "",
            ]
        )
    rows.sort(key=lambda r: (str(r[1]).casefold(), str(r[2]).casefold(), r[0]))
    header = [
        "badge_id", "family_name", "given_name", "degree", "profession", "claim_version", "claimed_at",
        *types, "certificate_id", "certificate_version", "certificate_status", "issued_at", "mail", "delivery",
    ]  # fmt: skip
    return _csv(header, rows)


def evaluations_csv(records: Records) -> bytes:
    """The evaluation summary, anonymous (no badge or name): per question and scope (the activity,
    or a session under session scope) the number of responses, the mean and distribution of ratings
    or the count of each answer; then every comment given with its answer (e.g. the commercial-bias
    "no" and why), and every free-text answer."""
    import json

    from cme.service.evaluation_form import default_questions

    activity = records.activity
    faculty_badges = {b for s in activity.sessions for b in s.faculty}
    faculty = store.get_attendees(activity.activity_id, faculty_badges) if faculty_badges else {}
    questions = default_questions(activity, [s.session_id for s in activity.sessions], faculty)
    answers_by_scope: dict[str, list[dict[str, Any]]] = {}
    for item in records.evaluations:
        doc = json.loads(item["doc"])
        answers_by_scope.setdefault(str(item["scope"]), []).append(doc.get("answers") or {})
    scopes = sorted(answers_by_scope, key=lambda scope: (scope != "ACTIVITY", scope))
    summary: list[list[Any]] = []
    details: list[list[Any]] = []
    for question in questions:
        for scope in scopes:
            given = [a[question.id] for a in answers_by_scope[scope] if a.get(question.id) not in (None, "")]
            if not given:
                continue
            base = [scope, question.id, question.text, len(given)]
            if question.type == "scale":
                low, high = question.min or 1, question.max or 5
                values = [int(v) for v in given if str(v).lstrip("-").isdigit()]
                mean = f"{sum(values) / len(values):.2f}" if values else ""
                spread = " ".join(f"{n}:{values.count(n)}" for n in range(low, high + 1))
                summary.append(["rating", *base, mean, spread, "", ""])
            elif question.type in ("yes_no", "choice"):
                options = ["yes", "no"] if question.type == "yes_no" else list(question.options)
                spread = " ".join(f"{o}:{sum(1 for v in given if v == o)}" for o in options)
                summary.append(["answers", *base, "", spread, "", ""])
            else:
                summary.append(["free text", *base, "", "", "", ""])
                details.extend(["text", scope, question.id, question.text, "", "", "", str(v), ""] for v in given)
            if question.comment_required_when:
                for answers in answers_by_scope[scope]:
                    comment = answers.get(f"{question.id}_comment")
                    if comment:
                        answer = str(answers.get(question.id, ""))
                        details.append(["comment", scope, question.id, question.text, "", "", "", answer, comment])
    header = ["section", "scope", "question_id", "question", "responses", "mean", "distribution", "answer", "comment"]
    return _csv(header, summary + details)


def participants_csv(records: Records) -> bytes:
    """The participant list: everyone registered, what they attended and claimed (no contact data)."""
    attended: dict[str, list[SessionAttendance]] = {}
    for badge, row in records.attendance:
        if row.seconds > 0:
            attended.setdefault(badge, []).append(row)
    claims = {str(c["badge_id"]): c for c in records.claims}
    types = _types(records.activity)
    rows = []
    for person in sorted(records.people.values(), key=lambda a: (a.family_name.casefold(), a.badge_id)):
        sessions = attended.get(person.badge_id, [])
        claim = claims.get(person.badge_id)
        rows.append(
            [
                person.badge_id,
                person.family_name,
                person.given_name,
                person.degree,
                person.profession,
                len(sessions),
                sum(r.minutes for r in sessions),
                *[_amount(claim["totals"].get(t)) if claim else "" for t in types],
            ]
        )
    header = ["badge_id", "family_name", "given_name", "degree", "profession", "sessions_attended", "minutes", *types]
    return _csv(header, rows)


def summary_csv(records: Records) -> bytes:
    """The headline numbers of the post-event report, one `measure, value` row each."""
    from collections import Counter

    activity, people = records.activity, list(records.people.values())
    attended = {b for b, r in records.attendance if r.seconds > 0}
    claims, certificates, evaluations = records.claims, records.certificates, records.evaluations
    rows: list[list[Any]] = [
        ["activity", activity.title],
        ["dates", f"{activity.starts_on.isoformat()} to {activity.ends_on.isoformat()}"],
        ["sessions", len(activity.sessions)],
        ["registered", len(people)],
        ["attended at least one session", len(attended)],
        ["evaluations submitted", len(evaluations)],
        ["learners who claimed credit", len(claims)],
        ["certificates issued", len(certificates)],
        ["certificates revoked", sum(1 for c in certificates if c.get("status") == "revoked")],
    ]
    by_profession = Counter(p.profession for p in people)
    rows.extend([f"registered: {profession}", n] for profession, n in sorted(by_profession.items()))
    attending = Counter(p.profession for p in people if p.badge_id in attended)
    rows.extend([f"attended: {profession}", n] for profession, n in sorted(attending.items()))
    for credit_type in _types(activity):
        total = sum((Decimal(str(c["totals"].get(credit_type, 0))) for c in claims), Decimal(0))
        rows.append([f"credit claimed: {credit_type}", format_credit(total)])
    return _csv(["measure", "value"], rows)


POST_EVENT_README = """Post-event package for {title} ({starts} to {ends}), made {made}.

summary.csv       headline numbers: registrations, attendance, evaluations, claims and
                  certificates, by profession, and the credit claimed per credit type
participants.csv  everyone registered: sessions attended, minutes, credit claimed per type
attendance.csv    one row per attendee and session, with the sentence explaining the credit
claims.csv        one row per learner who claimed, with the certificate and its mail
evaluations.csv   the evaluation summary (anonymous), comments and free text

Files are UTF-8 CSV; no email address, birth date, board id or NPI is included.
"""


def post_event_zip(records: Records) -> bytes:
    """The package providers' contracts ask for within 30 days: counts, participants, evaluation
    summary and credit by type, plus the detailed reports."""
    import zipfile

    from cme import clock

    activity = records.activity
    made = clock.now()
    stamp = made.astimezone(activity.zone).timetuple()[:6]
    files = {
        "README.txt": POST_EVENT_README.format(
            title=activity.title,
            starts=activity.starts_on.isoformat(),
            ends=activity.ends_on.isoformat(),
            made=clock.iso(made),
        ).encode("utf-8"),
        "summary.csv": summary_csv(records),
        "participants.csv": participants_csv(records),
        "attendance.csv": attendance_csv(records),
        "claims.csv": claims_csv(records),
        "evaluations.csv": evaluations_csv(records),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(f"{activity.activity_id}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


# ---- accreditor batches -----------------------------------------------------------------------------
#
# Files the provider uploads to an accreditor as they are. A learner who cannot be reported (no consent,
# no id, no birth date...) is left out of the file and counted, per reason, in the response header
# `X-CME-Excluded`: an upload format has no room for a second section, and a learner must not vanish
# without a trace.

EXCLUDED_HEADER = "X-CME-Excluded"

#: Line breaks and tabs inside a cell (a name typed with a tab or pasted with a newline) would split a
#: row of a batch file: each run becomes one space.
_ROW_BREAKERS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")

#: Why a physician who claimed AMA PRA Category 1 credit is not in `pars-learners.txt` (learners).
PARS_REASONS = ("no_moc_consent", "no_board_id", "no_birth_date")
#: Why a pharmacist's ACPE claim is not in `cpe-monitor.csv`: learners for the first two; learner and
#: UAN for the others (`no_uan`: learner and session, as a session without a UAN has no group).
CPE_REASONS = ("no_eprofile_id", "no_birth_date", "no_uan", "uan_for_technicians", "partial_claim", "incomplete_uan")

PARS_HEADER = [
    "Activity ID", "Learner First Name", "Learner Last Name", "Board", "Board ID", "DOB (MMDD)",
    "Completion Date", "MOC Points",
]  # fmt: skip
CPE_HEADER = [
    "epid", "date_of_birth", "uan", "date_of_participation", "participant_type", "contact_hours",
    "last_name", "first_name",
]  # fmt: skip


@dataclass(frozen=True)
class Batch:
    """An accreditor upload, and how many learners (or rows) had to be left out of it, per reason."""

    body: bytes
    reasons: tuple[str, ...]
    left_out: Counter[str]

    def excluded_header(self) -> str:
        """`reason=count` for every reason the report knows, zeros included (one fixed, parseable form)."""
        return ", ".join(f"{reason}={self.left_out.get(reason, 0)}" for reason in self.reasons)


def _one_line(value: Any) -> str:
    return _ROW_BREAKERS.sub(" ", "" if value is None else str(value)).strip()


def _tab_file(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Tab-delimited UTF-8 with CRLF, quoted the way Excel's "Text (Tab delimited)" writes (a cell with a
    double quote in it is quoted): what an accreditor's upload of a saved template expects."""
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel-tab", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(_one_line(v)) for v in row])
    return out.getvalue().encode("utf-8")


def _us_date(moment: datetime, zone: ZoneInfo) -> str:
    """MM/DD/YYYY of a moment, on the activity's calendar (a late claim is on the local day)."""
    return moment.astimezone(zone).strftime("%m/%d/%Y")


def _claimed_by_session(claim: dict[str, Any]) -> dict[str, dict[str, Decimal]]:
    """Per credit type and session, what the learner attested to (the store keeps it as JSON text)."""
    raw = claim.get("claimed") or {}
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    return {t: {sid: Decimal(str(v)) for sid, v in by.items()} for t, by in parsed.items()}


def _completed_at(claim: dict[str, Any]) -> datetime:
    """When the learner completed: the submission (evaluation and attestation) the current claim was
    recorded from. A reissue records a new version later but keeps this moment, so a corrected name
    does not move the completion date."""
    return datetime.fromisoformat(str(claim.get("submitted_at") or claim["claimed_at"]))


def _pars_reason(person: Attendee, board_ids: Sequence[tuple[str, str]]) -> str | None:
    if not person.moc_consent:
        return "no_moc_consent"  # the boards get nothing without the learner's permission
    if not board_ids:
        return "no_board_id"
    if not person.birth_mmdd:
        return "no_birth_date"
    return None


def pars_learners_txt(records: Records) -> Batch:
    """ACCME PARS learner completions for MOC: one row per consenting physician and board the activity
    offers that they have an id for, with MOC points equal to the AMA PRA Category 1 credit claimed."""
    activity, people = records.activity, records.people
    boards: list[str] = list(activity.moc.boards) if activity.moc else []
    if not boards:
        raise Conflict("the activity offers no MOC board (moc.boards): there is nothing to report to PARS")
    if not activity.pars_activity_id:
        raise Conflict("the activity has no pars_activity_id: PARS cannot match the rows to an activity")
    left_out: Counter[str] = Counter()
    rows: list[tuple[tuple[str, str, str, int], list[Any]]] = []
    for claim in records.claims:
        person = people.get(str(claim["badge_id"]))
        points = Decimal(str(claim["totals"].get("AMA_PRA_1", 0)))
        if person is None or points <= 0:
            continue
        board_ids = [(b, i.strip()) for b in boards if (i := person.board_ids.get(b)) and i.strip()]
        reason = _pars_reason(person, board_ids)
        if reason:
            left_out[reason] += 1
            continue
        completed = _us_date(_completed_at(claim), activity.zone)
        for board, board_id in board_ids:
            key = (person.family_name.casefold(), person.given_name.casefold(), person.badge_id, boards.index(board))
            row = [
                activity.pars_activity_id,
                person.given_name,
                person.family_name,
                board,
                board_id,
                person.birth_mmdd,
                completed,
                format_credit(points),
            ]
            rows.append((key, row))
    rows.sort(key=lambda r: r[0])
    return Batch(_tab_file(PARS_HEADER, (r for _, r in rows)), PARS_REASONS, left_out)


def _uan_groups(activity: Activity) -> dict[str | None, list[Session]]:
    """The ACPE-designated sessions by UAN: a session's own, else the activity's (then the UAN covers
    every such session, and ACPE's no-partial-credit rule applies to the group); None: no UAN at all."""
    groups: dict[str | None, list[Session]] = {}
    for session in sorted(activity.sessions, key=lambda s: (s.start, s.session_id)):
        if session.credits.get("ACPE", Decimal(0)) > 0:
            uan = (session.acpe_uan or "").strip() or (activity.acpe_uan or "").strip() or None
            groups.setdefault(uan, []).append(session)
    return groups


def _uan_outcome(sessions: list[Session], claimed: dict[str, Decimal]) -> str | None:
    """None when every session of the UAN was claimed whole, else why the UAN cannot be reported."""
    amounts = [claimed.get(s.session_id, Decimal(0)) for s in sessions]
    if any(0 < amount < s.credits["ACPE"] for amount, s in zip(amounts, sessions, strict=True)):
        return "partial_claim"
    if any(amount == 0 for amount in amounts):
        return "incomplete_uan"
    return None


def cpe_monitor_csv(records: Records) -> Batch:
    """NABP CPE Monitor batch: one row per pharmacist and UAN they earned whole (ACPE gives no partial
    credit for a live activity), with the UAN's contact hours and the local date of its last session."""
    activity, people = records.activity, records.people
    if "ACPE" not in activity.credit_types:
        raise Conflict("the activity offers no ACPE credit: there is nothing to report to CPE Monitor")
    groups = _uan_groups(activity)
    left_out: Counter[str] = Counter()
    rows: list[tuple[tuple[str, str, str, int, str], list[Any]]] = []
    for claim in records.claims:
        person = people.get(str(claim["badge_id"]))
        claimed = {sid: v for sid, v in _claimed_by_session(claim).get("ACPE", {}).items() if v > 0}
        if person is None or not claimed:
            continue
        if not person.nabp_eprofile_id:
            left_out["no_eprofile_id"] += 1
            continue
        if not person.birth_mmdd:
            left_out["no_birth_date"] += 1
            continue
        for uan, sessions in groups.items():
            taken = [s for s in sessions if s.session_id in claimed]
            if not taken:
                continue
            if uan is None:
                left_out["no_uan"] += len(taken)
                continue
            # Every pharmacist row is participant type P: the roster has no technician profession (and
            # ACPE eligibility is the pharmacist's), so a UAN meant for technicians only cannot take them.
            if uan.upper().endswith("-T"):
                left_out["uan_for_technicians"] += 1
                continue
            reason = _uan_outcome(sessions, claimed)
            if reason:
                left_out[reason] += 1
                continue
            hours = sum((s.credits["ACPE"] for s in sessions), Decimal(0))
            last = sessions[-1]  # the live date of a UAN spanning days: the day it was completed
            key = (person.family_name.casefold(), person.given_name.casefold(), person.badge_id, last.start, uan)
            row = [
                person.nabp_eprofile_id,
                person.birth_mmdd,
                uan,
                _us_date(last.starts_at, activity.zone),
                "P",
                format_credit(hours),
                person.family_name,
                person.given_name,
            ]
            rows.append((key, [_one_line(v) for v in row]))
    rows.sort(key=lambda r: r[0])
    return Batch(_csv(CPE_HEADER, (r for _, r in rows)), CPE_REASONS, left_out)


@dataclass(frozen=True)
class ReportFile:
    """A built report: its content type, the file, and headers that go with it (`X-CME-Excluded`)."""

    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


REPORTS: dict[str, tuple[str, Callable[[Records], bytes | Batch]]] = {
    "attendance.csv": ("text/csv; charset=utf-8", attendance_csv),
    "claims.csv": ("text/csv; charset=utf-8", claims_csv),
    "evaluations.csv": ("text/csv; charset=utf-8", evaluations_csv),
    "pars-learners.txt": ("text/tab-separated-values; charset=utf-8", pars_learners_txt),
    "cpe-monitor.csv": ("text/csv; charset=utf-8", cpe_monitor_csv),
    "post-event.zip": ("application/zip", post_event_zip),
}


def report(activity: Activity, name: str) -> ReportFile:
    """The report `name` of the activity; 404 naming the reports there are, 409 when the activity lacks
    what an accreditor batch needs (the MOC boards and PARS id, or ACPE credit)."""
    if name not in REPORTS:
        raise NotFound(f"no report {name!r}; reports: {', '.join(REPORTS)}")
    content_type, build = REPORTS[name]
    built = build(Records(activity))
    if isinstance(built, Batch):
        return ReportFile(content_type, built.body, {EXCLUDED_HEADER: built.excluded_header()})
    return ReportFile(content_type, built)
