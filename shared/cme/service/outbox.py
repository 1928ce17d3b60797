"""The outbox: table changes become the contract's events (never a second call after a write)."""

from __future__ import annotations

import json
from typing import Any

SOURCE = "cme"


def _changed(new: dict[str, Any], old: dict[str, Any] | None, field: str) -> bool:
    return old is None or old.get(field) != new.get(field)


def event_for_change(
    event_name: str, new: dict[str, Any] | None, old: dict[str, Any] | None
) -> tuple[str, dict[str, Any]] | None:
    """(detail-type, detail) for a stream record with plain Python images, or None."""
    if event_name == "REMOVE" or not new:
        return None
    sk = str(new.get("SK", ""))
    pk = str(new.get("PK", ""))
    if sk.startswith("SCAN#") and event_name == "INSERT":
        scan = {
            key: new.get(key)
            for key in (
                "scan_id",
                "badge_id",
                "room",
                "session_id",
                "scanned_at",
                "direction",
                "device_id",
                "received_at",
            )
        }
        return "CheckInScanned", {"activity_id": new["activity_id"], "scan": scan}
    if sk == "PROFILE" and event_name == "INSERT" and new.get("send_link", True) and new.get("email"):
        return "LearnerRegistered", {"activity_id": new["activity_id"], "badge_id": new["badge_id"]}
    if sk.startswith("ENDREQ#") and _changed(new, old, "requested_at"):
        return "SessionEnded", {
            "activity_id": new["activity_id"],
            "session_id": new["session_id"],
            "ended_at": new["ended_at"],
            "reason": new["reason"],
        }
    if sk.startswith("EVAL#") and _changed(new, old, "evaluation_id"):
        scope = new.get("scope")
        return "EvaluationSubmitted", {
            "activity_id": new["activity_id"],
            "badge_id": new["badge_id"],
            "session_id": None if scope == "ACTIVITY" else scope,
            "evaluation_id": new["evaluation_id"],
            "submitted_at": new["submitted_at"],
        }
    if sk == "CLAIM" and _changed(new, old, "version"):
        return "ClaimRecorded", {
            "activity_id": new["activity_id"],
            "badge_id": new["badge_id"],
            "version": int(new["version"]),
            "evaluation_id": new["evaluation_id"],
        }
    if pk.startswith("CERT#") and sk.startswith("V#") and event_name == "MODIFY":
        if new.get("mail_state") == "resend_requested" and _changed(new, old, "resend_count"):
            return "CertificateResendRequested", {
                "activity_id": new["activity_id"],
                "badge_id": new["badge_id"],
                "certificate_id": new["certificate_id"],
                "version": int(new["version"]),
                "resend_count": int(new.get("resend_count", 1)),
            }
        return None
    if pk.startswith("CERT#") and sk.startswith("V#") and event_name == "INSERT":
        return "CertificateIssued", {
            "activity_id": new["activity_id"],
            "badge_id": new["badge_id"],
            "certificate_id": new["certificate_id"],
            "version": int(new["version"]),
            "s3_key": new["s3_key"],
            "sha256": new["sha256"],
        }
    return None


def entry(bus_name: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, default=str),
        "EventBusName": bus_name,
    }
