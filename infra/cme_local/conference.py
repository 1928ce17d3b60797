"""A simulated two-day conference: agenda, roster, door scans, device uploads and evaluations.

Pure data, deterministic by seed: the same seed always gives the same conference (no set
iteration, no clock, no hashing). `demo.py` replays it against the local stack over HTTP;
tests use it as a realistic data set. Nothing here prints personal data: the dataclasses'
reprs and `describe()` show counts only.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TIMEZONE = "America/Chicago"
ZONE = ZoneInfo(TIMEZONE)
DAY_1 = date(2027, 10, 14)
DAY_2 = date(2027, 10, 15)
DAYS = (DAY_1, DAY_2)

HALL_A = "Hall-A"
ROOMS = (HALL_A, "Room-201", "Room-202", "Room-203")
#: Rooms whose doors scan people out as well as in (the others scan entries only).
EXIT_SCANNED_ROOMS = (HALL_A,)
ENTRY_DEVICES: dict[str, tuple[str, ...]] = {
    HALL_A: ("door-hall-a-1", "door-hall-a-2"),
    "Room-201": ("door-room-201-1",),
    "Room-202": ("door-room-202-1",),
    "Room-203": ("door-room-203-1",),
}
EXIT_DEVICES: dict[str, str] = {HALL_A: "door-hall-a-exit-1"}
#: This device loses its network on day 1 and uploads the whole day's backlog in the evening.
OFFLINE_DEVICE = "door-room-202-1"
OFFLINE_DAY = DAY_1
#: On day 2 this device is set up per session: its scans name the session instead of the room.
SESSION_MODE_DEVICE = ("door-room-203-1", DAY_2)
UPLOAD_INTERVAL = timedelta(minutes=5)

PROFESSION_SHARES: tuple[tuple[str, int], ...] = (
    ("physician", 60),
    ("nurse", 20),
    ("pharmacist", 10),
    ("physician_assistant", 7),
    ("other", 3),
)
DEGREES: dict[str, tuple[tuple[str, int], ...]] = {
    "physician": (("MD", 72), ("DO", 21), ("MD, PhD", 4), ("MBBS", 3)),
    "nurse": (("RN", 35), ("BSN, RN", 30), ("MSN, APRN", 15), ("DNP, FNP-BC", 10), ("NP", 10)),
    "pharmacist": (("PharmD", 82), ("RPh", 10), ("PharmD, BCPS", 8)),
    "physician_assistant": (("PA-C", 100),),
    "other": (("PhD", 25), ("MPH", 25), ("RD", 20), ("LCSW", 15), ("", 15)),
}
BOARDS: tuple[tuple[str, int], ...] = (("ABIM", 50), ("ABFM", 30), ("ABP", 10), ("ABS", 5), ("ABA", 5))
EMAIL_DOMAINS = ("example.org", "mail.example.org", "health.example.org", "med.example.org")

#: Name pools: (weight, given names, family names) per culture, so a name's parts go together.
# fmt: off
NAME_POOLS: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        24,
        ("John", "Emily", "Michael", "Sarah", "James", "Jessica", "David", "Ashley", "Robert", "Megan",
         "Christopher", "Lauren", "Mary-Kate", "Tyler", "Hannah", "Brian"),
        ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas",
         "Moore", "Smith-Jones", "O'Connor", "MacDonald", "Van Buren"),
    ),
    (
        12,
        ("Ana", "José", "María", "Lucía", "Alejandro", "Sofía", "Andrés", "Camila", "Martín", "Valentina",
         "Joaquín", "Inés", "Raúl", "María del Carmen"),
        ("Pérez", "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Sánchez",
         "Ramírez", "Muñoz", "Jiménez", "Peña", "Ibáñez", "de la Cruz",
         "Fernández de Córdoba y Álvarez de Toledo"),
    ),
    (
        9,
        ("Priya", "Arjun", "Lakshmi", "Aditi", "Rohan", "Ananya", "Vikram", "Deepa", "Sanjay"),
        ("Raghunathan", "Venkataraman", "Subramanian", "Chatterjee", "Deshpande", "Patel", "Iyer",
         "Reddy", "Bhattacharya"),
    ),
    (
        6,
        ("Wei", "Xiaoling", "Jun", "Mei", "Hao", "Yan", "Zhiwei", "Lìhuá"),
        ("Zhang", "Chen", "Wang", "Li", "Liu", "Huang", "Zhōu", "Xú"),
    ),
    (2, ("芳", "伟", "秀英", "静", "磊"), ("王", "李", "张", "刘", "陈")),
    (
        4,
        ("Thị Hương", "Văn Minh", "Thị Lan", "Đức Anh", "Ngọc Ánh", "Quang Huy", "Thu Trang"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng"),
    ),
    (
        3,
        ("Łukasz", "Małgorzata", "Wojciech", "Agnieszka", "Paweł", "Zofia", "Jędrzej"),
        ("Żółć", "Wiśniewski", "Kowalczyk", "Wróbel", "Szczęsny", "Dąbrowska", "Łęcka"),
    ),
    (2, ("Jiří", "Kateřina", "Přemysl", "Tereza"), ("Dvořák", "Novotná", "Černý", "Růžička")),
    (
        3,
        ("Jürgen", "Björn", "Sören", "Åsa", "Øystein", "Jörg", "Þórunn", "Sigurður"),
        ("Müller", "Schäfer", "Groß", "Øvergård", "Åkesson", "Guðmundsdóttir", "Þórsson"),
    ),
    (3, ("Çağla", "Gökhan", "Şule", "İlker", "Ömer", "Ayşe"),
        ("Yılmaz", "Öztürk", "Çelik", "Şahin", "Doğan")),
    (
        4,
        ("Françoise", "Hélène", "Benoît", "Zoë", "Noël", "Anaïs", "Geneviève"),
        ("Lefèvre", "Côté", "Bélanger", "Gagné", "Lévesque", "Thériault"),
    ),
    (
        4,
        ("Chiamaka", "Oluwaseun", "Kwame", "Ngozi", "Thandiwe", "Adébáyọ̀", "Amara"),
        ("Okonkwo", "Adébáyọ̀", "Mensah", "Eze", "Nkosi", "Oyelaran-Oyeyinka"),
    ),
    (
        4,
        ("Mohammed", "Fatima Zahra", "Layla", "Yousef", "Omar", "Nour"),
        ("Al-Farsi", "El Idrissi", "Haddad", "Abu-Khalil", "Khoury", "Nasser"),
    ),
    (1, ("فاطمة", "محمد", "ليلى"), ("الحسيني", "العلي", "حداد")),
    (2, ("Siobhán", "Seán", "Aoife", "Niamh", "Pádraig"),
        ("O'Brien", "Ó Súilleabháin", "Ní Bhriain", "Byrne")),
    (2, ("Σοφία", "Γιώργος", "Ελένη", "Δημήτρης"), ("Παπαδοπούλου", "Οικονόμου", "Γεωργίου", "Νικολάου")),
    (2, ("Ольга", "Дмитрий", "Анна", "Сергій"), ("Коваленко", "Иванова", "Шевченко", "Бондаренко")),
    (2, ("Haruto", "Yui", "Kenji", "Sakura", "陽菜", "健一"), ("Yamamoto", "Tanaka", "Satō", "佐藤", "鈴木")),
    (2, ("Ji-woo", "Min-jun", "Seo-yeon", "민준", "서연"), ("Park", "Kim", "Choi", "김", "이")),
    (1, ("Kaʻiulani", "Keoni", "Leilani"), ("Akana", "Kahananui", "Kealoha")),
)
# fmt: on
#: Letters that Unicode does not decompose into ASCII (for email addresses only).
ASCII_FALLBACK = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "ı": "i",
        "ʻ": "",
    }
)

PRACTICE_CHANGES = (
    "Start the sepsis bundle earlier and reassess lactate at two hours.",
    "Review every patient on long-term opioids for a tapering plan.",
    "Use point-of-care ultrasound before paracentesis.",
    "Switch eligible patients with atrial fibrillation to a DOAC.",
    "Screen for social needs at every annual visit.",
    "Add an SGLT2 inhibitor for patients with heart failure and CKD.",
    "Offer CGM to more of my patients with type 2 diabetes on insulin.",
    "Check thyroid nodule ultrasound features against TI-RADS before referring.",
    "Update our clinic's adult vaccine reminders for 2027–2028.",
    "Document goals-of-care conversations in the problem list.",
)
BIAS_COMMENTS = (
    "One speaker showed only one manufacturer's device.",
    "Brand names were used throughout the anticoagulation talk.",
    "The workshop felt like a product demonstration.",
)


@dataclass(frozen=True)
class _SessionSpec:
    session_id: str
    day: date
    room: str
    start: str  # local "HH:MM"
    end: str
    title: str
    block: str  # sessions of one block run at the same time in different rooms
    breaks: tuple[tuple[str, str], ...] = ()
    ancc: bool = True
    ipce: bool = False
    acpe_topic: str | None = None  # ACPE topic designator; a UAN is made from it
    faculty: int = 1
    min_attendance_percent: int | None = None


# fmt: off
_S = _SessionSpec
AGENDA: tuple[_SessionSpec, ...] = (
    # Day 1: opening plenary, four rooms in the morning, lunch 12:00-13:15, four rooms, closing plenary.
    _S("S01", DAY_1, HALL_A, "08:00", "09:30", "Opening plenary: sepsis and septic shock, the 2027 update",
       "D1-P1", ipce=True),
    _S("S02", DAY_1, HALL_A, "09:45", "12:00", "Hypertension management across the lifespan (panel)",
       "D1-AM", breaks=(("10:45", "11:00"),), ipce=True, faculty=2),
    _S("S03", DAY_1, "Room-201", "09:45", "11:15", "Antimicrobial stewardship in the outpatient setting",
       "D1-AM", acpe_topic="01", faculty=2),
    _S("S04", DAY_1, "Room-202", "09:45", "10:45", "Point-of-care ultrasound: the basics",
       "D1-AM", ancc=False),
    _S("S05", DAY_1, "Room-202", "11:00", "12:00", "Dermatology pearls for primary care", "D1-AM"),
    _S("S06", DAY_1, "Room-203", "10:00", "12:00", "Diabetes technology workshop: CGM and pumps",
       "D1-AM", faculty=2),
    _S("S07", DAY_1, HALL_A, "13:15", "15:15", "Heart failure: guideline-directed medical therapy",
       "D1-PM", breaks=(("14:15", "14:30"),), ipce=True),
    _S("S08", DAY_1, "Room-201", "13:15", "14:45", "Safe opioid prescribing and tapering",
       "D1-PM", acpe_topic="08", faculty=2),
    _S("S09", DAY_1, "Room-202", "13:15", "14:15", "Pediatric asthma: stepwise therapy", "D1-PM"),
    _S("S10", DAY_1, "Room-202", "14:30", "15:30", "Sleep medicine update", "D1-PM"),
    _S("S11", DAY_1, "Room-203", "13:30", "15:00", "Clinical ethics: case discussions", "D1-PM"),
    _S("S12", DAY_1, HALL_A, "15:45", "17:00", "Closing plenary: AI in clinical decision making",
       "D1-P2", ipce=True),
    # Day 2: keynote, four rooms, lunch 11:45-13:00, three rooms; done by 15:00.
    _S("S13", DAY_2, HALL_A, "08:00", "09:00", "Keynote: health equity and the social determinants",
       "D2-P1", ipce=True),
    _S("S14", DAY_2, HALL_A, "09:15", "11:45", "Cardiology year in review",
       "D2-AM", breaks=(("10:15", "10:30"),), ipce=True, faculty=2),
    _S("S15", DAY_2, "Room-201", "09:15", "10:45", "Anticoagulation: DOACs in everyday practice",
       "D2-AM", acpe_topic="01"),
    _S("S16", DAY_2, "Room-202", "09:15", "10:15", "Thyroid nodules: when to biopsy", "D2-AM", ancc=False),
    _S("S17", DAY_2, "Room-202", "10:30", "11:45", "Women's health update", "D2-AM"),
    _S("S18", DAY_2, "Room-203", "09:30", "11:30", "Hands-on: suturing and minor procedures",
       "D2-AM", ancc=False, faculty=2, min_attendance_percent=75),
    _S("S19", DAY_2, HALL_A, "13:00", "15:00", "Mental health in primary care",
       "D2-PM", breaks=(("14:00", "14:15"),), ipce=True),
    _S("S20", DAY_2, "Room-201", "13:00", "14:30", "Vaccines 2027–2028: what is new",
       "D2-PM", acpe_topic="06"),
    _S("S21", DAY_2, "Room-203", "13:00", "14:00", "Chronic kidney disease in primary care", "D2-PM"),
)
# fmt: on
#: Rough pull of each room (Hall-A seats the most).
ROOM_WEIGHTS = {HALL_A: 3.0, "Room-201": 2.0, "Room-202": 1.5, "Room-203": 1.2}


@dataclass(frozen=True, slots=True)
class ScanBatch:
    """What one door device uploads at one moment (`POST /scans`, split by the driver into ≤ 500)."""

    upload_at: datetime
    device_id: str
    scans: list[dict[str, Any]] = field(repr=False)
    backlog: bool = False  # an offline device's late upload

    def __repr__(self) -> str:
        kind = ", backlog" if self.backlog else ""
        return f"ScanBatch({self.upload_at.isoformat()}, {self.device_id}, {len(self.scans)} scans{kind})"


@dataclass(frozen=True, slots=True)
class ClaimAdjustment:
    """A learner claiming less than claimable: `sessions` sessions lowered by `reduce_by` each.

    The amounts depend on the credit computed by the stack, so the driver turns this into a
    `claims` body from `GET /me` at submit time.
    """

    reduce_by: str = "0.25"
    sessions: int = 1


@dataclass(frozen=True, slots=True)
class EvaluationPlan:
    """One learner's evaluation: when it is submitted, the intended answers, and the claim.

    `answers` is keyed by the customary question ids (objectives_met, practice_change,
    commitment_to_change, commercial_bias (+ `_comment` when "no"), overall_quality,
    faculty_effectiveness); the driver maps them onto the form the stack serves.
    `claims` None claims all claimable credit.
    """

    badge_id: str
    submit_at: datetime
    answers: dict[str, Any] = field(repr=False)
    claims: ClaimAdjustment | None = None


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One step of the replay, in time order: a device upload, a session end or an evaluation."""

    at: datetime
    kind: str  # "upload" | "session_end" | "evaluation"
    payload: Any = field(repr=False)


