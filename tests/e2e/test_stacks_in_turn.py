"""One process may start several local stacks in turn (the test layers, the benchmarks): each is a
deployment of its own, with its own signing secret and data, and nothing the shared code keeps per
container may carry over from the one before."""

from __future__ import annotations

from stack_support import start_stack


def _deployment_secret(stack) -> bytes:
    from cme.adapters.aws import client

    arn = stack.environment["SIGNING_SECRET_ARN"]
    return str(client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]).encode()


def test_a_new_stack_signs_with_its_own_secret_and_reads_its_own_devices():
    from cme import auth
    from cme.service import scans

    first = start_stack()
    try:
        assert auth.signing_key() == _deployment_secret(first)
        kept_id = auth.certificate_id("asa-2027", "B-1001")
        assert scans._device("no-such-token") is None  # a cached answer of the first deployment
    finally:
        first.stop()

    second = start_stack()
    try:
        secret = _deployment_secret(second)
        assert auth.signing_key() == secret  # not the first stack's key, kept by the cache
        assert auth.certificate_id("asa-2027", "B-1001") != kept_id  # ids are keyed with the new secret
        from cme.adapters import store

        store.put_device("no-such-token", activity_id="*", device_id="d-1", created_at="2027-10-14T07:00:00-05:00")
        found = scans._device("no-such-token")  # within the memo's seconds of the first stack's answer
        assert found is not None and found["device_id"] == "d-1"
    finally:
        second.stop()
