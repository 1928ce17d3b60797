"""Helpers for tests that read template.yaml: load it, transform it offline, walk the result.

The YAML loader lives in `cme_local.cfn_yaml` (the local stack needs it at run time); this module
adds what only tests need: the offline SAM transform (aws-sam-translator, a dev dependency) and
small accessors over the transformed CloudFormation.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

try:
    from cme_local.cfn_yaml import load_template
except ImportError:  # the package is not installed: import it from the source tree
    sys.path.insert(0, str(REPO_ROOT / "infra"))
    from cme_local.cfn_yaml import load_template

__all__ = [
    "REPO_ROOT",
    "TEMPLATE_PATH",
    "iter_policy_statements",
    "load_sam_template",
    "load_template",
    "resources_of_type",
    "transform_template",
    "transformed_template",
]

#: Region and account the offline transform pretends to run in.
OFFLINE_REGION = "us-east-1"
OFFLINE_ACCOUNT_ID = "123456789012"


@cache
def _load_sam_template_cached(path: str) -> dict[str, Any]:
    return load_template(path)


def load_sam_template(path: str | Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml as a dict (long-form intrinsics); a fresh copy on every call."""
    return copy.deepcopy(_load_sam_template_cached(str(path)))


class _StubManagedPolicyLoader:
    """Stands in for the IAM ListPolicies call the translator makes to resolve managed policy names.

    It answers with the AWS managed policies whose names a template may use; none needs the network.
    """

    _ARNS: ClassVar[dict[str, str]] = {
        "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "AWSLambdaDynamoDBExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "AWSLambdaVPCAccessExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        "AWSLambdaExecute": "arn:aws:iam::aws:policy/AWSLambdaExecute",
        "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    }

    def load(self) -> dict[str, str]:
        return dict(self._ARNS)


def _rewrite_code_uris(template: dict[str, Any]) -> None:
    """Local paths become s3:// URIs, as `sam package` would leave them (the translator needs that)."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://cme-offline-artifacts/{logical_id}.zip"


def transform_template(sam_template: dict[str, Any], parameter_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Translate a SAM template dict to CloudFormation offline (no AWS credentials or network)."""
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(sam_template)
    _rewrite_code_uris(template)
    previous_region = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = OFFLINE_REGION
    try:
        return transform(template, dict(parameter_values or {}), _StubManagedPolicyLoader())
    finally:
        if previous_region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous_region


@cache
def _transformed_cached(path: str) -> dict[str, Any]:
    return transform_template(_load_sam_template_cached(path))


def transformed_template(path: str | Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml transformed to CloudFormation; a fresh copy on every call."""
    return copy.deepcopy(_transformed_cached(str(path)))


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one CloudFormation type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


#: Resources whose one PolicyDocument holds IAM policy statements (identity or resource policies).
_POLICY_DOCUMENT_TYPES = (
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
)


def iter_policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) for every statement of every policy document in a CloudFormation template:
    roles' inline policies and trust policies, managed and inline IAM policies, and resource policies
    (bucket, queue, topic)."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        documents: list[Any] = []
        resource_type = resource.get("Type")
        if resource_type == "AWS::IAM::Role":
            documents.append(properties.get("AssumeRolePolicyDocument"))
            documents.extend(policy.get("PolicyDocument") for policy in properties.get("Policies") or [])
        elif resource_type in _POLICY_DOCUMENT_TYPES:
            documents.append(properties.get("PolicyDocument"))
        for document in documents:
            if not isinstance(document, dict):
                continue
            statements = document.get("Statement") or []
            if isinstance(statements, dict):
                statements = [statements]
            for statement in statements:
                yield logical_id, statement