_KIND_ORDER = {"session_end": 0, "upload": 1, "evaluation": 2}


@dataclass
class Conference:
    seed: int
    activity_id: str
    activity: dict[str, Any] = field(repr=False)
    roster: list[dict[str, Any]] = field(repr=False)
    scan_batches: list[ScanBatch] = field(repr=False)
    evaluations: list[EvaluationPlan] = field(repr=False)
    timeline_start: datetime
    timeline_end: datetime
    offline_device: str = OFFLINE_DEVICE
    unknown_badges: list[str] = field(default_factory=list, repr=False)
    faculty: list[str] = field(default_factory=list, repr=False)

    @property
    def expected_session_count(self) -> int:
        return len(self.activity["sessions"])

    @property
    def scans(self) -> list[dict[str, Any]]:
        return [scan for batch in self.scan_batches for scan in batch.scans]

    def session_ends(self) -> list[tuple[datetime, str]]:
        """(ends_at, session_id) in the order the sessions end."""
        ends = [(datetime.fromisoformat(s["ends_at"]), s["session_id"]) for s in self.activity["sessions"]]
        return sorted(ends)

    def timeline(self) -> list[TimelineEvent]:
        """Uploads, session ends and evaluations merged in time order (ties: ends, uploads, evaluations)."""
        events = [TimelineEvent(at, "session_end", sid) for at, sid in self.session_ends()]
        events += [TimelineEvent(b.upload_at, "upload", b) for b in self.scan_batches]
        events += [TimelineEvent(p.submit_at, "evaluation", p) for p in self.evaluations]
        return sorted(events, key=lambda e: (e.at, _KIND_ORDER[e.kind]))

    def describe(self) -> dict[str, Any]:
        """Counts only (no names, emails or board ids): safe to print."""
        sessions = self.activity["sessions"]
        professions: dict[str, int] = {}
        for row in self.roster:
            professions[row["profession"]] = professions.get(row["profession"], 0) + 1
        scans = self.scans
        unknown = set(self.unknown_badges)
        directions: dict[str, int] = {}
        for scan in scans:
            directions[scan["direction"]] = directions.get(scan["direction"], 0) + 1
        return {
            "seed": self.seed,
            "activity_id": self.activity_id,
            "days": [d.isoformat() for d in DAYS],
            "sessions": len(sessions),
            "rooms": sorted({s["room"] for s in sessions}),
            "credit_types": {k: v["max"] for k, v in self.activity["credit_types"].items()},
            "attendees": len(self.roster),
            "professions": dict(sorted(professions.items())),
            "faculty": len(self.faculty),
            "scans": len(scans),
            "scans_by_direction": dict(sorted(directions.items())),
            "unknown_badge_scans": sum(1 for s in scans if s["badge_id"] in unknown),
            "scan_batches": len(self.scan_batches),
            "devices": sorted({b.device_id for b in self.scan_batches}),
            "offline_device": self.offline_device,
            "evaluations": len(self.evaluations),
            "lowered_claims": sum(1 for p in self.evaluations if p.claims is not None),
            "timeline": [self.timeline_start.isoformat(), self.timeline_end.isoformat()],
            "fingerprint": self.fingerprint(),
        }

    def fingerprint(self) -> str:
        """SHA-256 of the whole data set, to compare runs and processes."""
        data = {
            "activity": self.activity,
            "roster": self.roster,
            "batches": [[b.upload_at.isoformat(), b.device_id, b.backlog, b.scans] for b in self.scan_batches],
            "evaluations": [
                [
                    p.badge_id,
                    p.submit_at.isoformat(),
                    p.answers,
                    None if p.claims is None else [p.claims.reduce_by, p.claims.sessions],
                ]
                for p in self.evaluations
            ],
        }
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Agenda


