"""Secrets Manager tasks and the ``aws-sm://`` resolver against the moto server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from orch import SecretRef, SecretStr
from orch.errors import SecretReferenceError
from orch.system_blocks import Secret
from orch_aws import AwsCredentials, AwsSecret
from orch_aws.errors import AwsSecretNotFoundError
from orch_aws.tasks import create_secret, delete_secret, read_secret, update_secret

from .conftest import count_calls, unique

# --- tasks -----------------------------------------------------------------------------


def test_create_read_update_delete(creds: AwsCredentials) -> None:
    name = unique("prod/api")
    arn = create_secret(creds, name, {"user": "etl", "password": "pw-1"}, tags={"team": "data"})
    assert arn.startswith("arn:aws:secretsmanager:")
    assert read_secret(creds, name, as_json=True) == {"user": "etl", "password": "pw-1"}
    version = update_secret(creds, name, SecretStr('{"user": "etl", "password": "pw-2"}'))
    assert json.loads(read_secret(creds, name))["password"] == "pw-2"  # type: ignore[arg-type]
    assert read_secret(creds, name, version_id=version, as_json=True)["password"] == "pw-2"
    previous = read_secret(creds, name, version_stage="AWSPREVIOUS", as_json=True)
    assert previous["password"] == "pw-1"
    delete_secret(creds, name, recovery_window_days=7)
    with pytest.raises(Exception, match=name):  # scheduled for deletion: not readable
        read_secret(creds, name)
    delete_secret(creds, name, force=True)


def test_binary_secrets_and_the_secret_block(creds: AwsCredentials) -> None:
    name = unique("certs/key")
    create_secret(creds, name, b"\x00\x01binary")
    AwsSecret(secret_name=name, credentials=creds).save("key")
    secret = AwsSecret.load("key")
    assert read_secret(secret) == b"\x00\x01binary"
    update_secret(secret, value=b"\x02")
    assert read_secret(secret) == b"\x02"
    delete_secret(secret, force=True)
    with pytest.raises(AwsSecretNotFoundError, match=name):
        read_secret(secret)


def test_missing_secret_and_bad_input(creds: AwsCredentials) -> None:
    creds.save("prod")
    with pytest.raises(AwsSecretNotFoundError) as info:
        read_secret(AwsCredentials.load("prod"), "no/such/secret")
    assert "no/such/secret" in str(info.value)
    assert "aws-credentials/prod" in str(info.value)
    assert "testing-secret" not in str(info.value)
    with pytest.raises(ValueError, match="recovery_window_days"):
        delete_secret(creds, "x", recovery_window_days=3)
    with pytest.raises(ValueError, match="name the secret"):
        read_secret(creds)
    # a forgotten value is refused, not stored as an empty secret
    forgotten = unique("prod/forgotten")
    with pytest.raises(ValueError, match=f"create_secret: give the value of secret '{forgotten}'"):
        create_secret(creds, forgotten)
    with pytest.raises(AwsSecretNotFoundError):
        read_secret(creds, forgotten)
    with pytest.raises(ValueError, match="update_secret: give the value"):
        update_secret(AwsSecret(secret_name=forgotten, credentials=creds))


def test_a_read_secret_is_redacted_from_logs(creds: AwsCredentials) -> None:
    from orch.secrets.redaction import redact

    name = unique("prod/token")
    create_secret(creds, name, "tok-very-secret-123")
    read_secret(creds, name)
    assert "tok-very-secret-123" not in redact("the token is tok-very-secret-123")


# --- the aws-sm:// resolver ------------------------------------------------------------


@pytest.fixture
def named_creds(creds: AwsCredentials, monkeypatch: pytest.MonkeyPatch) -> AwsCredentials:
    creds.save("aws-test")
    monkeypatch.setenv("ORCH_AWS_CREDENTIALS_BLOCK", "aws-test")
    return AwsCredentials.load("aws-test")


def test_resolves_json_keys_stages_and_regions(named_creds: AwsCredentials) -> None:
    name = unique("prod/db")
    create_secret(named_creds, name, {"password": "pw-1", "port": 5432})
    update_secret(named_creds, name, {"password": "pw-2", "port": 5432})
    assert SecretRef(f"aws-sm://{name}#password").resolve() == "pw-2"
    assert SecretRef(f"aws-sm://{name}#port").resolve() == "5432"
    assert SecretRef(f"aws-sm://{name}?version_stage=AWSPREVIOUS#password").resolve() == "pw-1"
    Secret(value=SecretRef(f"aws-sm://{name}#password")).save("api")
    assert Secret.load("api").value.get_secret_value() == "pw-2"
    # secrets are regional: the same name in another region is another secret
    with pytest.raises(SecretReferenceError, match="does not exist"):
        SecretRef(f"aws-sm://{name}?region=eu-west-1#password").resolve()


def test_missing_secret_or_key_names_the_reference(named_creds: AwsCredentials) -> None:
    with pytest.raises(SecretReferenceError) as info:
        SecretRef("aws-sm://nope/nothing#password").resolve()
    assert "aws-sm://nope/nothing#password" in str(info.value)
    assert "does not exist" in str(info.value)
    name = unique("prod/k")
    create_secret(named_creds, name, {"user": "u"})
    with pytest.raises(SecretReferenceError, match="no key 'password'"):
        SecretRef(f"aws-sm://{name}#password").resolve()
    with pytest.raises(SecretReferenceError, match="unknown parameter"):
        SecretRef(f"aws-sm://{name}?stage=x").resolve()


def test_default_chain_when_no_block_is_named(
    creds: AwsCredentials, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("chain/x")
    create_secret(creds, name, "from-the-chain")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # boto3's own setting
    assert SecretRef(f"aws-sm://{name}").resolve() == "from-the-chain"


def test_a_burst_of_1000_resolutions_makes_one_call(named_creds: AwsCredentials) -> None:
    name = unique("burst/x")
    create_secret(named_creds, name, {"password": "pw"})
    client = named_creds.get_client("secretsmanager")
    with count_calls(client, "GetSecretValue") as calls:
        for _ in range(1000):
            assert SecretRef(f"aws-sm://{name}#password").resolve() == "pw"
    assert len(calls) == 1


def test_concurrent_resolutions_are_single_flight(named_creds: AwsCredentials) -> None:
    name = unique("burst/threads")
    create_secret(named_creds, name, "pw")
    client = named_creds.get_client("secretsmanager")
    barrier = threading.Barrier(16)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        for _ in range(63):
            results.append(SecretRef(f"aws-sm://{name}").resolve())

    with count_calls(client, "GetSecretValue") as calls:
        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 1008
    assert set(results) == {"pw"}
    assert len(calls) == 1


def _in_thread(fn: Callable[[], object], seconds: float = 30) -> BaseException | None:
    """Run ``fn`` in a daemon thread: a loop that deadlocks fails the test, not the suite."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s: the resolution loops or deadlocks"
    return outcome[0]


