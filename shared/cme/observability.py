"""The logger and metrics objects every function shares. Log lines carry ids, never personal data."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(log_uncaught_exceptions=True)
metrics = Metrics(namespace="CME")