def _at(day: date, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime.combine(day, time(int(hours), int(minutes)), tzinfo=ZONE)


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZONE).replace(microsecond=0).isoformat()


def _quarters_for(minutes: int) -> int:
    """The largest designation a session of this many credit minutes may carry, in quarters."""
    return (minutes * 60 * 4 + 1800) // 3600


def _credit_minutes(spec: _SessionSpec) -> int:
    total = (_at(spec.day, spec.end) - _at(spec.day, spec.start)).seconds // 60
    for start, end in spec.breaks:
        total -= (_at(spec.day, end) - _at(spec.day, start)).seconds // 60
    return total


def _amount(quarters: int) -> float | int:
    # Quarters are exact in binary floating point; whole numbers stay ints in the JSON.
    return quarters // 4 if quarters % 4 == 0 else quarters / 4


def _session_body(spec: _SessionSpec, number: int, faculty: list[str]) -> dict[str, Any]:
    quarters = _quarters_for(_credit_minutes(spec))
    credits = {"AMA_PRA_1": _amount(quarters)}
    if spec.ancc:
        credits["ANCC"] = _amount(quarters)
    if spec.acpe_topic:
        credits["ACPE"] = _amount(quarters)
    if spec.ipce:
        credits["IPCE"] = _amount(quarters)
    body: dict[str, Any] = {
        "session_id": spec.session_id,
        "title": spec.title,
        "room": spec.room,
        "starts_at": _iso(_at(spec.day, spec.start)),
        "ends_at": _iso(_at(spec.day, spec.end)),
        "credits": credits,
        "breaks": [{"starts_at": _iso(_at(spec.day, s)), "ends_at": _iso(_at(spec.day, e))} for s, e in spec.breaks],
        "faculty": faculty,
        "min_attendance_percent": spec.min_attendance_percent,
    }
    if spec.acpe_topic:
        body["acpe_uan"] = f"0000-0000-27-{number:03d}-L{spec.acpe_topic}-P"
    return body


