"""Session-end schedules: one EventBridge Scheduler one-time schedule per session, targeting the bus."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from cme.adapters.aws import client
from cme.config import settings


def schedule_name(activity_id: str, session_id: str) -> str:
    digest = hashlib.sha256(f"{activity_id}/{session_id}".encode()).hexdigest()[:16]
    return f"end-{activity_id[:30]}-{session_id[:10]}-{digest}"


def put_session_end_schedule(activity_id: str, session_id: str, ends_at: datetime) -> None:
    """Create or move the schedule that emits SessionEnded at `ends_at` (deleted after it fires)."""
    config = settings()
    when = ends_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    detail = {
        "activity_id": activity_id,
        "session_id": session_id,
        "ended_at": ends_at.isoformat(),
        "reason": "scheduled",
    }
    request = {
        "Name": schedule_name(activity_id, session_id),
        "GroupName": config.schedule_group,
        "ScheduleExpression": f"at({when})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": config.event_bus_arn,
            "RoleArn": config.scheduler_role_arn,
            "Input": json.dumps(detail),
            "EventBridgeParameters": {"DetailType": "SessionEnded", "Source": "cme"},
            "RetryPolicy": {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 86400},
        },
    }
    scheduler = client("scheduler")
    try:
        scheduler.create_schedule(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise
        scheduler.update_schedule(**request)
