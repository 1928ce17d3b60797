"""What an organizer does with an issued certificate: download it, revoke it (with a reason),
reissue it (a new version from the learner's current claim), and have its mail sent again."""

from __future__ import annotations

from typing import Any

from cme import clock
from cme.adapters import store
from cme.errors import Conflict, NotFound, Unprocessable
from cme.observability import logger
from cme.service import certificates
from cme.service.claims import reissue_claim


def _current(activity_id: str, certificate_id: str) -> dict[str, Any]:
    record = store.get_certificate(certificate_id)
    if record is None or record.get("activity_id") != activity_id:
        raise NotFound("no such certificate in this activity")
    return record


def download_url(activity_id: str, certificate_id: str) -> str:
    return certificates.download_url(_current(activity_id, certificate_id))


def revoke(activity_id: str, certificate_id: str, body: Any, organizer: str) -> dict[str, Any]:
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise Unprocessable(
            "say why the certificate is revoked", [{"field": "reason", "message": "1 to 500 characters"}]
        )
    record = _current(activity_id, certificate_id)
    version = int(record["version"])
    store.revoke_certificate_version(
        certificate_id, version, reason=reason.strip(), at=clock.iso(clock.now()), by=organizer
    )
    logger.info("certificate revoked", extra={"activity_id": activity_id, "certificate_id": certificate_id})
    result = certificates.verification(certificate_id, None)
    assert result is not None
    return result


def reissue(activity_id: str, certificate_id: str) -> dict[str, Any]:
    record = _current(activity_id, certificate_id)
    claim = reissue_claim(activity_id, str(record["badge_id"]))
    if claim is None:
        raise Conflict("the learner has no claim to reissue from")
    return {"certificate_id": certificate_id, "version": claim["version"], "status": "accepted"}


def resend(activity_id: str, certificate_id: str, organizer: str) -> dict[str, Any]:
    record = _current(activity_id, certificate_id)
    version = int(record["version"])
    if record.get("status") == "revoked":
        raise Conflict("a revoked certificate is not mailed; reissue it first")
    if not store.request_resend(certificate_id, version, at=clock.iso(clock.now()), by=organizer):
        raise Conflict("a mail of this certificate is being sent or was just requested; try again in a minute")
    logger.info(
        "certificate mail resend requested", extra={"activity_id": activity_id, "certificate_id": certificate_id}
    )
    return {"certificate_id": certificate_id, "version": version, "status": "accepted"}
