"""template.yaml's security settings: least-privilege IAM per function, encryption, retention of the
records ACCME wants kept 6 years, throttling, and two linters (cfn-lint's serverless rules, checkov)
clean or suppressed in place with a reason.

checkov pins boto3 and other libraries of its own, so it runs from its own virtual environment
(`make test` and `make unit` create `.venv-checkov`); without it this file's checkov test is skipped,
except under CI=true where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import template_support as ts

pytestmark = pytest.mark.unit

# ---------------------------------------------------------------------------------------------- IAM
_MAIL = {
    f"{action} {resource}"
    for action in ("ses:SendEmail", "ses:SendRawEmail")
    for resource in ("identity/MailDomain", "identity/MailFrom", "configuration-set/MailConfigurationSet")
}

#: function -> "action resource" for every statement of its role: exactly the calls its code path makes
#: (store.py's access patterns, S3 by prefix, the bus, the secret, schedules, mail), nothing more.
#: Resources are logical ids, `Table/index/GSI1`, a bucket prefix, or an ARN's resource part.
GRANTS: dict[str, set[str]] = {
    "OrganizerApiFunction": {
        *(f"dynamodb:{a} Table" for a in ("GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem")),
        "dynamodb:DeleteItem Table",  # branding records
        "dynamodb:BatchWriteItem Table",  # roster rows
        "dynamodb:Query Table/index/GSI1",
        "s3:GetObject CertificateBucket/certificates/*",  # presigned help-desk downloads
        "s3:PutObject CertificateBucket/branding/*",
        "scheduler:CreateSchedule schedule/SessionEndScheduleGroup/*",
        "scheduler:UpdateSchedule schedule/SessionEndScheduleGroup/*",
        "iam:PassRole SchedulerRole",
        "secretsmanager:GetSecretValue SigningSecret",
    },
    "IngestScansFunction": {
        "dynamodb:GetItem Table",
        "dynamodb:BatchGetItem Table",
        "dynamodb:PutItem Table",
        "dynamodb:Query Table/index/GSI1",
    },
    "LearnerApiFunction": {
        "dynamodb:Query Table",
        "dynamodb:BatchGetItem Table",
        "dynamodb:PutItem Table",
        "dynamodb:UpdateItem IdempotencyTable",  # sign-in rate counters
        "events:PutEvents event-bus/EventBus",
        "s3:GetObject CertificateBucket/certificates/*",  # presigned downloads
        "secretsmanager:GetSecretValue SigningSecret",
    },
    "PublicApiFunction": {"dynamodb:GetItem Table"},
    "StreamOutboxFunction": {
        "events:PutEvents event-bus/EventBus",
        "sqs:SendMessage StreamOutboxDLQ",  # the stream mapping's on-failure destination (SAM adds it)
    },
    "CountChangesFunction": {
        "dynamodb:GetItem Table",
        "dynamodb:BatchGetItem Table",
        "dynamodb:UpdateItem Table",
        "sqs:SendMessage CountChangesDLQ",
    },
    "OnCheckInFunction": {"dynamodb:Query Table", "dynamodb:PutItem Table", "dynamodb:BatchWriteItem Table"},
    "OnSessionEndFunction": {
        *(f"dynamodb:{a} Table" for a in ("GetItem", "Query", "PutItem", "UpdateItem", "BatchWriteItem")),
        "dynamodb:Query Table/index/GSI1",
    },
    "OnEvaluationFunction": {"dynamodb:Query Table", "dynamodb:PutItem Table"},
    "IssueCertificateFunction": {
        *(f"dynamodb:{a} Table" for a in ("GetItem", "Query", "PutItem", "UpdateItem")),
        "s3:PutObject CertificateBucket/certificates/*",
        "s3:GetObject CertificateBucket/certificates/*",
        "s3:GetObject CertificateBucket/branding/*",
        "secretsmanager:GetSecretValue SigningSecret",
    },
    "SendCertificateMailFunction": {
        "dynamodb:GetItem Table",
        "dynamodb:UpdateItem Table",
        "s3:GetObject CertificateBucket/certificates/*",
        "secretsmanager:GetSecretValue SigningSecret",
        *_MAIL,
    },
    "OnMailEventFunction": {"dynamodb:UpdateItem Table"},
    "SendLearnerLinkFunction": {
        "dynamodb:GetItem Table",
        "dynamodb:Query Table",
        "dynamodb:BatchGetItem Table",
        *(f"dynamodb:{a} IdempotencyTable" for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")),
        "secretsmanager:GetSecretValue SigningSecret",
        *_MAIL,
    },
}

_MANAGED = "arn:aws:iam::aws:policy/"
_BASIC = {f"{_MANAGED}service-role/AWSLambdaBasicExecutionRole", f"{_MANAGED}AWSXrayWriteOnlyAccess"}
#: AWS managed policies SAM attaches: logs and X-Ray for all, the poller's for queue and stream consumers.
MANAGED_POLICIES = {
    **dict.fromkeys(("OrganizerApiFunction", "IngestScansFunction", "LearnerApiFunction", "PublicApiFunction"), _BASIC),
    **dict.fromkeys(
        ("StreamOutboxFunction", "CountChangesFunction"),
        _BASIC | {f"{_MANAGED}service-role/AWSLambdaDynamoDBExecutionRole"},
    ),
    **dict.fromkeys(
        (
            "OnCheckInFunction",
            "OnSessionEndFunction",
            "OnEvaluationFunction",
            "IssueCertificateFunction",
            "SendCertificateMailFunction",
            "OnMailEventFunction",
            "SendLearnerLinkFunction",
        ),
        _BASIC | {f"{_MANAGED}service-role/AWSLambdaSQSQueueExecutionRole"},
    ),
}

_ARN_PREFIX = re.compile(r"^arn:\$\{AWS::Partition\}:[a-z0-9-]+:\$\{AWS::Region\}:\$\{AWS::AccountId\}:")


def _resource_name(value: Any) -> str:
    """A policy resource as the GRANTS table writes it: `Table`, `Table/index/GSI1`, `event-bus/EventBus`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return str(logical_id) if attribute == "Arn" else f"{logical_id}.{attribute}"
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        pattern, variables = (sub, {}) if isinstance(sub, str) else sub

        def name_of(match: re.Match[str]) -> str:
            key = match.group(1)
            bound = variables.get(key)
            if isinstance(bound, dict) and ({"Ref", "Fn::GetAtt"} & set(bound)):
                return _resource_name(bound)
            return key.removesuffix(".Arn")

        return re.sub(r"\$\{([^}]+)\}", name_of, _ARN_PREFIX.sub("", pattern))
    return json.dumps(value, sort_keys=True)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(cfn: dict[str, Any]) -> dict[str, set[str]]:
    """function -> "action resource" of its role's statements (trust policies aside)."""
    found: dict[str, set[str]] = {}
    for logical_id, statement in ts.iter_policy_statements(cfn):
        if not logical_id.endswith("FunctionRole") or "Principal" in statement:
            continue
        assert statement["Effect"] == "Allow", logical_id
        assert not {"NotAction", "NotResource"} & set(statement), logical_id
        function = logical_id.removesuffix("Role")
        for action in _listed(statement["Action"]):
            for resource in _listed(statement["Resource"]):
                found.setdefault(function, set()).add(f"{action} {_resource_name(resource)}")
    return found


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return ts.transformed_template()


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return ts.load_sam_template()


