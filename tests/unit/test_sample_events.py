"""events/ holds a sample event per function in real AWS envelopes: current, and wired as the template says."""

from __future__ import annotations

import json

import pytest

from cme_local.cfn_yaml import load_template
from make_sample_events import ROOT, render

SAMPLES = render()
TEMPLATE = load_template(ROOT / "template.yaml")


def _function_for_folder(folder: str) -> dict:
    for spec in TEMPLATE["Resources"].values():
        if spec["Type"] == "AWS::Serverless::Function" and spec["Properties"]["CodeUri"].rstrip("/").endswith(folder):
            return spec["Properties"]
    raise AssertionError(f"no function for {folder}")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_files_are_current(name):
    assert (ROOT / "events" / name).read_text() == SAMPLES[name], "run: python tests/make_sample_events.py"


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if json.loads(SAMPLES[n]).get("version") == "2.0"))
def test_http_samples_use_a_route_of_their_function(name):
    event = json.loads(SAMPLES[name])
    function = _function_for_folder(name.split("/")[0])
    routes = {
        f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}"
        for e in function["Events"].values()
        if e["Type"] == "HttpApi"
    }
    assert event["routeKey"] in routes


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if "eventSource" in SAMPLES[n] and "aws:sqs" in SAMPLES[n]))
def test_queue_samples_carry_the_detail_type_their_queue_receives(name):
    event = json.loads(SAMPLES[name])
    function = _function_for_folder(name.split("/")[0])
    [queue_event] = [e for e in function["Events"].values() if e["Type"] == "SQS"]
    queue = queue_event["Properties"]["Queue"]["Fn::GetAtt"][0]
    rules = [
        spec["Properties"]
        for spec in TEMPLATE["Resources"].values()
        if spec["Type"] == "AWS::Events::Rule"
        and any(t["Arn"] == {"Fn::GetAtt": [queue, "Arn"]} for t in spec["Properties"]["Targets"])
    ]
    detail_types = {t for rule in rules for t in rule["EventPattern"]["detail-type"]}
    for record in event["Records"]:
        assert json.loads(record["body"])["detail-type"] in detail_types