def _activity_body(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    maxima: dict[str, int] = {}
    for session in sessions:
        for credit_type, amount in session["credits"].items():
            maxima[credit_type] = maxima.get(credit_type, 0) + round(amount * 4)
    order = ("AMA_PRA_1", "ANCC", "ACPE", "IPCE")
    return {
        "title": "Annual Scientific Assembly 2027",
        "format": "live",
        "provider": {
            "name": "Midwest Academy of Family Physicians",
            "joint_provider": None,
            "address": "200 W Example Avenue, Chicago, IL 60601",
        },
        "location": "McCormick Place, Chicago, IL",
        "timezone": TIMEZONE,
        "starts_on": DAY_1.isoformat(),
        "ends_on": DAY_2.isoformat(),
        "credit_types": {t: {"max": _amount(maxima[t])} for t in order if t in maxima},
        "policy": {
            "rounding": "nearest_quarter",
            "missing_exit": "session_end",
            "min_attendance_percent": 0,
            "evaluation_scope": "activity",
        },
        "sessions": sessions,
        "moc": {"boards": ["ABIM"]},
        "pars_activity_id": "202714207",
    }


# ---------------------------------------------------------------------------------------------
# Roster


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _profession_counts(attendees: int) -> list[tuple[str, int]]:
    """Largest-remainder split of the roster by PROFESSION_SHARES, every profession at least once."""
    total = sum(share for _, share in PROFESSION_SHARES)
    exact = [(name, attendees * share / total) for name, share in PROFESSION_SHARES]
    counts = {name: int(value) for name, value in exact}
    leftovers = sorted(exact, key=lambda item: (-(item[1] - int(item[1])), item[0]))
    for name, _ in leftovers[: attendees - sum(counts.values())]:
        counts[name] += 1
    if attendees >= len(PROFESSION_SHARES):
        for name, _ in PROFESSION_SHARES:
            if counts[name] == 0:
                counts[name] = 1
                counts["physician"] -= 1
    return [(name, counts[name]) for name, _ in PROFESSION_SHARES]


def _ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(ASCII_FALLBACK))
    letters = "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in " -"))
    return "-".join(letters.lower().replace("-", " ").split())


