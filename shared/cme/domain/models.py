"""Domain models: activity and agenda, attendee, scan, attendance, evaluation, claim, certificate.

Pure pydantic; no I/O. Validation errors name the field so the API can answer 422 with it.
Credit amounts are `Decimal` on the 0.25 grid; arithmetic inside the engine is on integer quarters.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

CreditType = Literal["AMA_PRA_1", "ANCC", "ACPE", "AAPA_1", "IPCE", "PARTICIPATION"]
CREDIT_TYPES: tuple[str, ...] = ("AMA_PRA_1", "ANCC", "ACPE", "AAPA_1", "IPCE", "PARTICIPATION")
#: Types that take their value from the session's AMA_PRA_1 computation (credit-rules.md §3.5).
DERIVED_TYPES: tuple[str, ...] = ("AAPA_1", "PARTICIPATION")
#: What each credit type is called, singular and plural (certificates, mail, explanations).
CREDIT_NAMES: dict[str, tuple[str, str]] = {
    "AMA_PRA_1": ("AMA PRA Category 1 Credit", "AMA PRA Category 1 Credits"),
    "ANCC": ("ANCC contact hour", "ANCC contact hours"),
    "ACPE": ("ACPE contact hour", "ACPE contact hours"),
    "AAPA_1": ("AAPA Category 1 CME credit", "AAPA Category 1 CME credits"),
    "IPCE": ("IPCE credit", "IPCE credits"),
    "PARTICIPATION": ("hour of participation", "hours of participation"),
}
#: Types earned whole or not at all (credit-rules.md §3.4).
ALL_OR_NOTHING_TYPES: tuple[str, ...] = ("ACPE",)
#: Types designated per session (everything but the derived ones).
DESIGNATED_TYPES: tuple[str, ...] = ("AMA_PRA_1", "ANCC", "ACPE", "IPCE")

Profession = Literal["physician", "nurse", "pharmacist", "physician_assistant", "other"]
Rounding = Literal["nearest_quarter", "down_quarter"]
Direction = Literal["entry", "exit"]

Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def _one_line(value: str) -> str:
    """A name is printed on certificates, in mail headers and in report rows: no control characters
    and no line breaks (a pasted CR/LF would split a mail header or a report row)."""
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
        raise ValueError("must be one line of text without control characters")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_one_line)]

QUARTER = Decimal("0.25")


def is_quarter(value: Decimal) -> bool:
    return value >= 0 and (value * 4) == (value * 4).to_integral_value()


def to_quarters(value: Decimal) -> int:
    """An amount on the 0.25 grid as a whole number of quarters."""
    return int(value * 4)


def from_quarters(quarters: int) -> Decimal:
    """Whole quarters as a credit amount printed with at most two decimals (1.25, 1.5, 2)."""
    amount = Decimal(quarters) / 4
    # normalize() alone would print 10 as "1E+1"; keep whole numbers plain.
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount.normalize()


def epoch(moment: datetime) -> int:
    """Whole seconds since the epoch (the engine works on integers only)."""
    return int(moment.timestamp() // 1)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class Break(Model):
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Break:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def _check_designations(credits: dict[str, Decimal]) -> dict[str, Decimal]:
    for credit_type, amount in credits.items():
        if not is_quarter(amount):
            raise ValueError(f"{credit_type}: {amount} is not on the 0.25 grid")
    return credits


class Session(Model):
    session_id: Id
    title: Text
    room: Id
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    credits: dict[CreditType, Decimal] = Field(default_factory=dict)
    breaks: list[Break] = Field(default_factory=list)
    faculty: list[Id] = Field(default_factory=list)
    min_attendance_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    acpe_uan: str | None = None

    _designations = field_validator("credits")(_check_designations)

    @field_validator("credits")
    @classmethod
    def _designated_only(cls, credits: dict[str, Decimal]) -> dict[str, Decimal]:
        for credit_type in credits:
            if credit_type in DERIVED_TYPES:
                raise ValueError(f"{credit_type} is derived from AMA_PRA_1 and takes no designation of its own")
        return credits

    @model_validator(mode="after")
    def _agenda_rules(self) -> Session:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        ordered = sorted(self.breaks, key=lambda b: b.starts_at)
        for index, brk in enumerate(ordered):
            if brk.starts_at < self.starts_at or brk.ends_at > self.ends_at:
                raise ValueError(f"break {brk.starts_at.isoformat()} is outside the session")
            if index and brk.starts_at < ordered[index - 1].ends_at:
                raise ValueError(f"break {brk.starts_at.isoformat()} overlaps another break")
        allowed = (self.credit_seconds * 4 + 1800) // 3600
        for credit_type, amount in self.credits.items():
            if to_quarters(amount) > allowed:
                raise ValueError(
                    f"credits.{credit_type}: {amount} is above the {allowed / 4:g} the session's "
                    f"{self.credit_seconds // 60} credit minutes allow"
                )
        return self

    # Cached: the engine reads these for every attendee of every session (an agenda is not edited in
    # place; a replacement is a new model).
    @cached_property
    def start(self) -> int:
        return epoch(self.starts_at)

    @cached_property
    def end(self) -> int:
        return epoch(self.ends_at)

    @cached_property
    def break_intervals(self) -> list[tuple[int, int]]:
        return sorted((epoch(b.starts_at), epoch(b.ends_at)) for b in self.breaks)

    @cached_property
    def credit_seconds(self) -> int:
        """Session length less its breaks (credit-rules.md §2)."""
        return (self.end - self.start) - sum(e - s for s, e in self.break_intervals)


class Policy(Model):
    rounding: Rounding = "nearest_quarter"
    rounding_by_type: dict[CreditType, Rounding] = Field(default_factory=lambda: {"ANCC": "down_quarter"})  # type: ignore[arg-type]
    missing_exit: Literal["session_end", "no_credit"] = "session_end"
    lookahead_minutes: Annotated[int, Field(ge=0, le=240)] = 30
    min_attendance_percent: Annotated[int, Field(ge=0, le=100)] = 0
    full_credit_percent: Annotated[int, Field(ge=1, le=100)] = 90
    evaluation_scope: Literal["activity", "session"] = "activity"

    def rounding_for(self, credit_type: str) -> Rounding:
        return self.rounding_by_type.get(credit_type, self.rounding)  # type: ignore[call-overload]


class CreditOffer(Model):
    max: Decimal

    _grid = field_validator("max")(lambda v: _check_designations({"max": v})["max"])


class Provider(Model):
    name: Name
    joint_provider: Name | None = None
    address: Text | None = None
    logo_url: str | None = None


class Branding(Model):
    """How the provider's certificates look: an accent colour and the signer printed under the
    signature image (the images themselves are uploaded separately: `PUT .../branding/{logo|signature}`)."""

    accent_color: Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")] | None = None
    signer_name: Name | None = None
    signer_title: Text | None = None

    @property
    def accent_rgb(self) -> tuple[int, int, int] | None:
        if self.accent_color is None:
            return None
        value = self.accent_color.lstrip("#")
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class Moc(Model):
    boards: list[Literal["ABIM", "ABP", "ABA", "ABS", "ABO", "ABPath"]] = Field(default_factory=list)


class EvaluationQuestion(Model):
    """One question of an evaluation (`GET /me/evaluation-form`); an activity may bring its own set."""

    id: Id
    text: Text
    type: Literal["scale", "yes_no", "choice", "text"]
    required: bool = True
    options: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20
    )
    min: int | None = Field(default=None, ge=0, le=10)
    max: int | None = Field(default=None, ge=1, le=10)
    comment_required_when: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationQuestion:
        if self.type == "scale" and (self.min if self.min is not None else 1) >= (self.max or 5):
            raise ValueError("max: must be above min")
        if self.type == "choice" and len(self.options) < 2:
            raise ValueError("options: a choice needs at least two options")
        if self.comment_required_when is not None:
            allowed = ["yes", "no"] if self.type == "yes_no" else self.options if self.type == "choice" else []
            if self.comment_required_when not in allowed:
                raise ValueError(f"comment_required_when: must be one of {allowed} for a {self.type} question")
        return self


class Activity(Model):
    """An accredited activity and its agenda, as `PUT /activities/{id}` takes it."""

    activity_id: Id
    title: Text
    format: Literal["live", "enduring"] = "live"
    provider: Provider
    location: Text
    timezone: str = "UTC"
    starts_on: date
    ends_on: date
    credit_types: dict[CreditType, CreditOffer]
    policy: Policy = Field(default_factory=Policy)
    sessions: list[Session] = Field(default_factory=list, max_length=1000)
    moc: Moc | None = None
    pars_activity_id: str | None = None
    acpe_uan: str | None = None
    #: The activity's own evaluation questions; None: the ACCME-style default set. Faculty ratings are
    #: added to either.
    evaluation_questions: list[EvaluationQuestion] | None = Field(default=None, min_length=1, max_length=40)
    branding: Branding = Field(default_factory=Branding)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("credit_types")
    @classmethod
    def _offered_types(cls, offers: dict[str, CreditOffer]) -> dict[str, CreditOffer]:
        for credit_type in offers:
            if credit_type in DERIVED_TYPES:
                raise ValueError(f"{credit_type} is derived from AMA_PRA_1 and is not offered on its own")
        return offers

    @model_validator(mode="after")
    def _agenda(self) -> Activity:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        seen: set[str] = set()
        zone = ZoneInfo(self.timezone)
        for index, session in enumerate(self.sessions):
            if session.session_id in seen:
                raise ValueError(f"sessions[{index}].session_id: {session.session_id!r} is used twice")
            seen.add(session.session_id)
            for credit_type in session.credits:
                if credit_type not in self.credit_types:
                    raise ValueError(
                        f"sessions[{index}].credits.{credit_type}: the activity does not offer {credit_type}"
                    )
            local_start = session.starts_at.astimezone(zone).date()
            local_end = session.ends_at.astimezone(zone).date()
            if local_start < self.starts_on or local_end > self.ends_on:
                raise ValueError(f"sessions[{index}]: outside the activity's dates")
        ids: set[str] = set()
        for index, question in enumerate(self.evaluation_questions or []):
            if question.id in ids:
                raise ValueError(f"evaluation_questions[{index}].id: {question.id!r} is used twice")
            if question.id.startswith("faculty_") or question.id.endswith("_comment"):
                raise ValueError(f"evaluation_questions[{index}].id: faculty_… and …_comment are reserved")
            ids.add(question.id)
        return self

    def session(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.session_id == session_id), None)

    @property
    def rooms(self) -> set[str]:
        return {s.room for s in self.sessions}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def offered_types(self) -> list[str]:
        """Offered types plus the derived ones when AMA_PRA_1 is offered, in canonical order."""
        offered = set(self.credit_types)
        if "AMA_PRA_1" in offered:
            offered |= set(DERIVED_TYPES)  # type: ignore[arg-type]
        return [t for t in CREDIT_TYPES if t in offered]

    def maximum(self, credit_type: str) -> Decimal:
        source = "AMA_PRA_1" if credit_type in DERIVED_TYPES else credit_type
        return self.credit_types[source].max  # type: ignore[index]


MMDD = re.compile(r"^(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Attendee(Model):
    """One roster row. Personal fields never reach a log line."""

    badge_id: Id
    given_name: Name
    family_name: Name
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
    profession: Profession
    degree: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(_one_line)] = ""
    npi: Annotated[str, StringConstraints(pattern=r"^\d{10}$")] | None = None
    board_ids: dict[str, Annotated[str, StringConstraints(max_length=40)]] = Field(default_factory=dict)
    birth_mmdd: str | None = None
    nabp_eprofile_id: Annotated[str, StringConstraints(pattern=r"^\d{1,10}$")] | None = None
    moc_consent: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError("not an email address")
        return value

    @field_validator("birth_mmdd")
    @classmethod
    def _mmdd(cls, value: str | None) -> str | None:
        if value is not None and not MMDD.match(value):
            raise ValueError("birth_mmdd must be MMDD")
        return value

    @property
    def display_name(self) -> str:
        degree = f", {self.degree}" if self.degree else ""
        return f"{self.given_name} {self.family_name}{degree}"

    @property
    def greeting_name(self) -> str:
        prefix = "Dr. " if self.profession == "physician" else ""
        return f"{prefix}{self.given_name} {self.family_name}"


class Scan(Model):
    """A badge scan as a scanner posts it (contract.md `POST /scans`)."""

    scan_id: Id
    badge_id: Id
    room: Id | None = None
    session_id: Id | None = None
    scanned_at: AwareDatetime
    direction: Direction = "entry"
    device_id: Annotated[str, StringConstraints(max_length=128)] | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Scan:
        if (self.room is None) == (self.session_id is None):
            raise ValueError("exactly one of room and session_id is required")
        return self


class DoorScan(Model):
    """A stored, resolved scan: what the presence engine reads."""

    scan_id: str
    room: str
    at: int  # epoch seconds, truncated (the device's clock)
    direction: Direction = "entry"


class SessionAttendance(Model):
    """One attendee's finalized attendance and credit in one session."""

    session_id: str
    seconds: int
    credit_seconds: int
    faculty: bool = False
    credits: dict[str, Decimal] = Field(default_factory=dict)
    #: The sentence for every credit type of the session (reports, the organizer).
    explanation: str = ""
    #: How the seconds were counted, and the types the designation capped: a learner's sentence is
    #: built from these with their own credit types (`credit.explanation_for`).
    basis: str = ""
    capped: list[str] = Field(default_factory=list)

    @property
    def minutes(self) -> int:
        return self.seconds // 60


class EvaluationSubmission(Model):
    """`POST /evaluations` body."""

    session_id: Id | None = None
    answers: dict[str, Any] = Field(default_factory=dict)
    claims: dict[CreditType, dict[Id, Decimal]] | None = None
    attest: bool = False


class Claim(Model):
    """What a learner attested to, per credit type and session, and its certificate version."""

    activity_id: str
    badge_id: str
    version: int
    evaluation_id: str
    claimed: dict[str, dict[str, Decimal]]
    totals: dict[str, Decimal]
    claimed_at: datetime


class Certificate(Model):
    certificate_id: str
    version: int
    activity_id: str
    badge_id: str
    s3_key: str
    sha256: str
    issued_at: datetime
    credits: dict[str, Decimal]
    kind: Literal["physician", "nursing", "participation"]
    status: Literal["valid", "superseded", "revoked"] = "valid"
