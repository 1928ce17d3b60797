"""Provision the local AWS (moto) from template.yaml and read the wiring the template declares.

The template is the one description of the application: tables, buckets, queues with their DLQs,
the bus and its rules, the secret, the schedule group and SES come from it, and so do the functions'
environment, HTTP routes, queue and stream event source mappings. Nothing here repeats it."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cme_local.cfn_yaml import load_template

REGION = "us-east-1"
ACCOUNT = "123456789012"
NO_VALUE = object()


class Unresolved(Exception):
    """An intrinsic refers to something not provisioned (yet)."""


@dataclass
class Route:
    method: str
    path: str
    function: str
    authorizer: str | None
    pattern: re.Pattern[str]
    names: list[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class QueueMapping:
    function: str
    queue_arn: str
    queue_url: str
    batch_size: int
    partial_failures: bool


@dataclass
class StreamMapping:
    function: str
    stream_arn: str
    batch_size: int
    max_retries: int
    on_failure_queue_url: str | None
    partial_failures: bool
    starting_position: str
    filters: list[dict[str, Any]] = field(default_factory=list)
    tumbling_window: int = 0


@dataclass
class FunctionSpec:
    logical_id: str
    folder: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int


@dataclass
class Wiring:
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    queues: list[QueueMapping] = field(default_factory=list)
    streams: list[StreamMapping] = field(default_factory=list)
    physical: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: SES configuration set event destinations on SNS: (configuration set, topic ARN, event types).
    mail_event_destinations: list[tuple[str, str, list[str]]] = field(default_factory=list)


def _route_pattern(path: str) -> tuple[re.Pattern[str], list[str]]:
    names: list[str] = []

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.endswith("+"):
            names.append(name[:-1])
            return f"(?P<{name[:-1]}>.+)"
        names.append(name)
        return f"(?P<{name}>[^/]+)"

    regex = re.sub(r"\{([^}]+)\}", repl, re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
    return re.compile(f"^{regex}$"), names


class Provisioner:
    """Creates the template's resources in moto and resolves intrinsics against what it created."""

    #: Created in this order (a later type may refer to an earlier one).
    ORDER = (
        "AWS::SecretsManager::Secret",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::Events::EventBus",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::IAM::Role",
        "AWS::SES::ConfigurationSet",
        "AWS::SES::EmailIdentity",
        "AWS::Events::Rule",
    )

    def __init__(self, template_path: Path, *, stack_name: str = "cme-local", parameters: dict[str, str] | None = None):
        self.doc = load_template(template_path)
        self.root = template_path.parent
        self.stack = stack_name
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in (self.doc.get("Parameters") or {}).items()
        }
        self.parameters.update(parameters or {})
        self.physical: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, Any]] = self.doc["Resources"]

    # ---- intrinsics -------------------------------------------------------------------------------

    def _pseudo(self, name: str) -> str:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack}/local",
        }[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]["Ref"]
        if name in self.resources and self.resources[name]["Type"] not in self.ORDER:
            return f"{self.stack}-{name}".lower()
        raise Unresolved(name)

    def get_att(self, name: str, attribute: str) -> Any:
        if name in self.physical and attribute in self.physical[name]:
            return self.physical[name][attribute]
        if name in self.resources and self.resources[name]["Type"] not in self.ORDER:
            return f"arn:aws:local:{REGION}:{ACCOUNT}:{name}/{attribute}"
        raise Unresolved(f"{name}.{attribute}")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.doc.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self._sub(text, variables)
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b"]
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return str(self.get_att(resource, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", repl, text)

    # ---- resources --------------------------------------------------------------------------------

    def _name(self, logical_id: str, limit: int = 63) -> str:
        return f"{self.stack}-{logical_id}".lower()[:limit]

    def provision(self, clients: Any) -> Wiring:
        pending = [
            (logical_id, spec)
            for kind in self.ORDER
            for logical_id, spec in self.resources.items()
            if spec["Type"] == kind and self._wanted(spec)
        ]
        while pending:
            left = []
            for logical_id, spec in pending:
                try:
                    props = self.resolve(spec.get("Properties", {}))
                except Unresolved:
                    left.append((logical_id, spec))
                    continue
                self.physical[logical_id] = self._create(clients, logical_id, spec["Type"], props)
            if len(left) == len(pending):
                raise RuntimeError(f"cannot resolve: {[name for name, _ in left]}")
            pending = left
        self.physical["HttpApi"] = {"Ref": "local"}
        return self._wiring(clients)

    def _wanted(self, spec: dict[str, Any]) -> bool:
        return "Condition" not in spec or self.condition(spec["Condition"])

    def _create(self, clients: Any, logical_id: str, kind: str, props: dict[str, Any]) -> dict[str, Any]:
        arn_base = f"{REGION}:{ACCOUNT}"
        if kind == "AWS::SecretsManager::Secret":
            name = self._name(logical_id)
            value = secrets.token_urlsafe(48)
            arn = clients("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
            return {"Ref": arn, "Id": arn}
        if kind == "AWS::DynamoDB::Table":
            name = self._name(logical_id)
            request: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if props.get("GlobalSecondaryIndexes"):
                request["GlobalSecondaryIndexes"] = [
                    {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                    for index in props["GlobalSecondaryIndexes"]
                ]
            stream = props.get("StreamSpecification")
            if stream:
                request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
            described = clients("dynamodb").create_table(**request)["TableDescription"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                clients("dynamodb").update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
            return {
                "Ref": name,
                "Arn": described["TableArn"],
                "StreamArn": described.get("LatestStreamArn", ""),
            }
        if kind == "AWS::S3::Bucket":
            name = self._name(logical_id).replace("_", "-")
            s3 = clients("s3")
            s3.create_bucket(Bucket=name)
            if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            return {"Ref": name, "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
        if kind == "AWS::SQS::Queue":
            name = self._name(logical_id, 80)
            attributes = {}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            if "VisibilityTimeout" in props:
                attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
            url = clients("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            return {"Ref": url, "Arn": f"arn:aws:sqs:{arn_base}:{name}", "QueueName": name, "QueueUrl": url}
        if kind == "AWS::SNS::Topic":
            arn = clients("sns").create_topic(Name=self._name(logical_id))["TopicArn"]
            return {"Ref": arn, "TopicArn": arn, "TopicName": self._name(logical_id)}
        if kind == "AWS::SNS::Subscription":
            attributes = {"RawMessageDelivery": "true"} if props.get("RawMessageDelivery") else {}
            arn = clients("sns").subscribe(
                TopicArn=self.resolve(props["TopicArn"]),
                Protocol=props["Protocol"],
                Endpoint=self.resolve(props["Endpoint"]),
                Attributes=attributes,
            )["SubscriptionArn"]
            return {"Ref": arn}
        if kind == "AWS::Events::EventBus":
            name = self._name(logical_id)
            arn = clients("events").create_event_bus(Name=name)["EventBusArn"]
            return {"Ref": name, "Arn": arn, "Name": name}
        if kind == "AWS::Scheduler::ScheduleGroup":
            name = self._name(logical_id)
            arn = clients("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
            return {"Ref": name, "Arn": arn}
        if kind == "AWS::IAM::Role":
            name = self._name(logical_id)
            return {"Ref": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "RoleId": name}
        if kind == "AWS::SES::ConfigurationSet":
            name = self._name(logical_id)
            clients("sesv2").create_configuration_set(ConfigurationSetName=name)
            return {"Ref": name}
        if kind == "AWS::SES::EmailIdentity":
            identity = props["EmailIdentity"]
            clients("sesv2").create_email_identity(EmailIdentity=identity)
            clients("ses").verify_email_identity(EmailAddress=identity)
            return {"Ref": identity}
        if kind == "AWS::Events::Rule":
            name = self._name(logical_id)
            bus = props.get("EventBusName", "default")
            events = clients("events")
            events.put_rule(
                Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED"
            )
            targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
            if targets:
                events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
            return {"Ref": name, "Arn": f"arn:aws:events:{arn_base}:rule/{bus}/{name}"}
        raise ValueError(kind)

    # ---- functions and their triggers -------------------------------------------------------------

    def _wiring(self, clients: Any) -> Wiring:
        wiring = Wiring(physical=self.physical)
        for spec in self.resources.values():
            if spec["Type"] == "AWS::SES::ConfigurationSetEventDestination" and self._wanted(spec):
                props = self.resolve(spec["Properties"])
                destination = props["EventDestination"]
                if destination.get("Enabled", True) and "SnsDestination" in destination:
                    wiring.mail_event_destinations.append(
                        (
                            str(props["ConfigurationSetName"]),
                            str(destination["SnsDestination"]["TopicARN"]),
                            [str(t).lower() for t in destination.get("MatchingEventTypes", [])],
                        )
                    )
        globals_ = (self.doc.get("Globals") or {}).get("Function") or {}
        global_env = (globals_.get("Environment") or {}).get("Variables") or {}
        queue_urls = {v["Arn"]: v["QueueUrl"] for v in self.physical.values() if "QueueUrl" in v}
        api_auth = self._default_api_authorizer()
        for logical_id, spec in self.resources.items():
            if spec["Type"] != "AWS::Serverless::Function":
                continue
            props = spec["Properties"]
            variables = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
            environment = {k: str(v) for k, v in self.resolve(variables).items()}
            folder = str(props["CodeUri"]).strip("/").split("/")[-1]
            wiring.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                folder=folder,
                handler=props.get("Handler", globals_.get("Handler", "app.handler")),
                environment=environment,
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
            )
            for event in (props.get("Events") or {}).values():
                kind, ep = event["Type"], event.get("Properties", {})
                if kind == "HttpApi":
                    authorizer = (ep.get("Auth") or {}).get("Authorizer", api_auth)
                    pattern, names = _route_pattern(ep["Path"])
                    wiring.routes.append(
                        Route(
                            method=ep["Method"].upper(),
                            path=ep["Path"],
                            function=logical_id,
                            authorizer=None if authorizer in (None, "NONE") else authorizer,
                            pattern=pattern,
                            names=names,
                        )
                    )
                elif kind == "SQS":
                    arn = self.resolve(ep["Queue"])
                    wiring.queues.append(
                        QueueMapping(
                            function=logical_id,
                            queue_arn=arn,
                            queue_url=queue_urls[arn],
                            batch_size=int(ep.get("BatchSize", 10)),
                            partial_failures="ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []),
                        )
                    )
                elif kind == "DynamoDB":
                    on_failure = ((ep.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
                    wiring.streams.append(
                        StreamMapping(
                            function=logical_id,
                            stream_arn=self.resolve(ep["Stream"]),
                            batch_size=int(ep.get("BatchSize", 100)),
                            max_retries=int(ep.get("MaximumRetryAttempts", -1)),
                            on_failure_queue_url=queue_urls.get(self.resolve(on_failure)) if on_failure else None,
                            partial_failures="ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []),
                            starting_position=str(ep.get("StartingPosition", "TRIM_HORIZON")),
                            tumbling_window=int(ep.get("TumblingWindowInSeconds", 0)),
                            filters=[
                                json.loads(f["Pattern"]) for f in (ep.get("FilterCriteria") or {}).get("Filters", [])
                            ],
                        )
                    )
        # Static routes first, as API Gateway prefers the most specific match.
        wiring.routes.sort(key=lambda r: (r.path.count("{"), -len(r.path)))
        return wiring

    def _default_api_authorizer(self) -> str | None:
        for spec in self.resources.values():
            if spec["Type"] == "AWS::Serverless::HttpApi":
                return ((spec.get("Properties") or {}).get("Auth") or {}).get("DefaultAuthorizer")
        return None