def _npi(rng: random.Random) -> str:
    """A 10-digit NPI with a valid check digit (Luhn over the 80840 prefix)."""
    body = str(rng.randint(1, 2)) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    digits = [int(c) for c in "80840" + body]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:  # rightmost of the payload is doubled (the check digit comes after it)
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return body + str((10 - total % 10) % 10)


def _birth_mmdd(rng: random.Random) -> str:
    month = rng.randint(1, 12)
    day = rng.randint(1, calendar.monthrange(2024, month)[1])  # a leap year: 0229 is a real birthday
    return f"{month:02d}{day:02d}"


def _roster(rng: random.Random, attendees: int) -> list[dict[str, Any]]:
    professions = [name for name, count in _profession_counts(attendees) for _ in range(count)]
    rng.shuffle(professions)
    weights = [pool[0] for pool in NAME_POOLS]
    rows: list[dict[str, Any]] = []
    for index, profession in enumerate(professions):
        badge_number = 1001 + index
        _, givens, families = rng.choices(NAME_POOLS, weights=weights)[0]
        given, family = rng.choice(givens), rng.choice(families)
        stem = ".".join(part for part in (_ascii_slug(given), _ascii_slug(family)) if part) or "learner"
        if rng.random() < 0.03:
            stem = stem.title()  # some people type their address with capitals
        row: dict[str, Any] = {
            "badge_id": f"B-{badge_number}",
            "given_name": given,
            "family_name": family,
            "email": f"{stem}.{badge_number}@{rng.choice(EMAIL_DOMAINS)}",
            "profession": profession,
            "degree": _weighted(rng, DEGREES[profession]),
        }
        npi_share = {"physician": 0.8, "physician_assistant": 0.8, "nurse": 0.3, "pharmacist": 0.5}
        if rng.random() < npi_share.get(profession, 0.0):
            row["npi"] = _npi(rng)
        if profession == "physician" and rng.random() < 0.55:
            board = _weighted(rng, BOARDS)
            row["board_ids"] = {board: f"{rng.randint(100000, 999999)}"}
            row["birth_mmdd"] = _birth_mmdd(rng)
            row["moc_consent"] = board == "ABIM" and rng.random() < 0.85
        if profession == "pharmacist" and rng.random() < 0.9:
            row["nabp_eprofile_id"] = str(rng.randint(100000, 9999999))
            row["birth_mmdd"] = _birth_mmdd(rng)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Behaviour at the doors