def test_resolver_credentials_holding_aws_sm_refs_is_a_clear_error(
    creds: AwsCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The block the resolver reads with cannot itself be read with the resolver.
    boot = unique("bootstrap/keys")
    create_secret(creds, boot, {"id": "testing", "secret": "boot-secret-value"})
    data = unique("prod/data")
    create_secret(creds, data, "payload")
    AwsCredentials(
        aws_access_key_id=SecretRef(f"aws-sm://{boot}#id"),
        aws_secret_access_key=SecretRef(f"aws-sm://{boot}#secret"),
        region_name=creds.region_name,
        endpoint_url=creds.endpoint_url,
    ).save("aws-loop")
    monkeypatch.setenv("ORCH_AWS_CREDENTIALS_BLOCK", "aws-loop")
    for ref in (f"aws-sm://{data}", f"aws-sm://{boot}#id"):  # another secret, and its own
        error = _in_thread(SecretRef(ref).resolve)
        assert isinstance(error, SecretReferenceError), error
        message = str(error)
        assert ref in message
        assert "'aws-loop'" in message
        assert "ORCH_AWS_CREDENTIALS_BLOCK" in message
        assert "aws_access_key_id" in message
        assert "boot-secret-value" not in message


def test_an_indirect_loop_back_into_the_resolver_is_a_clear_error(
    creds: AwsCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # e.g. a vault:// key whose Vault credentials are aws-sm://: here a resolver of our own.
    from orch.secrets.references import register_resolver

    inner = unique("inner/x")
    create_secret(creds, inner, "testing")
    register_resolver("via-aws", lambda ref: SecretRef(f"aws-sm://{ref.location}").resolve())
    AwsCredentials(
        aws_access_key_id=SecretRef(f"via-aws://{inner}"),
        aws_secret_access_key="testing-secret",
        region_name=creds.region_name,
        endpoint_url=creds.endpoint_url,
    ).save("aws-indirect")
    monkeypatch.setenv("ORCH_AWS_CREDENTIALS_BLOCK", "aws-indirect")
    outer = unique("prod/outer")
    error = _in_thread(SecretRef(f"aws-sm://{outer}").resolve)
    assert isinstance(error, SecretReferenceError), error
    assert "a loop" in str(error)
    assert f"aws-sm://{outer}" in str(error)


def test_other_credentials_may_hold_aws_sm_refs(
    named_creds: AwsCredentials, moto_server: str
) -> None:
    # Keys of a second account kept in Secrets Manager, read with the resolver's block.
    from orch_aws import S3Bucket
    from orch_aws.tasks import s3_exists, s3_upload

    name = unique("accounts/etl")
    create_secret(named_creds, name, {"id": "etl-key-id", "secret": "etl-secret"})
    AwsCredentials(
        aws_access_key_id=SecretRef(f"aws-sm://{name}#id"),
        aws_secret_access_key=SecretRef(f"aws-sm://{name}#secret"),
        region_name=named_creds.region_name,
        endpoint_url=moto_server,
    ).save("etl-account")
    etl = AwsCredentials.load("etl-account")
    bucket_name = unique("orch-etl")
    etl.get_client("s3").create_bucket(Bucket=bucket_name)
    frozen = etl.get_boto3_session().get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == ("etl-key-id", "etl-secret")
    bucket = S3Bucket(bucket_name=bucket_name, credentials=etl)
    s3_upload(bucket, b"x", "k")
    assert s3_exists(bucket, "k")


def test_parameters_after_the_key_are_refused_with_the_right_order(
    named_creds: AwsCredentials,
) -> None:
    name = unique("prod/order")
    create_secret(named_creds, name, {"password": "pw"})
    with pytest.raises(SecretReferenceError) as info:
        SecretRef(f"aws-sm://{name}#password?version_stage=AWSCURRENT").resolve()
    assert f"aws-sm://{name}?version_stage=AWSCURRENT#password" in str(info.value)
    assert SecretRef(f"aws-sm://{name}?version_stage=AWSCURRENT#password").resolve() == "pw"


def test_a_credentials_block_that_is_not_saved_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCH_AWS_CREDENTIALS_BLOCK", "never-saved")
    with pytest.raises(SecretReferenceError) as info:
        SecretRef("aws-sm://prod/db#password").resolve()
    message = str(info.value)
    assert "aws-sm://prod/db#password" in message
    assert "ORCH_AWS_CREDENTIALS_BLOCK is 'never-saved'" in message
    assert "default chain" in message


def test_access_denied_names_the_secret_and_block_never_the_keys(
    moto_iam_server: str, iam_nobody: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch_aws.errors import AwsSecretError

    AwsCredentials(
        aws_access_key_id=iam_nobody["AccessKeyId"],
        aws_secret_access_key=iam_nobody["SecretAccessKey"],
        region_name="us-east-1",
        endpoint_url=moto_iam_server,
    ).save("nobody-sm")
    nobody = AwsCredentials.load("nobody-sm")
    for call in (
        lambda: read_secret(nobody, "prod/locked"),
        lambda: create_secret(nobody, "prod/locked", "v"),
        lambda: update_secret(nobody, "prod/locked", "v"),
        lambda: delete_secret(nobody, "prod/locked", force=True),
    ):
        with pytest.raises(AwsSecretError) as info:
            call()
        message = str(info.value)
        assert "access denied to secret 'prod/locked'" in message
        assert "aws-credentials/nobody-sm" in message
        assert iam_nobody["AccessKeyId"] not in message
        assert iam_nobody["SecretAccessKey"] not in message
        assert info.value.__cause__ is not None
    # and through the resolver: the reference is named, the keys are not
    monkeypatch.setenv("ORCH_AWS_CREDENTIALS_BLOCK", "nobody-sm")
    with pytest.raises(SecretReferenceError) as ref_info:
        SecretRef("aws-sm://prod/locked#password").resolve()
    assert "aws-sm://prod/locked#password" in str(ref_info.value)
    assert "access denied" in str(ref_info.value)
    assert iam_nobody["AccessKeyId"] not in str(ref_info.value)
