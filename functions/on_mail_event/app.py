"""SES mail events (delivery, bounce, complaint) → recorded on the certificate version (idempotent:
a repeated or out-of-order event never undoes a worse outcome)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cme.observability import logger
from cme.service.mail_events import record_mail_event, ses_event

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> Any:
    return record_mail_event(ses_event(record.body))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=_record, processor=processor, context=context))