@dataclass(frozen=True)
class _Door:
    """One scan before it gets its id and device: who, where, when, which way."""

    badge_id: str
    room: str
    at: datetime
    direction: str = "entry"


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=int(rng.uniform(low, high) * 60))


class _Behaviour:
    """Turns one attendee's day into door scans (entries, exits, re-entries, early leaves)."""

    def __init__(self, rng: random.Random, specs: list[_SessionSpec], faculty_of: dict[str, list[str]]):
        self.rng = rng
        self.faculty_of = faculty_of  # session_id -> badges
        self.blocks: dict[date, list[dict[str, list[_SessionSpec]]]] = {}
        for day in DAYS:
            names: list[str] = []
            for spec in specs:
                if spec.day == day and spec.block not in names:
                    names.append(spec.block)
            self.blocks[day] = [
                {
                    room: [s for s in specs if s.block == name and s.room == room]
                    for room in ROOMS
                    if any(s.block == name and s.room == room for s in specs)
                }
                for name in names
            ]

    def _track_weight(self, room: str, track: list[_SessionSpec], row: dict[str, Any]) -> float:
        weight = ROOM_WEIGHTS[room]
        if row["profession"] == "pharmacist" and any(s.acpe_topic for s in track):
            weight *= 5
        if row["profession"] == "nurse" and all(s.ancc for s in track):
            weight *= 1.5
        return weight

    def day(self, row: dict[str, Any], day: date, leaves_early: bool) -> list[_Door]:
        rng, badge = self.rng, row["badge_id"]
        doors: list[_Door] = []
        blocks = self.blocks[day]
        for index, block in enumerate(blocks):
            own = [room for room, track in block.items() if any(badge in self.faculty_of[s.session_id] for s in track)]
            if not own:
                if index == 0 and rng.random() < 0.06:
                    continue  # still at the hotel
                if rng.random() < 0.08:
                    continue  # exhibit hall, phone calls
                if leaves_early and index == len(blocks) - 1:
                    continue  # flight home
            rooms = list(block)
            if own:
                room = own[0]
            else:
                weights = [self._track_weight(r, block[r], row) for r in rooms]
                room = rng.choices(rooms, weights=weights)[0]
            doors += self._track(badge, room, block, is_faculty=bool(own))
        return doors

    def _entry(self, badge: str, room: str, at: datetime) -> list[_Door]:
        doors = [_Door(badge, room, at)]
        if self.rng.random() < 0.04:  # the badge did not beep: scanned again
            doors.append(_Door(badge, room, at + timedelta(seconds=self.rng.randint(3, 50))))
        return doors

    def _exit(self, badge: str, room: str, at: datetime, scanned: float = 0.8) -> list[_Door]:
        if room in EXIT_SCANNED_ROOMS and self.rng.random() < scanned:
            return [_Door(badge, room, at, "exit")]
        return []

    def _track(self, badge: str, room: str, block: dict[str, list[_SessionSpec]], *, is_faculty: bool) -> list[_Door]:
        rng = self.rng
        track = block[room]
        doors: list[_Door] = []
        for position, spec in enumerate(track):
            start, end = _at(spec.day, spec.start), _at(spec.day, spec.end)
            if position == 0:
                roll = rng.random()
                if is_faculty:
                    arrive = start - _minutes(rng, 10, 25)
                elif roll < 0.80:
                    arrive = start - _minutes(rng, 1, 14)
                elif roll < 0.94:
                    arrive = start + _minutes(rng, 3, 35)  # late arrival
                else:
                    arrive = start + _minutes(rng, -1, 2)
                doors += self._entry(badge, room, arrive)
            elif room in EXIT_SCANNED_ROOMS:
                doors += self._entry(badge, room, start - _minutes(rng, 0, 8))
            elif rng.random() < 0.85:  # rescanned at the door between sessions
                previous_end = _at(spec.day, track[position - 1].end)
                doors += self._entry(badge, room, previous_end + (start - previous_end) * rng.uniform(0.1, 1.1))
            for brk_start, brk_end in spec.breaks:
                if rng.random() < 0.25:  # coffee
                    if room in EXIT_SCANNED_ROOMS:
                        doors += self._exit(badge, room, _at(spec.day, brk_start) + _minutes(rng, 0, 3), 0.9)
                    doors += self._entry(badge, room, _at(spec.day, brk_end) - _minutes(rng, 0, 4))
            if not is_faculty and rng.random() < 0.08:  # leaves early
                left = start + (end - start) * rng.uniform(0.4, 0.85)
                others = [
                    (other_room, s)
                    for other_room, other in block.items()
                    if other_room != room
                    for s in other
                    if _at(s.day, s.start) < left < _at(s.day, s.end)
                ]
                if room in EXIT_SCANNED_ROOMS:
                    doors += self._exit(badge, room, left, 0.95)
                if others and rng.random() < 0.5:  # walks into another room mid-session
                    other_room, _ = rng.choice(others)
                    doors += self._entry(badge, other_room, left + _minutes(rng, 1, 4))
                    if other_room in EXIT_SCANNED_ROOMS:
                        later = max(_at(s.day, s.end) for s in block[other_room])
                        doors += self._exit(badge, other_room, later + _minutes(rng, 0, 5))
                return doors
            doors += self._exit(badge, room, end + _minutes(rng, 0, 6))
        return doors


