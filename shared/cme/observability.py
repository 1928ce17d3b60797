"""The logger and metrics objects every function shares. Log lines carry ids, never personal data."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger(log_uncaught_exceptions=True)
metrics = Metrics(namespace="CME")


def count(name: str, value: int) -> None:
    """Add a count to this invocation's metrics. Nothing when metrics are disabled (the local stack):
    Powertools would keep them across invocations and print every hundredth batch anyway."""
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
