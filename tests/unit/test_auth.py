"""Who is calling (shared/cme/auth.py): learner magic-link tokens, device token hashes, organizer
claims from the HTTP API authorizer, and the keyed certificate ids."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from builders import http_event, organizer_claims
from cme import auth, clock
from cme.errors import Forbidden, Unauthorized

pytestmark = pytest.mark.unit

NOW = datetime(2027, 10, 14, 13, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


@pytest.fixture(autouse=True)
def test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach Secrets Manager: `_mac` reads the key through the module global."""
    monkeypatch.setattr(auth, "signing_key", lambda: b"test-key")


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CME_NOW", raising=False)
    clock.set_override(NOW)
    yield
    clock.set_override(None)


def _with_key(monkeypatch: pytest.MonkeyPatch, key: bytes) -> None:
    monkeypatch.setattr(auth, "signing_key", lambda: key)


def _refused(token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        auth.read_learner_token(token)
    return caught.value


# ---- learner tokens -------------------------------------------------------------------------------


def test_a_learner_token_reads_back_as_its_learner() -> None:
    token = auth.issue_learner_token("asa-2027", "B-1001", LATER)
    learner = auth.read_learner_token(token)
    assert learner == auth.Learner("asa-2027", "B-1001", int(LATER.timestamp()))


def test_a_learner_token_is_url_safe_and_carries_its_version_prefix() -> None:
    token = auth.issue_learner_token("asa-2027", "B-1001", LATER)
    assert token.startswith("l1.")
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", token), token


def test_a_token_for_one_learner_never_reads_as_another() -> None:
    ana = auth.issue_learner_token("asa-2027", "B-1001", LATER)
    lukasz = auth.issue_learner_token("asa-2027", "B-1002", LATER)
    other_activity = auth.issue_learner_token("other-2027", "B-1001", LATER)
    assert auth.read_learner_token(ana).badge_id == "B-1001"
    assert auth.read_learner_token(lukasz).badge_id == "B-1002"
    assert auth.read_learner_token(other_activity).activity_id == "other-2027"
    assert len({ana, lukasz, other_activity}) == 3


def test_swapping_another_learners_payload_under_a_valid_signature_is_refused() -> None:
    prefix, _, ana_signature = auth.issue_learner_token("asa-2027", "B-1001", LATER).split(".")
    _, lukasz_payload, _ = auth.issue_learner_token("asa-2027", "B-1002", LATER).split(".")
    assert _refused(f"{prefix}.{lukasz_payload}.{ana_signature}").code == "invalid_token"


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_a_tampered_payload_is_an_invalid_token() -> None:
    prefix, payload, signature = auth.issue_learner_token("asa-2027", "B-1001", LATER).split(".")
    # Push the expiry a year out: the payload changes, the signature does not follow.
    forged = auth._b64(
        "\x1f".join(("asa-2027", "B-1001", str(int((LATER + timedelta(days=365)).timestamp())))).encode()
    )
    assert _refused(f"{prefix}.{forged}.{signature}").code == "invalid_token"
    assert _refused(f"{prefix}.{_flip(payload, 0)}.{signature}").code == "invalid_token"


@pytest.mark.parametrize("index", [0, 10, -1])
def test_a_tampered_signature_is_an_invalid_token(index: int) -> None:
    prefix, payload, signature = auth.issue_learner_token("asa-2027", "B-1001", LATER).split(".")
    assert _refused(f"{prefix}.{payload}.{_flip(signature, index)}").code == "invalid_token"


def test_another_prefix_is_an_invalid_token() -> None:
    _, payload, signature = auth.issue_learner_token("asa-2027", "B-1001", LATER).split(".")
    assert _refused(f"l2.{payload}.{signature}").code == "invalid_token"
    assert _refused(f".{payload}.{signature}").code == "invalid_token"


@pytest.mark.parametrize(
    "token",
    ["", "l1", "l1..", "l1.a.b.c", "not a token", "l1.%%%.###", "l1.é.ü", "Bearer l1.x.y"],
    ids=["empty", "prefix-only", "empty-parts", "four-parts", "spaces", "not-base64", "non-ascii", "with-scheme"],
)
def test_garbage_is_an_invalid_token_never_a_crash(token: str) -> None:
    error = _refused(token)
    assert error.code == "invalid_token" and error.status == 401


def test_a_token_signed_with_another_key_is_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_key(monkeypatch, b"someone-elses-key")
    token = auth.issue_learner_token("asa-2027", "B-1001", LATER)
    _with_key(monkeypatch, b"test-key")
    assert _refused(token).code == "invalid_token"


def test_a_token_is_valid_until_its_expiry_and_expired_from_then_on() -> None:
    token = auth.issue_learner_token("asa-2027", "B-1001", LATER)
    clock.set_override(LATER - timedelta(seconds=1))
    assert auth.read_learner_token(token).badge_id == "B-1001"
    clock.set_override(LATER)
    assert _refused(token).code == "expired_token"
    clock.set_override(LATER + timedelta(days=400))
    error = _refused(token)
    assert error.code == "expired_token" and error.status == 401


def test_an_expired_and_tampered_token_says_invalid_not_expired() -> None:
    """The signature is checked first, so an expired forgery learns nothing about expiry."""
    prefix, payload, signature = auth.issue_learner_token("asa-2027", "B-1001", NOW - timedelta(days=1)).split(".")
    assert _refused(f"{prefix}.{payload}.{_flip(signature, 3)}").code == "invalid_token"


# ---- scanner devices ------------------------------------------------------------------------------


def test_device_tokens_are_fresh_and_prefixed() -> None:
    tokens = {auth.new_device_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(t.startswith("dev_") and len(t) > 40 for t in tokens)


def test_a_device_token_is_stored_as_its_sha256_hex() -> None:
    token = auth.new_device_token()
    stored = auth.device_token_hash(token)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert auth.device_token_hash(token) == stored  # stable, so a lookup by hash works


def test_a_device_token_cannot_be_read_back_from_its_hash() -> None:
    token = auth.new_device_token()
    stored = auth.device_token_hash(token)
    assert token not in stored and token.removeprefix("dev_") not in stored
    assert auth.device_token_hash(token + "x") != stored


# ---- organizers -----------------------------------------------------------------------------------


def _event(claims: dict | None) -> dict:
    return http_event("PUT", "/activities/asa-2027", route="/activities/{activity_id}", claims=claims)


@pytest.mark.parametrize(
    ("activities", "managed"),
    [
        ("asa-2027", {"asa-2027"}),
        ("asa-2027,fall-2027", {"asa-2027", "fall-2027"}),
        ("asa-2027, fall-2027", {"asa-2027", "fall-2027"}),
        ("asa-2027 fall-2027", {"asa-2027", "fall-2027"}),
        ("[asa-2027,fall-2027]", {"asa-2027", "fall-2027"}),
        ("[asa-2027 fall-2027]", {"asa-2027", "fall-2027"}),
        (["asa-2027", "fall-2027"], {"asa-2027", "fall-2027"}),
        ("*", {"*"}),
    ],
    ids=["single", "comma", "comma-space", "space", "bracket-comma", "bracket-space", "list", "star"],
)
def test_custom_activities_claim_forms(activities: object, managed: set[str]) -> None:
    organizer = auth.organizer_from_event(_event({"sub": "org-1", "custom:activities": activities}))
    assert organizer.subject == "org-1"
    assert organizer.activities == frozenset(managed)
    for activity_id in managed - {"*"}:
        assert auth.require_organizer(_event({"sub": "org-1", "custom:activities": activities}), activity_id)
    assert organizer.may_manage("unrelated-2027") == ("*" in managed)


def test_star_manages_every_activity() -> None:
    event = _event(organizer_claims("*"))
    assert auth.require_organizer(event, "asa-2027").may_manage("anything-at-all")


def test_an_organizer_of_another_activity_is_forbidden() -> None:
    event = _event(organizer_claims("other-2027"))
    with pytest.raises(Forbidden) as caught:
        auth.require_organizer(event, "asa-2027")
    assert caught.value.status == 403


def test_an_activity_id_is_matched_whole_not_as_a_substring() -> None:
    event = _event(organizer_claims("asa-2027-west"))
    with pytest.raises(Forbidden):
        auth.require_organizer(event, "asa-2027")


@pytest.mark.parametrize(
    "groups",
    ["[organizers activity:asa-2027]", "activity:asa-2027", ["organizers", "activity:asa-2027"]],
    ids=["http-api-flattened", "single", "list"],
)
def test_an_activity_group_grants_that_activity_only(groups: object) -> None:
    event = _event({"sub": "org-2", "cognito:groups": groups})
    assert auth.require_organizer(event, "asa-2027").subject == "org-2"
    with pytest.raises(Forbidden):
        auth.require_organizer(event, "other-2027")


def test_the_admin_group_manages_every_activity() -> None:
    event = _event({"sub": "admin-1", "cognito:groups": "[organizers cme-admins]"})
    organizer = auth.require_organizer(event, "asa-2027")
    assert organizer.groups == frozenset({"organizers", "cme-admins"})
    assert organizer.may_manage("any-other-activity")


def test_organizers_group_alone_manages_nothing() -> None:
    event = _event({"sub": "org-3", "cognito:groups": "[organizers]"})
    with pytest.raises(Forbidden):
        auth.require_organizer(event, "asa-2027")


@pytest.mark.parametrize(
    "claims",
    [None, {}, {"custom:activities": "*"}, {"sub": "", "custom:activities": "*"}],
    ids=["no-authorizer", "empty-claims", "no-subject", "empty-subject"],
)
def test_missing_claims_are_unauthorized(claims: dict | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        auth.require_organizer(_event(claims), "asa-2027")
    assert caught.value.status == 401


def test_an_event_without_a_request_context_is_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        auth.organizer_from_event({})


# ---- certificate ids ------------------------------------------------------------------------------


def test_a_certificate_id_is_stable_for_one_learner_in_one_activity() -> None:
    first = auth.certificate_id("asa-2027", "B-1001")
    assert auth.certificate_id("asa-2027", "B-1001") == first


def test_a_certificate_id_has_the_documented_shape() -> None:
    cid = auth.certificate_id("asa-2027", "B-1001")
    assert len(cid) == 20 and cid.startswith("c")
    assert re.fullmatch(r"c[a-z2-7]{19}", cid), cid


def test_certificate_ids_differ_across_badges_and_activities() -> None:
    ids = {
        auth.certificate_id(activity, badge)
        for activity in ("asa-2027", "fall-2027", "asa-2028")
        for badge in ("B-1001", "B-1002", "F1", "B-10011")
    }
    assert len(ids) == 12


def test_joining_activity_and_badge_differently_gives_another_id() -> None:
    assert auth.certificate_id("asa-2027", "B-1") != auth.certificate_id("asa-2027-B", "1")


def test_a_certificate_id_is_unguessable_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = auth.certificate_id("asa-2027", "B-1001")
    assert "asa" not in ours and "1001" not in ours
    _with_key(monkeypatch, b"another-deployment")
    assert auth.certificate_id("asa-2027", "B-1001") != ours
    _with_key(monkeypatch, b"")
    assert auth.certificate_id("asa-2027", "B-1001") != ours