def _device_for(rng: random.Random, door: _Door) -> str:
    if door.direction == "exit":
        return EXIT_DEVICES[door.room]
    return rng.choice(ENTRY_DEVICES[door.room])


def _session_selected(specs: list[_SessionSpec], room: str, at: datetime) -> str:
    """The session a per-session device is set to: the one in progress, else the next, else the last."""
    same_room = sorted((s for s in specs if s.room == room and s.day == at.date()), key=lambda s: s.start)
    for spec in same_room:
        if at < _at(spec.day, spec.end):
            return spec.session_id
    return same_room[-1].session_id


def _scan_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _scans(rng: random.Random, doors: list[_Door], specs: list[_SessionSpec]) -> list[tuple[datetime, dict[str, Any]]]:
    scans = []
    for door in sorted(doors, key=lambda d: (d.at, d.badge_id, d.room, d.direction)):
        device = _device_for(rng, door)
        scan: dict[str, Any] = {"scan_id": _scan_id(rng), "badge_id": door.badge_id}
        if (device, door.at.date()) == SESSION_MODE_DEVICE:
            scan["session_id"] = _session_selected(specs, door.room, door.at)
        else:
            scan["room"] = door.room
        scan["scanned_at"] = _iso(door.at)
        scan["direction"] = door.direction
        scan["device_id"] = device
        scans.append((door.at.replace(microsecond=0), scan))
    return scans