def test_no_statement_anywhere_allows_a_wildcard_action_or_resource(cfn: dict[str, Any]) -> None:
    """Identity and resource policies alike, after the SAM transform expanded its policy templates. The
    one `s3:*` left is the Deny of plain-HTTP access on the buckets, the safe form."""
    checked = 0
    for logical_id, statement in ts.iter_policy_statements(cfn):
        actions = _listed(statement.get("Action", []))
        if statement["Effect"] == "Deny":
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, logical_id
            continue
        for action in actions:
            checked += 1
            assert "*" not in action, f"{logical_id}: {action}"
        assert "*" not in _listed(statement.get("Resource", [])), logical_id
    assert checked > 40


@pytest.mark.parametrize("function", sorted(GRANTS))
def test_each_function_may_make_exactly_the_calls_its_code_makes(cfn: dict[str, Any], function: str) -> None:
    assert _grants(cfn).get(function, set()) == GRANTS[function]


def test_every_function_is_in_the_grants_table(cfn: dict[str, Any]) -> None:
    assert set(ts.resources_of_type(cfn, "AWS::Lambda::Function")) == set(GRANTS) == set(MANAGED_POLICIES)


@pytest.mark.parametrize("function", sorted(MANAGED_POLICIES))
def test_each_role_has_only_the_execution_policies_sam_attaches(cfn: dict[str, Any], function: str) -> None:
    role = cfn["Resources"][f"{function}Role"]["Properties"]
    assert set(role["ManagedPolicyArns"]) == MANAGED_POLICIES[function]


