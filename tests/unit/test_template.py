"""template.yaml: lint clean before and after the SAM transform, and wired the way the pipeline needs.

Offline: aws-sam-translator transforms the template in-process (no credentials, no network).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import template_support as ts

pytestmark = pytest.mark.unit

# ---------------------------------------------------------------------------------------------- the wiring
FUNCTION_FOLDERS = {
    "OrganizerApiFunction": "organizer_api",
    "IngestScansFunction": "ingest_scans",
    "LearnerApiFunction": "learner_api",
    "PublicApiFunction": "public_api",
    "StreamOutboxFunction": "stream_outbox",
    "CountChangesFunction": "count_changes",
    "OnCheckInFunction": "on_check_in",
    "OnSessionEndFunction": "on_session_end",
    "OnEvaluationFunction": "on_evaluation",
    "IssueCertificateFunction": "issue_certificate",
    "SendCertificateMailFunction": "send_certificate_mail",
    "SendLearnerLinkFunction": "send_learner_link",
    "OnMailEventFunction": "on_mail_event",
}

#: consumer function -> (queue, its DLQ)
QUEUE_CONSUMERS = {
    "OnCheckInFunction": ("CheckInQueue", "CheckInDLQ"),
    "OnSessionEndFunction": ("SessionEndQueue", "SessionEndDLQ"),
    "OnEvaluationFunction": ("EvaluationQueue", "EvaluationDLQ"),
    "IssueCertificateFunction": ("CertificateQueue", "CertificateDLQ"),
    "SendCertificateMailFunction": ("MailQueue", "MailDLQ"),
    "SendLearnerLinkFunction": ("LinkQueue", "LinkDLQ"),
    "OnMailEventFunction": ("MailEventsQueue", "MailEventsDLQ"),
}

#: rule -> (detail-type it matches, queue it targets)
RULES = {
    "CheckInScannedRule": (["CheckInScanned"], "CheckInQueue"),
    "SessionEndedRule": (["SessionEnded"], "SessionEndQueue"),
    "EvaluationSubmittedRule": (["EvaluationSubmitted"], "EvaluationQueue"),
    "ClaimRecordedRule": (["ClaimRecorded"], "CertificateQueue"),
    "CertificateIssuedRule": (["CertificateIssued", "CertificateResendRequested"], "MailQueue"),
    "LearnerLinkRule": (["LearnerRegistered", "LoginLinkRequested"], "LinkQueue"),
}

ORGANIZER = "OrganizerAuthorizer"
PUBLIC = "NONE"
#: route key -> (function, authorizer)
ROUTES = {
    "PUT /activities/{activity_id}": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/reports/{name}": ("OrganizerApiFunction", ORGANIZER),
    "POST /activities/{activity_id}/attendees": ("OrganizerApiFunction", ORGANIZER),
    "POST /activities/{activity_id}/devices": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/devices": ("OrganizerApiFunction", ORGANIZER),
    "DELETE /activities/{activity_id}/devices/{device_id}": ("OrganizerApiFunction", ORGANIZER),
    "POST /activities/{activity_id}/sessions/{session_id}/end": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/dashboard": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/dashboard/recount": ("OrganizerApiFunction", ORGANIZER),
    "POST /activities/{activity_id}/dashboard/recount": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/attendees/{badge_id}": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/attendees/{badge_id}/link": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/review": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/certificates/{certificate_id}": ("OrganizerApiFunction", ORGANIZER),
    "POST /activities/{activity_id}/certificates/{certificate_id}/revoke": ("OrganizerApiFunction", ORGANIZER),
    "POST /activities/{activity_id}/certificates/{certificate_id}/reissue": ("OrganizerApiFunction", ORGANIZER),
    "POST /activities/{activity_id}/certificates/{certificate_id}/resend": ("OrganizerApiFunction", ORGANIZER),
    "PUT /activities/{activity_id}/branding/{kind}": ("OrganizerApiFunction", ORGANIZER),
    "GET /activities/{activity_id}/branding": ("OrganizerApiFunction", ORGANIZER),
    "DELETE /activities/{activity_id}/branding/{kind}": ("OrganizerApiFunction", ORGANIZER),
    "POST /scans": ("IngestScansFunction", PUBLIC),
    "GET /me": ("LearnerApiFunction", PUBLIC),
    "GET /me/evaluation-form": ("LearnerApiFunction", PUBLIC),
    "POST /evaluations": ("LearnerApiFunction", PUBLIC),
    "GET /certificates/{certificate_id}": ("LearnerApiFunction", PUBLIC),
    "GET /l/{token}": ("LearnerApiFunction", PUBLIC),
    "GET /l": ("LearnerApiFunction", PUBLIC),
    "GET /l/evaluation": ("LearnerApiFunction", PUBLIC),
    "POST /l/evaluation": ("LearnerApiFunction", PUBLIC),
    "GET /l/evaluation/{session_id}": ("LearnerApiFunction", PUBLIC),
    "POST /l/evaluation/{session_id}": ("LearnerApiFunction", PUBLIC),
    "GET /l/certificate": ("LearnerApiFunction", PUBLIC),
    "GET /login": ("LearnerApiFunction", PUBLIC),
    "POST /login": ("LearnerApiFunction", PUBLIC),
    "GET /verify/{certificate_id}": ("PublicApiFunction", PUBLIC),
    "GET /health": ("PublicApiFunction", PUBLIC),
    "GET /organizer/": ("PublicApiFunction", PUBLIC),
    "GET /organizer/activities/{activity_id}": ("PublicApiFunction", PUBLIC),
    "GET /organizer/callback": ("PublicApiFunction", PUBLIC),
    "GET /organizer/app.js": ("PublicApiFunction", PUBLIC),
    "GET /organizer/app.css": ("PublicApiFunction", PUBLIC),
    "GET /scanner": ("PublicApiFunction", PUBLIC),
    "GET /scanner-sw.js": ("PublicApiFunction", PUBLIC),
    "GET /scanner/app.js": ("PublicApiFunction", PUBLIC),
    "GET /scanner/app.css": ("PublicApiFunction", PUBLIC),
    "GET /scanner/jsqr.js": ("PublicApiFunction", PUBLIC),
    "GET /scanner/manifest.webmanifest": ("PublicApiFunction", PUBLIC),
    "GET /scanner/icon.svg": ("PublicApiFunction", PUBLIC),
    "GET /scanner/setup": ("IngestScansFunction", PUBLIC),
}

#: Environment variable names are a contract with the code.
GLOBAL_ENVIRONMENT = {
    "TABLE_NAME",
    "IDEMPOTENCY_TABLE",
    "EVENT_BUS_NAME",
    "EVENT_BUS_ARN",
    "CERTIFICATE_BUCKET",
    "SIGNING_SECRET_ARN",
    "SCHEDULE_GROUP",
    "SCHEDULER_ROLE_ARN",
    "MAIL_FROM",
    "MAIL_REPLY_TO",
    "SES_CONFIGURATION_SET",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "STAGE",
}
#: Only functions outside the HTTP API may reference it (else: a circular dependency).
FUNCTIONS_WITH_PUBLIC_BASE_URL = {
    "IssueCertificateFunction",
    "SendCertificateMailFunction",
    "OnEvaluationFunction",
    "SendLearnerLinkFunction",
}
MAIL_SENDERS = ("SendCertificateMailFunction", "SendLearnerLinkFunction")

FOURTEEN_DAYS = 14 * 24 * 3600


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return ts.load_sam_template()


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return ts.transformed_template()


def _ref(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def _lint_summary(matches: list[Any]) -> str:
    return "\n".join(f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})" for m in matches)


@cache
def _sam_lint_matches() -> tuple[Any, ...]:
    from cfnlint.api import lint_file

    return tuple(lint_file(ts.TEMPLATE_PATH))


# ---------------------------------------------------------------------------------------------- lint
def test_sam_template_has_no_cfn_lint_errors_or_warnings() -> None:
    findings = [m for m in _sam_lint_matches() if m.rule.id[0] in "EW"]
    assert not findings, _lint_summary(findings)


def test_transformed_template_has_no_cfn_lint_errors_or_warnings(cfn: dict[str, Any]) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(cfn), config=ManualArgs(regions=[ts.OFFLINE_REGION]))
    findings = [m for m in matches if m.rule.id[0] in "EW"]
    assert not findings, _lint_summary(findings)


# ---------------------------------------------------------------------------------------------- functions
def test_every_function_runs_python313_on_arm64_with_the_shared_layer(cfn: dict[str, Any]) -> None:
    functions = ts.resources_of_type(cfn, "AWS::Lambda::Function")
    assert set(functions) == set(FUNCTION_FOLDERS)
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13", logical_id
        assert properties["Architectures"] == ["arm64"], logical_id
        assert properties["Handler"] == "app.handler", logical_id
        # SAM suffixes the layer version's logical id with a content hash.
        (layer_id,) = [_ref(layer) for layer in properties["Layers"]]
        assert layer_id.startswith("SharedLayer"), logical_id
        assert cfn["Resources"][layer_id]["Type"] == "AWS::Lambda::LayerVersion", logical_id


def test_each_function_has_its_folder_service_name_and_log_group(sam: dict[str, Any]) -> None:
    resources = sam["Resources"]
    log_groups = {
        resource["Properties"]["LogGroupName"]["Fn::Sub"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in resource["Properties"]
    }
    for logical_id, folder in FUNCTION_FOLDERS.items():
        properties = resources[logical_id]["Properties"]
        assert properties["CodeUri"] == f"functions/{folder}/", logical_id
        assert properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == folder, logical_id
        assert f"/aws/lambda/${{{logical_id}}}" in log_groups, logical_id


def test_shared_layer_is_built_for_python313_arm64(sam: dict[str, Any]) -> None:
    layer = sam["Resources"]["SharedLayer"]
    assert layer["Properties"]["ContentUri"] == "shared/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_environment_variable_contract(cfn: dict[str, Any]) -> None:
    for logical_id, function in ts.resources_of_type(cfn, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert set(variables) >= GLOBAL_ENVIRONMENT, logical_id
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "CME"
        has_base_url = "PUBLIC_BASE_URL" in variables
        assert has_base_url == (logical_id in FUNCTIONS_WITH_PUBLIC_BASE_URL), logical_id
        if has_base_url:
            assert variables["PUBLIC_BASE_URL"]["Fn::If"][0] == "HasPublicBaseUrl"


def test_function_timeouts_and_memory(cfn: dict[str, Any]) -> None:
    functions = ts.resources_of_type(cfn, "AWS::Lambda::Function")
    for logical_id, function in functions.items():
        expected_timeout = 60 if logical_id in ("IssueCertificateFunction", *MAIL_SENDERS) else 15
        expected_memory = 1024 if logical_id == "IssueCertificateFunction" else 512
        assert function["Properties"]["Timeout"] == expected_timeout, logical_id
        assert function["Properties"]["MemorySize"] == expected_memory, logical_id


# ---------------------------------------------------------------------------------------------- queues
def _mappings(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return ts.resources_of_type(cfn, "AWS::Lambda::EventSourceMapping")


def _sqs_mappings(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    queues = ts.resources_of_type(cfn, "AWS::SQS::Queue")
    return {
        logical_id: mapping
        for logical_id, mapping in _mappings(cfn).items()
        if _ref(mapping["Properties"]["EventSourceArn"]) in queues
    }


def test_every_sqs_mapping_reports_batch_item_failures(cfn: dict[str, Any]) -> None:
    mappings = _sqs_mappings(cfn)
    assert len(mappings) == len(QUEUE_CONSUMERS)
    for logical_id, mapping in mappings.items():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], logical_id


def test_each_consumer_reads_its_queue(cfn: dict[str, Any]) -> None:
    wiring = {
        _ref(mapping["Properties"]["FunctionName"]): _ref(mapping["Properties"]["EventSourceArn"])
        for mapping in _sqs_mappings(cfn).values()
    }
    assert wiring == {function: queue for function, (queue, _) in QUEUE_CONSUMERS.items()}


@pytest.mark.parametrize("sender", MAIL_SENDERS)
def test_mail_consumer_is_throttled_for_ses(cfn: dict[str, Any], sender: str) -> None:
    (mapping,) = (m for m in _sqs_mappings(cfn).values() if _ref(m["Properties"]["FunctionName"]) == sender)
    assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] == 2


def test_consumed_queues_redrive_to_a_dlq_with_room_for_retries(cfn: dict[str, Any]) -> None:
    resources = cfn["Resources"]
    for mapping in _sqs_mappings(cfn).values():
        function_id = _ref(mapping["Properties"]["FunctionName"])
        queue_id = _ref(mapping["Properties"]["EventSourceArn"])
        queue = resources[queue_id]["Properties"]
        redrive = queue["RedrivePolicy"]
        assert _ref(redrive["deadLetterTargetArn"]) == QUEUE_CONSUMERS[function_id][1], queue_id
        assert redrive["maxReceiveCount"] == 5, queue_id
        timeout = resources[function_id]["Properties"]["Timeout"]
        assert queue["VisibilityTimeout"] >= 6 * timeout, queue_id


def _dead_letter_queues(cfn: dict[str, Any]) -> set[str]:
    resources = cfn["Resources"]
    dlqs = {
        _ref(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in ts.resources_of_type(cfn, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }
    for mapping in _mappings(cfn).values():
        on_failure = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure")
        if on_failure:
            dlqs.add(_ref(on_failure["Destination"]))
    for rule in ts.resources_of_type(cfn, "AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            if "DeadLetterConfig" in target:
                dlqs.add(_ref(target["DeadLetterConfig"]["Arn"]))
    assert all(resources[dlq]["Type"] == "AWS::SQS::Queue" for dlq in dlqs)
    return dlqs


def test_every_dlq_keeps_messages_14_days_and_has_an_alarm(cfn: dict[str, Any]) -> None:
    dlqs = _dead_letter_queues(cfn)
    assert dlqs >= {dlq for _, dlq in QUEUE_CONSUMERS.values()} | {"StreamOutboxDLQ", "CountChangesDLQ"}
    alarmed = {}
    for alarm in ts.resources_of_type(cfn, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if properties.get("MetricName") != "ApproximateNumberOfMessagesVisible":
            continue
        (dimension,) = properties["Dimensions"]
        alarmed[_ref(dimension["Value"])] = properties
    for dlq in dlqs:
        assert cfn["Resources"][dlq]["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS, dlq
        assert dlq in alarmed, f"{dlq} has no alarm"
        alarm = alarmed[dlq]
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold", dlq
        assert [_ref(action) for action in alarm["AlarmActions"]] == ["AlarmTopic"], dlq


def test_every_queue_is_encrypted(cfn: dict[str, Any]) -> None:
    for logical_id, queue in ts.resources_of_type(cfn, "AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, logical_id


# ---------------------------------------------------------------------------------------------- events
@pytest.mark.parametrize(("rule_id", "detail_types", "queue_id"), [(r, *v) for r, v in RULES.items()])
def test_rule_sends_its_detail_type_to_its_queue(
    cfn: dict[str, Any], rule_id: str, detail_types: list[str], queue_id: str
) -> None:
    resources = cfn["Resources"]
    rule = resources[rule_id]["Properties"]
    assert _ref(rule["EventBusName"]) == "EventBus"
    assert rule["EventPattern"] == {"source": ["cme"], "detail-type": detail_types}
    (target,) = rule["Targets"]
    assert _ref(target["Arn"]) == queue_id
    # ...and the queue lets exactly that rule send to it.
    policies = [
        policy["Properties"]
        for policy in ts.resources_of_type(cfn, "AWS::SQS::QueuePolicy").values()
        if [_ref(q) for q in policy["Properties"]["Queues"]] == [queue_id]
    ]
    assert len(policies) == 1, queue_id
    (statement,) = policies[0]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert _ref(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == rule_id


def test_bus_is_archived_for_replay(cfn: dict[str, Any]) -> None:
    (archive,) = ts.resources_of_type(cfn, "AWS::Events::Archive").values()
    assert _ref(archive["Properties"]["SourceArn"]) == "EventBus"
    assert archive["Properties"]["RetentionDays"] > 0


def _stream_mappings(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    mappings = [m["Properties"] for m in _mappings(cfn).values() if _ref(m["Properties"]["EventSourceArn"]) == "Table"]
    return {_ref(m["FunctionName"]): m for m in mappings}


def test_stream_outbox_cannot_block_a_shard(cfn: dict[str, Any]) -> None:
    resources = cfn["Resources"]
    mapping = _stream_mappings(cfn)["StreamOutboxFunction"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert _ref(mapping["DestinationConfig"]["OnFailure"]["Destination"]) == "StreamOutboxDLQ"
    assert resources["StreamOutboxDLQ"]["Type"] == "AWS::SQS::Queue"


def test_only_the_outbox_and_the_counts_read_the_stream(cfn: dict[str, Any]) -> None:
    assert set(_stream_mappings(cfn)) == {"StreamOutboxFunction", "CountChangesFunction"}


def test_counts_get_the_shard_id_and_records_in_order(cfn: dict[str, Any]) -> None:
    """The count items' marks need the shard id (given only with a tumbling window) and one batch at a
    time per shard; a failing batch is split and retried, then parked, never blocking the shard."""
    mapping = _stream_mappings(cfn)["CountChangesFunction"]
    assert mapping["TumblingWindowInSeconds"] > 0
    assert mapping.get("ParallelizationFactor", 1) == 1
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 10
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert _ref(mapping["DestinationConfig"]["OnFailure"]["Destination"]) == "CountChangesDLQ"
    (pattern,) = (json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"])
    kinds = pattern["dynamodb"]["Keys"]["SK"]["S"]
    assert "SCAN#" not in json.dumps(kinds)  # scans count through the presence record they update
    assert {"PROFILE", "LIVE", "CLAIM", "CURRENT"} <= {k for k in kinds if isinstance(k, str)}


def test_session_end_schedules_can_only_put_events_on_the_bus(cfn: dict[str, Any]) -> None:
    role = cfn["Resources"]["SchedulerRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Fn::GetAtt": ["EventBus", "Arn"]}}
    ]


# ---------------------------------------------------------------------------------------------- data
def test_table_keeps_records_for_years(cfn: dict[str, Any]) -> None:
    table = cfn["Resources"]["Table"]
    properties = table["Properties"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    (gsi,) = properties["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "GSI1"
    assert gsi["KeySchema"] == [
        {"AttributeName": "GSI1PK", "KeyType": "HASH"},
        {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    assert {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]} == {
        "PK": "S",
        "SK": "S",
        "GSI1PK": "S",
        "GSI1SK": "S",
    }
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert "TimeToLiveSpecification" not in properties


def test_idempotency_table_expires_records(cfn: dict[str, Any]) -> None:
    properties = cfn["Resources"]["IdempotencyTable"]["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"


def test_certificate_bucket_is_private_encrypted_versioned_tls_only_and_never_expires(
    cfn: dict[str, Any],
) -> None:
    resources = cfn["Resources"]
    bucket = resources["CertificateBucket"]
    properties = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert _ref(properties["LoggingConfiguration"]["DestinationBucketName"]) == "AccessLogBucket"

    rules = properties["LifecycleConfiguration"]["Rules"]
    for rule in rules:
        assert not {"ExpirationInDays", "ExpirationDate", "ExpiredObjectDeleteMarker"} & set(rule), rule["Id"]
    transitions = {t["StorageClass"]: t["TransitionInDays"] for rule in rules for t in rule.get("Transitions", [])}
    assert transitions == {"STANDARD_IA": 90, "GLACIER_IR": 365}

    (policy,) = (
        p["Properties"]
        for p in ts.resources_of_type(cfn, "AWS::S3::BucketPolicy").values()
        if _ref(p["Properties"]["Bucket"]) == "CertificateBucket"
    )
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_access_log_bucket_is_private_and_encrypted(cfn: dict[str, Any]) -> None:
    properties = cfn["Resources"]["AccessLogBucket"]["Properties"]
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }


# ---------------------------------------------------------------------------------------------- HTTP API
def _api_routes(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = cfn["Resources"]["HttpApi"]["Properties"]["Body"]
    return {
        f"{method.upper()} {path}": operation
        for path, ops in body["paths"].items()
        for method, operation in ops.items()
    }


def test_every_route_exists_with_its_function_and_authorizer(cfn: dict[str, Any]) -> None:
    routes = _api_routes(cfn)
    assert set(routes) >= set(ROUTES)
    for route_key, operation in routes.items():
        uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        security = [name for requirement in operation["security"] for name in requirement]
        if route_key in ROUTES:
            function, authorizer = ROUTES[route_key]
            assert f"${{{function}.Arn}}" in uri, route_key
            assert security == [authorizer], route_key
        else:  # a route added later: secure unless it says otherwise
            assert security, route_key


def test_organizer_authorizer_trusts_the_user_pool(cfn: dict[str, Any]) -> None:
    body = cfn["Resources"]["HttpApi"]["Properties"]["Body"]
    authorizer = body["components"]["securitySchemes"][ORGANIZER]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "jwt"
    assert "${OrganizerUserPool}" in authorizer["jwtConfiguration"]["issuer"]["Fn::Sub"]
    assert [_ref(a) for a in authorizer["jwtConfiguration"]["audience"]] == ["OrganizerUserPoolClient"]


def test_user_pool_carries_activities_claim_organizers_cannot_write(cfn: dict[str, Any]) -> None:
    resources = cfn["Resources"]
    schema = {a["Name"]: a for a in resources["OrganizerUserPool"]["Properties"]["Schema"]}
    assert schema["activities"]["AttributeDataType"] == "String"
    assert schema["activities"]["Mutable"] is True
    client = resources["OrganizerUserPoolClient"]["Properties"]
    assert "custom:activities" in client["ReadAttributes"]
    assert "custom:activities" not in client["WriteAttributes"]
    assert resources["OrganizersGroup"]["Properties"]["GroupName"] == "organizers"


def test_organizer_page_signs_in_through_the_hosted_ui_only_when_there_is_one(cfn: dict[str, Any]) -> None:
    """The page returns to the callback URL registered on the user pool client; without a hosted UI it gets
    no sign-in settings at all (and takes a `#token=` fragment instead)."""
    resources = cfn["Resources"]
    variables = resources["PublicApiFunction"]["Properties"]["Environment"]["Variables"]
    for name in ("ORGANIZER_SIGN_IN_URL", "ORGANIZER_CLIENT_ID", "ORGANIZER_CALLBACK_URL"):
        condition, _, otherwise = variables[name]["Fn::If"]
        assert condition == "HasHostedUi" and otherwise == {"Ref": "AWS::NoValue"}, name
    assert _ref(variables["ORGANIZER_CLIENT_ID"]["Fn::If"][1]) == "OrganizerUserPoolClient"
    callbacks = resources["OrganizerUserPoolClient"]["Properties"]["CallbackURLs"]["Fn::If"]
    assert callbacks[0] == "HasHostedUi"
    assert callbacks[1] == [variables["ORGANIZER_CALLBACK_URL"]["Fn::If"][1]]


def test_access_log_records_route_keys_never_raw_paths(cfn: dict[str, Any]) -> None:
    """Learner magic links carry their token in the path (`/l/{token}`): the log names the route only,
    never the path, a query string, request overrides or request parameters."""
    stage = cfn["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
    log_format = stage["AccessLogSettings"]["Format"]
    assert "$context.routeKey" in log_format
    for field in ("$context.path", "$context.rawPath", "$context.requestOverride", "$request.", "$input."):
        assert field.lower() not in log_format.lower(), field
    assert "querystring" not in log_format.lower()
    json.loads(log_format)
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert (
        stage["RouteSettings"]["POST /scans"]["ThrottlingRateLimit"]
        > stage["DefaultRouteSettings"]["ThrottlingRateLimit"]
    )


# ---------------------------------------------------------------------------------------------- IAM
def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def test_no_allow_statement_grants_wildcard_actions(cfn: dict[str, Any]) -> None:
    checked = 0
    for logical_id, statement in ts.iter_policy_statements(cfn):
        if statement.get("Effect") != "Allow":
            continue  # a Deny on s3:* (TLS only) is the safe form
        for action in _actions(statement):
            checked += 1
            assert action != "*" and not action.endswith("*"), f"{logical_id}: {action}"
    assert checked > 50


@pytest.mark.parametrize("sender", MAIL_SENDERS)
def test_mail_sender_may_send_only_as_the_sender_identity(cfn: dict[str, Any], sender: str) -> None:
    role = cfn["Resources"][f"{sender}Role"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    (ses,) = [s for s in statements if any(a.startswith("ses:") for a in _actions(s))]
    assert sorted(_actions(ses)) == ["ses:SendEmail", "ses:SendRawEmail"]
    resources = json.dumps(ses["Resource"])
    assert "identity/" in resources and "configuration-set/" in resources
    assert '"*"' not in resources
    other_roles = {
        logical_id
        for logical_id, statement in ts.iter_policy_statements(cfn)
        if any(a.startswith("ses:") for a in _actions(statement))
    }
    assert other_roles == {f"{name}Role" for name in MAIL_SENDERS}


def test_only_the_organizer_api_manages_schedules_and_passes_the_scheduler_role(cfn: dict[str, Any]) -> None:
    holders = {
        logical_id
        for logical_id, statement in ts.iter_policy_statements(cfn)
        if any(a.startswith("scheduler:") or a == "iam:PassRole" for a in _actions(statement))
    }
    assert holders == {"OrganizerApiFunctionRole"}


# ---------------------------------------------------------------------------------------------- outputs, loader
def test_outputs(sam: dict[str, Any]) -> None:
    assert set(sam["Outputs"]) >= {
        "ApiUrl",
        "TableName",
        "EventBusName",
        "CertificateBucketName",
        "UserPoolId",
        "UserPoolClientId",
    }


def test_yaml_loader_expands_short_form_tags() -> None:
    from cme_local.cfn_yaml import loads_template

    template = loads_template(
        "A: !Ref X\n"
        "B: !GetAtt Res.Attr.Nested\n"
        "C: !Sub ['${D}', {D: !Select [1, !Split ['@', !Ref M]]}]\n"
        "D: !If [Cond, !Ref AWS::NoValue, [1]]\n"
        "E: !Not [!Condition Other]\n"
        "Version: 2012-10-17\n"
    )
    assert template == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Res", "Attr.Nested"]},
        "C": {"Fn::Sub": ["${D}", {"D": {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "M"}]}]}}]},
        "D": {"Fn::If": ["Cond", {"Ref": "AWS::NoValue"}, [1]]},
        "E": {"Fn::Not": [{"Condition": "Other"}]},
        "Version": "2012-10-17",
    }


def test_yaml_loader_rejects_duplicate_keys() -> None:
    from cme_local.cfn_yaml import CfnYamlError, loads_template

    with pytest.raises(CfnYamlError, match="duplicate key"):
        loads_template("Resources:\n  A: 1\n  A: 2\n")