def _batches(rng: random.Random, scans: list[tuple[datetime, dict[str, Any]]]) -> list[ScanBatch]:
    """Each device uploads every five minutes (its own phase, a few seconds of latency)."""
    devices = sorted({scan["device_id"] for _, scan in scans})
    phase = {device: rng.randint(0, 299) for device in devices}
    backlog_upload = _at(OFFLINE_DAY, "19:30") + _minutes(rng, 0, 45)
    grouped: dict[tuple[datetime, str], list[dict[str, Any]]] = {}
    backlogs: set[tuple[datetime, str]] = set()
    interval = int(UPLOAD_INTERVAL.total_seconds())
    network: dict[tuple[int, str], int] = {}  # seconds an upload takes to get through, per tick
    for at, scan in scans:
        device = scan["device_id"]
        if device == OFFLINE_DEVICE and at.date() == OFFLINE_DAY:
            key = (backlog_upload, device)
            backlogs.add(key)
        else:
            ready = int(at.timestamp()) + 2 - phase[device]
            tick = -(-ready // interval) * interval + phase[device]
            delay = network.setdefault((tick, device), rng.randint(1, 20))
            key = (datetime.fromtimestamp(tick + delay, ZONE), device)
        grouped.setdefault(key, []).append(scan)
    return [
        ScanBatch(upload_at=key[0], device_id=key[1], scans=grouped[key], backlog=key in backlogs)
        for key in sorted(grouped)
    ]


# ---------------------------------------------------------------------------------------------
# Evaluations


def _answers(rng: random.Random, biased: bool) -> dict[str, Any]:
    good = rng.random() < 0.85
    answers: dict[str, Any] = {
        "objectives_met": rng.randint(4, 5) if good else rng.randint(2, 3),
        "practice_change": rng.choice(PRACTICE_CHANGES),
        "commitment_to_change": rng.randint(3, 5),
        "commercial_bias": "no" if biased else "yes",
        "overall_quality": rng.randint(4, 5) if good else rng.randint(2, 4),
        "faculty_effectiveness": rng.randint(3, 5),
    }
    if biased:
        answers["commercial_bias_comment"] = rng.choice(BIAS_COMMENTS)
    return answers


def _evaluations(
    rng: random.Random, roster: list[dict[str, Any]], checked_in: list[str], last_end: datetime
) -> list[EvaluationPlan]:
    by_badge = {row["badge_id"]: row for row in roster}
    evaluators = [badge for badge in checked_in if rng.random() < 0.88]
    if not evaluators and checked_in:
        evaluators = checked_in[:1]
    physicians = [b for b in evaluators if by_badge[b]["profession"] == "physician"]
    lowered = set(rng.sample(physicians, min(len(physicians), max(2, round(len(evaluators) * 0.04)))))
    biased = set(rng.sample(evaluators, min(len(evaluators), max(1, round(len(evaluators) * 0.04)))))
    plans = []
    for badge in evaluators:
        roll = rng.random()
        if roll < 0.45:  # right after the last session, on the way out
            submit_at = last_end + _minutes(rng, 5, 180)
        elif roll < 0.85:  # that evening or over the weekend
            submit_at = last_end + _minutes(rng, 180, 3 * 24 * 60)
        else:  # a reminder mail later
            submit_at = last_end + _minutes(rng, 3 * 24 * 60, 12 * 24 * 60)
        plans.append(
            EvaluationPlan(
                badge_id=badge,
                submit_at=submit_at.replace(microsecond=0),
                answers=_answers(rng, badge in biased),
                claims=ClaimAdjustment() if badge in lowered else None,
            )
        )
    return sorted(plans, key=lambda p: (p.submit_at, p.badge_id))


# ---------------------------------------------------------------------------------------------


def _assign_faculty(
    rng: random.Random, specs: list[_SessionSpec], roster: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Faculty are roster attendees: physicians mostly, a pharmacist for some pharmacy sessions;
    nobody teaches two sessions that run at the same time."""
    physicians = [row["badge_id"] for row in roster if row["profession"] == "physician"]
    pharmacists = [row["badge_id"] for row in roster if row["profession"] == "pharmacist"]
    # A small roster keeps its few pharmacists in the audience (faculty earn nothing for their session).
    pharmacists = pharmacists[:4] if len(pharmacists) >= 8 else []
    pool = physicians[:16] or [row["badge_id"] for row in roster[:4]]
    blocks_of: dict[str, list[str]] = {}
    faculty_of: dict[str, list[str]] = {}
    for spec in specs:
        chosen: list[str] = []
        if spec.acpe_topic and rng.random() < 0.6:
            free = [b for b in pharmacists if spec.block not in blocks_of.get(b, [])]
            chosen += rng.sample(free, min(1, len(free)))
        free = [b for b in pool if spec.block not in blocks_of.get(b, []) and b not in chosen]
        chosen += rng.sample(free, max(0, min(spec.faculty - len(chosen), len(free))))
        for badge in chosen:
            blocks_of.setdefault(badge, []).append(spec.block)
        faculty_of[spec.session_id] = sorted(chosen)
    return faculty_of


def build_conference(seed: int = 7, attendees: int = 300, activity_id: str = "asa-2027") -> Conference:
    """The whole simulated conference for `attendees` people; the same seed gives the same data."""
    if attendees < 1:
        raise ValueError("attendees must be at least 1")
    rng = random.Random(seed)
    roster = _roster(rng, attendees)
    specs = list(AGENDA)

    faculty_of = _assign_faculty(rng, specs, roster)
    sessions = [_session_body(spec, number, faculty_of[spec.session_id]) for number, spec in enumerate(specs, 1)]
    activity = _activity_body(sessions)

    # Who comes on which day.
    behaviour = _Behaviour(rng, specs, faculty_of)
    faculty_badges = sorted({b for badges in faculty_of.values() for b in badges})
    doors: list[_Door] = []
    checked_in: list[str] = []
    for row in roster:
        is_faculty = row["badge_id"] in faculty_badges
        day_1 = is_faculty or rng.random() < 0.97
        day_2 = is_faculty or rng.random() < (0.95 if day_1 else 0.6)  # ≈5% no-shows on day 2
        leaves_early = rng.random() < 0.15
        mine: list[_Door] = []
        if day_1:
            mine += behaviour.day(row, DAY_1, leaves_early=False)
        if day_2:
            mine += behaviour.day(row, DAY_2, leaves_early=leaves_early)
        if mine:
            checked_in.append(row["badge_id"])
        doors += mine

    # Exhibitors and guests whose badges are not on the roster.
    unknown = [f"B-{9000001 + n}" for n in range(max(3, attendees // 100))]
    starts = [(s.room, _at(s.day, s.start)) for s in specs]
    for badge in unknown:
        room, start = rng.choice(starts)
        doors.append(_Door(badge, room, start - _minutes(rng, 0, 10)))

    scans = _scans(rng, doors, specs)
    batches = _batches(rng, scans)
    last_end = max(_at(s.day, s.end) for s in specs)
    evaluations = _evaluations(rng, roster, checked_in, last_end)

    first = min([_at(DAY_1, "07:00")] + [b.upload_at for b in batches])
    last = max([last_end] + [b.upload_at for b in batches] + [p.submit_at for p in evaluations])
    return Conference(
        seed=seed,
        activity_id=activity_id,
        activity=activity,
        roster=roster,
        scan_batches=batches,
        evaluations=evaluations,
        timeline_start=first - timedelta(minutes=30),
        timeline_end=last + timedelta(minutes=5),
        offline_device=OFFLINE_DEVICE,
        unknown_badges=unknown,
        faculty=faculty_badges,
    )


if __name__ == "__main__":  # pragma: no cover - a quick look at the counts
    print(json.dumps(build_conference().describe(), indent=2, ensure_ascii=False))
