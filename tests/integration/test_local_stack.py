"""The local stack behaves like the AWS wiring it stands in for: the template's resources exist,
a message that keeps failing ends in its queue's DLQ, a stream record that keeps failing goes to the
on-failure queue after MaximumRetryAttempts, and schedules fire when the clock reaches them."""

from __future__ import annotations

import json
from datetime import datetime

from builders import eventbridge_event, worked_example_activity
from cme_local.provision import Provisioner


def _queue_url(stack, logical_id):
    return stack.wiring.physical[logical_id]["QueueUrl"]


def _drain(stack, logical_id):
    from cme.adapters.aws import client

    sqs = client("sqs")
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=_queue_url(stack, logical_id), MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=_queue_url(stack, logical_id), ReceiptHandle=message["ReceiptHandle"])


def test_the_template_is_provisioned(stack):
    from cme.adapters.aws import client

    template = Provisioner(stack.root / "template.yaml")
    queues = [name for name, spec in template.resources.items() if spec["Type"] == "AWS::SQS::Queue"]
    assert set(queues) <= set(stack.wiring.physical)
    for logical_id in ("CheckInQueue", "SessionEndQueue", "EvaluationQueue", "CertificateQueue", "MailQueue"):
        attributes = client("sqs").get_queue_attributes(QueueUrl=_queue_url(stack, logical_id), AttributeNames=["All"])
        redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
        assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].endswith(
            logical_id.replace("Queue", "DLQ").lower()
        )
    described = client("dynamodb").describe_table(TableName=stack.environment["TABLE_NAME"])["Table"]
    assert described["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == {"GSI1"}
    assert {r.function for r in stack.wiring.routes} == {
        "OrganizerApiFunction",
        "IngestScansFunction",
        "LearnerApiFunction",
        "PublicApiFunction",
    }
    assert len(stack.wiring.queues) == 7
    streams = {m.function: m for m in stack.wiring.streams}
    assert set(streams) == {"StreamOutboxFunction", "CountChangesFunction"}
    # The counting mapping's tumbling window reaches the pollers (it is what names the shard).
    assert (
        streams["CountChangesFunction"].tumbling_window == 60 and streams["StreamOutboxFunction"].tumbling_window == 0
    )


def test_a_message_that_keeps_failing_ends_in_the_dlq(stack):
    from cme.adapters.aws import client

    poison = eventbridge_event("SessionEnded", {"activity_id": "no-such", "session_id": "S1", "reason": "manual"})
    poison["detail"] = "not an object"
    client("sqs").send_message(QueueUrl=_queue_url(stack, "SessionEndQueue"), MessageBody=json.dumps(poison))
    stack.settle()
    dead = _drain(stack, "SessionEndDLQ")
    assert [m["detail"] for m in dead] == ["not an object"]


def test_a_stream_record_that_keeps_failing_goes_to_the_on_failure_queue(stack, monkeypatch):
    from cme.adapters.aws import table
    from cme.service import outbox

    real = outbox.event_for_change

    def failing(name, new, old):
        if new and new.get("SK") == "ENDREQ#BROKEN":
            raise RuntimeError("cannot publish this one")
        return real(name, new, old)

    module = stack.host._module("StreamOutboxFunction")
    monkeypatch.setattr(module, "event_for_change", failing)
    items = table(stack.environment["TABLE_NAME"])
    base = {
        "activity_id": "stream-test",
        "ended_at": "2027-10-14T09:30:00-05:00",
        "reason": "manual",
        "requested_at": "x",
    }
    items.put_item(Item={"PK": "ACT#stream-test", "SK": "ENDREQ#BROKEN", "session_id": "BROKEN", **base})
    items.put_item(Item={"PK": "ACT#stream-test", "SK": "ENDREQ#FINE", "session_id": "FINE", **base})
    stack.settle()
    [failure] = _drain(stack, "StreamOutboxDLQ")
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    poller = stack.pump.streams[0]
    assert poller.discarded >= 1 and poller.filtered > 0


def test_schedules_fire_when_the_clock_reaches_them(stack, handlers, activity_id, clock):
    from cme.adapters import store

    clock("2027-10-14T07:00:00-05:00")
    handlers.put_activity(activity_id, worked_example_activity())
    stack.settle()
    assert store.finalized_sessions(activity_id) == set()
    clock("2027-10-14T09:30:00-05:00")  # S1 ends
    stack.settle()
    assert store.finalized_sessions(activity_id) == {"S1"}
    stack.set_clock(datetime.fromisoformat("2027-10-14T12:00:00-05:00"))
    stack.settle()
    assert store.finalized_sessions(activity_id) == {"S1", "S2", "S4"}


def test_clock_moves_list_the_schedule_group_only_after_it_changed(stack, handlers, activity_id, clock):
    """Each clock move looks for due schedules. The local AWS says what the group holds, so the group is
    listed again only when that moved (a schedule made, changed or fired), not at every move."""
    from cme.adapters import store
    from cme.adapters.aws import client

    clock("2027-10-14T07:00:00-05:00")
    handlers.put_activity(activity_id, worked_example_activity())
    stack.settle()
    lists: list[str] = []

    def count(**_):
        lists.append("ListSchedules")

    scheduler = client("scheduler")  # the pump's scheduler poller's client
    scheduler.meta.events.register("before-call.scheduler.ListSchedules", count)
    try:
        for minute in range(1, 7):  # nothing due, the group unchanged
            clock(f"2027-10-14T07:{minute:02d}:00-05:00")
        quiet = len(lists)
        clock("2027-10-14T09:30:00-05:00")  # S1's schedule is due: fired, then deleted
        stack.settle()
        assert store.finalized_sessions(activity_id) == {"S1"}
        fired = len(lists)
        clock("2027-10-14T09:31:00-05:00")  # the group moved (S1's schedule is gone): listed again
        clock("2027-10-14T09:32:00-05:00")
    finally:
        scheduler.meta.events.unregister("before-call.scheduler.ListSchedules", count)
    assert quiet <= 1, lists
    assert fired - quiet <= 1 and len(lists) - fired <= 1, lists
    stack.set_clock(datetime.fromisoformat("2027-10-14T12:00:00-05:00"))
    stack.settle()
    assert store.finalized_sessions(activity_id) == {"S1", "S2", "S4"}


def test_the_local_aws_counts_the_requests_it_serves_by_service(stack):
    """`/_cme/usage` (the demo's summary and `cme bench --only demo` read it): every AWS request once,
    under the service its signature names, and by operation (the JSON protocols' target, else the HTTP
    method); its own routes are not counted."""
    from cme.adapters.aws import client

    stack.settle()
    before = stack.aws_usage()
    stack.pending()
    client("sqs").list_queues()
    client("dynamodb").list_tables()
    client("dynamodb").describe_table(TableName=stack.environment["TABLE_NAME"])
    client("s3").list_buckets()
    after = stack.aws_usage()
    assert after["requests"] - before["requests"] == 4
    assert after["by_service"]["dynamodb"] - before["by_service"].get("dynamodb", 0) == 2
    assert after["by_service"]["sqs"] - before["by_service"].get("sqs", 0) == 1
    operations = {
        key: n - before["by_operation"].get(key, 0)
        for key, n in after["by_operation"].items()
        if n != before["by_operation"].get(key, 0)
    }
    assert operations == {"sqs ListQueues": 1, "dynamodb ListTables": 1, "dynamodb DescribeTable": 1, "s3 GET": 1}
    assert after["cpu_seconds"] > before["cpu_seconds"] > 0


def test_the_chaos_redrive_waits_while_an_idempotency_record_is_held(stack):
    """A record left in progress (a lost write's answer) is held until its invocation's deadline; the
    chaos run's redrive waits for that, as SQS's visibility timeout does on AWS. Completed records,
    expired holds and other items of the table (the sign-in rate counters) make it wait for nothing."""
    import time

    from cme.adapters.aws import document_client
    from cme_local.chaos_run import _wait_for_held_idempotency_records

    name = stack.environment["IDEMPOTENCY_TABLE"]
    dynamodb = document_client()
    now_ms = int(time.time() * 1000)
    dynamodb.put_item(TableName=name, Item={"id": "done", "status": "COMPLETED", "expiration": now_ms // 1000 + 600})
    dynamodb.put_item(
        TableName=name, Item={"id": "expired", "status": "INPROGRESS", "in_progress_expiration": now_ms - 5}
    )
    dynamodb.put_item(TableName=name, Item={"id": "rate#ip#x", "count": 3})
    assert _wait_for_held_idempotency_records(stack) == 0.0
    dynamodb.put_item(
        TableName=name, Item={"id": "held", "status": "INPROGRESS", "in_progress_expiration": now_ms + 1500}
    )
    began = time.monotonic()
    waited = _wait_for_held_idempotency_records(stack)
    assert 1.0 <= waited <= 2.5 and time.monotonic() - began >= 1.0
    assert _wait_for_held_idempotency_records(stack) == 0.0  # the hold is over
    for key in ("done", "expired", "rate#ip#x", "held"):
        dynamodb.delete_item(TableName=name, Key={"id": key})


def test_http_functions_take_turns_while_the_others_run_side_by_side(stack):
    """Powertools keeps the current request on a class attribute all HTTP resolvers of a process share:
    in one process the HTTP functions must not run at once (Lambda gives each its own process). Queue
    consumers run two batches at once (tests/unit/test_function_host.py shows how); stream consumers
    one, as a shard is read in order."""
    host = stack.host
    http = {r.function for r in stack.wiring.routes}
    assert len({id(host._slots[f]) for f in http}) == 1 and {host.slots(f) for f in http} == {1}
    assert host._slots["OnCheckInFunction"] is not host._slots["OnSessionEndFunction"]
    assert all(host._slots["OnCheckInFunction"] is not host._slots[f] for f in http)
    assert {host.slots(q.function) for q in stack.wiring.queues} == {2}
    assert {host.slots(m.function) for m in stack.wiring.streams} == {1}


def test_an_idle_pass_asks_the_local_aws_nothing_per_queue_or_stream(stack):
    """The pollers look at what is pending first: with nothing in flight a pass makes no receive and no
    stream read (Lambda's long polls cost the functions nothing; here each would be a request)."""
    from cme.adapters.aws import client

    stack.settle()
    seen: list[str] = []

    def count(event_name, **kwargs):
        seen.append(event_name)

    pollers = [client("sqs"), client("dynamodbstreams")]  # the clients the pump's pollers use
    for polling in pollers:
        polling.meta.events.register("before-call", count)
    try:
        for _ in range(3):
            assert stack.pump.pass_once() == 0
    finally:
        for polling in pollers:
            polling.meta.events.unregister("before-call", count)
    polls = [e for e in seen if e.endswith(("ReceiveMessage", "GetRecords", "GetShardIterator", "DescribeStream"))]
    assert polls == [], polls
    # And a message put on a queue is still found and delivered by the next pass.

    before = stack.status()["queues"]["OnMailEventFunction"]["delivered"]
    mail_events_url = next(q.queue_url for q in stack.wiring.queues if q.function == "OnMailEventFunction")
    client("sqs").send_message(
        QueueUrl=mail_events_url, MessageBody=json.dumps({"Type": "Notification", "Message": "{}"})
    )
    stack.settle()
    after = stack.status()["queues"]["OnMailEventFunction"]
    assert after["delivered"] + after["failed"] > before


def test_a_queue_holding_less_than_a_batch_is_received_once(stack):
    """Three messages on a queue of batch size ten: one poller takes them in one receive, and neither
    it nor the queue's second poller comes back for an empty one."""
    from cme.adapters.aws import client

    stack.settle()
    mapping = next(q for q in stack.wiring.queues if q.function == "OnSessionEndFunction")
    assert mapping.batch_size == 10 and stack.host.slots(mapping.function) == 2
    for n in range(3):  # sessions of no activity: each is logged and done
        event = eventbridge_event(
            "SessionEnded",
            {"activity_id": "no-such-activity", "session_id": f"S{n}", "ended_at": "2027-10-14T09:30:00-05:00"},
        )
        client("sqs").send_message(QueueUrl=mapping.queue_url, MessageBody=json.dumps(event))
    receives: list[str] = []

    def count(params, **_):
        if json.loads(params["body"]).get("QueueUrl") == mapping.queue_url:
            receives.append("ReceiveMessage")

    sqs = client("sqs")
    sqs.meta.events.register("before-call.sqs.ReceiveMessage", count)
    before = stack.status()["queues"]["OnSessionEndFunction"]["delivered"]
    try:
        stack.settle()
    finally:
        sqs.meta.events.unregister("before-call.sqs.ReceiveMessage", count)
    assert stack.status()["queues"]["OnSessionEndFunction"]["delivered"] == before + 3
    assert receives == ["ReceiveMessage"]


def test_ses_events_reach_the_topic_ten_a_request_one_message_each(stack):
    """The local stand-in for SES event publishing: each sent mail of the configuration set becomes one
    event on the topic (a delivery, or the mailbox simulator's bounce), published ten a request, and
    each arrives on the mail events queue as a message of its own with the mail's tags."""
    from email.message import EmailMessage

    from cme.adapters.aws import client
    from cme.adapters.mailer import send_raw
    from cme.mail.compose import TAGS_HEADER, tags_header

    stack.settle()
    _drain(stack, "MailEventsQueue")
    configuration_set = stack.environment["SES_CONFIGURATION_SET"]
    recipients = [f"learner{n}@example.org" for n in range(11)] + ["bounce@simulator.amazonses.com"]
    for n, to in enumerate(recipients):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "cme@example.org", to, "Your certificate"
        message["X-SES-CONFIGURATION-SET"] = configuration_set
        message[TAGS_HEADER] = tags_header({"certificate_id": f"c{n}", "version": "1"})
        message.set_content("x" * 200_000)  # a body as large as a certificate's is never parsed
        send_raw(message.as_bytes(), to)
    calls: list[str] = []

    def count(event_name, **_):
        calls.append(event_name.rsplit(".", 1)[-1])

    sns_events = client("sns").meta.events
    sns_events.register("before-call.sns", count)
    try:
        assert stack.pump.mail_events.poll_once() == len(recipients)
    finally:
        sns_events.unregister("before-call.sns", count)
    assert calls == ["PublishBatch", "PublishBatch"]  # 12 events: 10 and 2
    events = _drain(stack, "MailEventsQueue")
    assert sorted(e["mail"]["tags"]["certificate_id"][0] for e in events) == sorted(f"c{n}" for n in range(12))
    outcomes = {e["mail"]["destination"][0]: e["eventType"] for e in events}
    assert outcomes.pop("bounce@simulator.amazonses.com") == "Bounce"
    assert set(outcomes.values()) == {"Delivery"} and len(outcomes) == 11
    assert {e["mail"]["tags"]["ses:configuration-set"][0] for e in events} == {configuration_set}
