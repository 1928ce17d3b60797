"""Issuing a certificate version for a recorded claim (PDF → S3 once → version record), and the public
verification of a certificate id and version."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cme import clock
from cme.adapters import blobs, store
from cme.auth import certificate_id
from cme.config import settings
from cme.observability import logger

#: Credit reported elsewhere than on a certificate (ACPE goes to NABP CPE Monitor).
NOT_ON_CERTIFICATE = ("ACPE",)


def certificate_kind(profession: str, credits: dict[str, Decimal]) -> str:
    if profession == "physician" and credits.get("AMA_PRA_1"):
        return "physician"
    if profession == "nurse" and credits.get("ANCC"):
        return "nursing"
    return "participation"


def s3_key(activity_id: str, cid: str, version: int) -> str:
    return f"certificates/{activity_id}/{cid}/v{version:04d}.pdf"


def issue_certificate(activity_id: str, badge_id: str, version: int) -> dict[str, Any]:
    cid = certificate_id(activity_id, badge_id)
    claim, existing = store.claim_and_certificate(activity_id, badge_id, cid, version)
    if claim is None or int(claim["version"]) < version:
        raise RuntimeError("claim not visible yet; retry")
    if int(claim["version"]) > version:
        return {"issued": False, "reason": "superseded_by_newer_claim"}
    if existing is not None:
        # A retry after a crash between the two writes: make sure CURRENT has moved forward too.
        store.put_certificate_version({k: v for k, v in existing.items() if k not in ("PK", "SK")})
        return {"issued": False, "reason": "already_issued", "certificate_id": cid}
    credits = {
        t: Decimal(str(v)) for t, v in claim["totals"].items() if Decimal(str(v)) > 0 and t not in NOT_ON_CERTIFICATE
    }
    if not credits:
        return {"issued": False, "reason": "nothing_to_certify"}
    # The learner's record (the credit rules and models) only here: verification and downloads never need it.
    from cme.service.learners import load_learner

    record = load_learner(activity_id, badge_id)
    issued_at = datetime.fromisoformat(claim["claimed_at"])
    kind = certificate_kind(record.attendee.profession, credits)
    verify_url = f"{settings().public_base_url.rstrip('/')}/verify/{cid}?version={version}"
    pdf = render_pdf(record, claim, cid, version, kind, credits, issued_at, verify_url)
    key = s3_key(activity_id, cid, version)
    sha256 = blobs.put_once(key, pdf)
    created = store.put_certificate_version(
        {
            "certificate_id": cid,
            "version": version,
            "activity_id": activity_id,
            "badge_id": badge_id,
            "kind": kind,
            "s3_key": key,
            "sha256": sha256,
            "size": len(pdf),
            "issued_at": clock.iso(issued_at),
            "credits": credits,
            "learner_name": record.attendee.display_name,
            "activity_title": record.activity.title,
            "dates": f"{record.activity.starts_on.isoformat()}/{record.activity.ends_on.isoformat()}",
            "status": "valid",
        }
    )
    logger.info("certificate issued", extra={"activity_id": activity_id, "certificate_id": cid, "version": version})
    return {"issued": created, "certificate_id": cid, "version": version, "sha256": sha256}


def render_pdf(
    record: Any,
    claim: dict[str, Any],
    cid: str,
    version: int,
    kind: str,
    credits: dict[str, Decimal],
    issued_at: datetime,
    verify_url: str,
) -> bytes:
    # fpdf2 is slow to import: only the issuer pays for it.
    from cme.certificates.render import CertificateDocument, TranscriptLine, render_certificate

    activity, attendee = record.activity, record.attendee
    claimed: dict[str, dict[str, str]] = claim["claimed"]
    lines = []
    for session in activity.sessions:
        attendance = record.attendances.get(session.session_id)
        if attendance is None or attendance.seconds <= 0:
            continue
        session_credits = {
            t: Decimal(str(by_session[session.session_id]))
            for t, by_session in claimed.items()
            if session.session_id in by_session and t in credits
        }
        lines.append(
            TranscriptLine(
                title=session.title,
                day=session.starts_at.astimezone(activity.zone).date(),
                minutes=attendance.minutes,
                credits=session_credits,
            )
        )
    participation = credits.get("PARTICIPATION")
    from cme.service.branding import images_for_certificate as branding_images

    images = branding_images(activity.activity_id)
    document = CertificateDocument(
        certificate_id=cid,
        version=version,
        kind=kind,  # type: ignore[arg-type]
        learner_name=f"{attendee.given_name} {attendee.family_name}",
        degree=attendee.degree,
        provider_name=activity.provider.name,
        joint_provider=activity.provider.joint_provider,
        provider_address=activity.provider.address,
        activity_title=activity.title,
        activity_format=activity.format,
        location=activity.location,
        starts_on=activity.starts_on,
        ends_on=activity.ends_on,
        credits_claimed=credits,
        designated_max={t: o.max for t, o in activity.credit_types.items()},
        participation_hours=participation,
        moc_boards=list(activity.moc.boards) if activity.moc else [],
        moc_points=credits.get("AMA_PRA_1") if activity.moc and attendee.profession == "physician" else None,
        issued_at=issued_at,
        verify_url=verify_url,
        sessions=lines,
        logo_png=images.get("logo"),
        signature_png=images.get("signature"),
        signer_name=activity.branding.signer_name,
        signer_title=activity.branding.signer_title,
        accent_rgb=activity.branding.accent_rgb,
    )
    return render_certificate(document)


def download_url(record: dict[str, Any]) -> str:
    """A short-lived (presigned) URL of a certificate version's PDF, named after its id and version."""
    name = f"certificate-{record['certificate_id']}-v{int(record['version'])}.pdf"
    return blobs.presigned_url(str(record["s3_key"]), name)


def verification(cid: str, version: int | None) -> dict[str, Any] | None:
    current = store.current_certificate_version(cid)
    if current is None:
        return None
    record = store.get_certificate(cid, version if version is not None else current)
    if record is None:
        return None
    shown = int(record["version"])
    status = "revoked" if record.get("status") == "revoked" else "superseded" if shown < current else "valid"
    return {
        "certificate_id": cid,
        "status": status,
        "learner_name": record["learner_name"],
        "activity_title": record["activity_title"],
        "dates": record["dates"],
        "credits": {k: Decimal(str(v)) for k, v in record["credits"].items()},
        "issued_at": record["issued_at"],
        "version": shown,
        "current_version": current,
        "sha256": record["sha256"],
    }