def test_no_role_uses_a_broad_sam_policy_template(sam: dict[str, Any]) -> None:
    """Explicit statements instead: CRUD, read, write and bucket templates grant calls no code makes
    (Scan, DescribeTable, deletes, bucket listing)."""
    broad = {"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBWritePolicy", "S3ReadPolicy", "S3CrudPolicy"}
    for logical_id, resource in sam["Resources"].items():
        for policy in (resource.get("Properties") or {}).get("Policies") or []:
            assert not (isinstance(policy, dict) and broad & set(policy)), f"{logical_id}: {set(policy)}"


# ---------------------------------------------------------------------------------------------- encryption
def test_every_queue_table_and_bucket_is_encrypted_at_rest(cfn: dict[str, Any]) -> None:
    for logical_id, queue in ts.resources_of_type(cfn, "AWS::SQS::Queue").items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, logical_id
    for logical_id, table in ts.resources_of_type(cfn, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, logical_id
    for logical_id, bucket in ts.resources_of_type(cfn, "AWS::S3::Bucket").items():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        # A bucket key only applies to SSE-KMS: with it, KMS is asked once per bucket key, not per object.
        assert algorithm == "AES256" or rule.get("BucketKeyEnabled") is True, logical_id


def test_every_bucket_is_private_and_tls_only(cfn: dict[str, Any]) -> None:
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in ts.resources_of_type(cfn, "AWS::S3::BucketPolicy").values()
    }
    for logical_id, bucket in ts.resources_of_type(cfn, "AWS::S3::Bucket").items():
        assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values()), logical_id
        assert bucket["Properties"]["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        (deny,) = [s for s in policies[logical_id] if s["Effect"] == "Deny"]
        assert deny["Principal"] == "*" and deny["Action"] == "s3:*", logical_id
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, logical_id
        assert {_resource_name(r) for r in deny["Resource"]} == {logical_id, f"{logical_id}/*"}, logical_id


def test_every_log_group_keeps_the_retention_parameter(cfn: dict[str, Any]) -> None:
    groups = ts.resources_of_type(cfn, "AWS::Logs::LogGroup")
    for logical_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id
    named = {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups.values() if "LogGroupName" in g["Properties"]}
    functions = ts.resources_of_type(cfn, "AWS::Lambda::Function")
    assert named == {f"/aws/lambda/${{{function}}}" for function in functions}
    assert "HttpApiAccessLogGroup" in groups


# ---------------------------------------------------------------------------------------------- retention
#: Attributes a TTL would read (the idempotency table's is `expiration`).
TTL_ATTRIBUTES = {"ttl", "expires_at", "expire_at", "expiration", "expiry"}


def test_records_kept_6_years_live_in_a_table_without_ttl_on_retained_storage(cfn: dict[str, Any]) -> None:
    table = cfn["Resources"]["Table"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert "TimeToLiveSpecification" not in table["Properties"]
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    bucket = cfn["Resources"]["CertificateBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


def test_certificates_move_only_to_classes_that_serve_a_get_at_once_and_never_expire(cfn: dict[str, Any]) -> None:
    rules = cfn["Resources"]["CertificateBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    never = {"ExpirationInDays", "ExpirationDate", "ExpiredObjectDeleteMarker", "NoncurrentVersionExpiration"}
    never |= {"NoncurrentVersionExpirationInDays"}
    classes = set()
    for rule in rules:
        assert not never & set(rule), rule["Id"]
        for transition in [*rule.get("Transitions", []), *rule.get("NoncurrentVersionTransitions", [])]:
            classes.add(transition["StorageClass"])
    assert classes and classes <= {"STANDARD_IA", "GLACIER_IR"}


class _RecordingTable:
    """Stands in for the boto3 Table: keeps every item and update the store writes."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def put_item(self, Item: dict[str, Any], **_: Any) -> None:
        self.items.append(Item)

    def update_item(self, **request: Any) -> None:
        self.updates.append(request)

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": []}

    @contextmanager
    def batch_writer(self) -> Iterator[_RecordingTable]:
        yield self


def test_attendance_claims_evaluations_and_certificates_never_carry_a_ttl_attribute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should the table ever get a TTL for short-lived items, these records must not carry its attribute."""
    from cme.adapters import store
    from cme.domain.models import DoorScan, SessionAttendance

    recording = _RecordingTable()
    monkeypatch.setattr(store, "_table", lambda: recording)
    attendance = SessionAttendance(session_id="S1", seconds=3600, credit_seconds=3600, credits={"AMA": Decimal(1)})
    store.put_scan("A", "B-1", DoorScan(scan_id="s1", room="Hall-A", at=1_800_000_000))
    store.put_attendances("A", [("B-1", attendance, 2)])
    store.put_attendance_if_newer("A", "B-1", attendance, 3)
    store.put_evaluation("A", "B-1", {"session_id": None, "evaluation_id": "e1", "submitted_at": "2027-10-14"})
    store.put_claim(
        "A",
        "B-1",
        version=2,
        evaluation_id="e1",
        submitted_at="2027-10-14",
        claimed={"AMA": {"S1": Decimal(1)}},
        totals={"AMA": Decimal(1)},
        claimed_at="2027-10-14",
    )
    store.put_certificate_version(
        {"certificate_id": "c1", "version": 2, "activity_id": "A", "badge_id": "B-1", "status": "valid"}
    )
    store.set_mail_state("c1", 2, "sent", expect="sending", message_id="m1")
    store.record_delivery("c1", 2, "delivered", message_id="m1", at="2027-10-14")
    store.revoke_certificate_version("c1", 2, reason="error", at="2027-10-15", by="organizer-1")
    kinds = {str(item["SK"]).split("#", 1)[0] for item in recording.items}
    assert {"SCAN", "ATT", "EVAL", "CLAIM", "V", "CURRENT"} <= kinds
    for item in recording.items:
        assert not TTL_ATTRIBUTES & {name.lower() for name in item}, item["SK"]
    assert len(recording.updates) == 3
    for update in recording.updates:
        written = " ".join([update["UpdateExpression"], *update.get("ExpressionAttributeNames", {}).values()])
        assert not TTL_ATTRIBUTES & set(re.findall(r"\w+", written.lower())), update["UpdateExpression"]


# ---------------------------------------------------------------------------------------------- HTTP API
def test_sign_in_requests_have_a_stricter_ceiling_than_the_rest_of_the_api(cfn: dict[str, Any]) -> None:
    stage = cfn["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
    default, login = stage["DefaultRouteSettings"], stage["RouteSettings"]["POST /login"]
    assert 0 < login["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
    assert 0 < login["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]
    assert stage["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}


# ---------------------------------------------------------------------------------------------- linters
def _summary(matches: Any) -> str:
    return "\n".join(f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})" for m in matches)


_SERVERLESS_RULES = "cfn_lint_serverless.rules"


def test_sam_template_passes_the_serverless_rules() -> None:
    """cfn-lint with cfn-lint-serverless (`cfn-lint template.yaml -a cfn_lint_serverless.rules`); each
    suppression sits on its resource with the reason."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(ts.TEMPLATE_PATH, config=ManualArgs(append_rules=[_SERVERLESS_RULES]))
    findings = [m for m in matches if m.rule.id[0] in "EW"]
    assert not findings, _summary(findings)


def test_transformed_template_passes_the_serverless_rules(cfn: dict[str, Any]) -> None:
    """ES1001 is left to the SAM template's run above: on the transformed template the rule cannot tell
    an SQS mapping (whose failures go to the queue's redrive DLQ; Lambda allows no on-failure destination
    there) from a stream mapping, which has one."""
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(regions=[ts.OFFLINE_REGION], append_rules=[_SERVERLESS_RULES], ignore_checks=["ES1001"])
    findings = [m for m in lint(json.dumps(cfn), config=config) if m.rule.id[0] in "EW"]
    assert not findings, _summary(findings)


def test_the_serverless_rules_are_loaded() -> None:
    """A wrong rules module would make the two tests above pass vacuously."""
    from cfnlint.api import ManualArgs, lint

    bare = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    config = ManualArgs(regions=[ts.OFFLINE_REGION], append_rules=[_SERVERLESS_RULES])
    assert "ES6000" in {m.rule.id for m in lint(json.dumps(bare), config=config)}


#: checkov checks suppressed in template.yaml, each with its reason next to the resource.
CHECKOV_SUPPRESSIONS = {
    "CKV_AWS_115",  # reserved concurrency per function
    "CKV_AWS_116",  # DLQ for asynchronous invocations (none are)
    "CKV_AWS_117",  # functions in a VPC
    "CKV_AWS_173",  # customer key for environment variables
    "CKV_AWS_158",  # customer key for log groups
    "CKV_AWS_27",  # KMS on queues (they use SSE-SQS)
    "CKV_AWS_119",  # customer key for the tables (AWS-managed KMS key)
    "CKV_AWS_28",  # point-in-time recovery of the idempotency table
    "CKV_AWS_18",  # access logging of the access-log bucket
    "CKV_AWS_21",  # versioning of the access-log bucket
    "CKV_AWS_149",  # customer key for the signing secret
    "CKV_AWS_26",  # encryption of the SNS topics
}


def _checkov() -> str | None:
    configured = os.environ.get("CME_CHECKOV")
    candidates = [configured] if configured else [str(ts.REPO_ROOT / ".venv-checkov" / "bin" / "checkov")]
    found = [c for c in candidates if c and Path(c).is_file()] or [shutil.which("checkov") or ""]
    return found[0] or None


@cache
def _checkov_results() -> dict[str, Any]:
    executable = _checkov()
    if executable is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("checkov is not installed: `make unit` creates .venv-checkov")
        pytest.skip("checkov is not installed (make unit creates .venv-checkov)")
    command = [executable, "--file", str(ts.TEMPLATE_PATH), "--framework", "cloudformation", "--output", "json"]
    command += ["--compact", "--skip-download"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "LOG_LEVEL": "ERROR"})
    assert run.stdout, run.stderr
    report = json.loads(run.stdout)
    return dict(report[0] if isinstance(report, list) else report)


def test_checkov_finds_nothing_unsuppressed() -> None:
    report = _checkov_results()
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 50


def test_every_checkov_suppression_is_known_and_says_why() -> None:
    for check in _checkov_results()["results"]["skipped_checks"]:
        reason = str(check["check_result"].get("suppress_comment") or "").strip()
        assert check["check_id"] in CHECKOV_SUPPRESSIONS, f"{check['check_id']} {check['resource']}"
        assert len(reason) >= 30 and reason != "No comment provided", f"{check['check_id']} {check['resource']}"
