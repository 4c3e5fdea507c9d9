"""AwsCredentials: auth choices, masking, the client cache, assumed roles that refresh."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import pytest
from orch import SecretRef
from orch.errors import BlockValidationError
from orch_aws import AwsCredentials

from .conftest import REGION, count_calls, unique

ROLE = "arn:aws:iam::123456789012:role/etl"


def test_auth_choice_is_validated_up_front() -> None:
    with pytest.raises(BlockValidationError, match="aws-credentials") as info:
        AwsCredentials(aws_access_key_id="AKIAEXAMPLE00000000X")
    assert "both aws_access_key_id and aws_secret_access_key" in str(info.value)
    with pytest.raises(BlockValidationError, match="not both"):
        AwsCredentials(aws_access_key_id="a", aws_secret_access_key="b", profile_name="dev")
    with pytest.raises(BlockValidationError, match="role_arn"):
        AwsCredentials(external_id="x")
    with pytest.raises(BlockValidationError, match="duration_seconds"):
        AwsCredentials(role_arn=ROLE, duration_seconds=60)


def test_keys_are_masked_and_saved_encrypted_or_as_references() -> None:
    creds = AwsCredentials(
        aws_access_key_id="AKIAREALLOOKINGKEY00",
        aws_secret_access_key="wJalrXUtnFEMI-secret",
        region_name=REGION,
    )
    for text in (repr(creds), str(creds), creds.model_dump_json()):
        assert "AKIAREALLOOKINGKEY00" not in text
        assert "wJalrXUtnFEMI-secret" not in text
    creds.save("prod")
    assert AwsCredentials.load("prod") == creds
    by_ref = AwsCredentials(
        aws_access_key_id=SecretRef("env://MY_KEY_ID"),
        aws_secret_access_key=SecretRef("env://MY_SECRET"),
    )
    by_ref.save("ref")
    assert AwsCredentials.load("ref").aws_secret_access_key.reference == SecretRef(  # type: ignore[union-attr]
        "env://MY_SECRET"
    )


def test_clients_are_cached_per_credentials_and_thread_safe(creds: AwsCredentials) -> None:
    from orch_aws.credentials import clear_client_cache

    clear_client_cache()
    barrier = threading.Barrier(8)
    got: list[Any] = []

    def build() -> None:
        barrier.wait()
        got.append(creds.get_client("s3"))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in got}) == 1
    # an equal block (e.g. loaded again) shares the client; other settings do not
    twin = AwsCredentials.model_validate(
        creds.model_dump(exclude={"aws_secret_access_key"})
        | {"aws_secret_access_key": "testing-secret", "aws_access_key_id": "testing"}
    )
    assert twin.get_client("s3") is got[0]
    other = twin.model_copy(update={"region_name": "eu-west-1"})
    assert other.get_client("s3") is not got[0]
    assert creds.get_client("s3", region_name="eu-west-1") is not got[0]


def test_clients_live_in_a_holder_and_the_session_is_not_patched(creds: AwsCredentials) -> None:
    # Before: the session got an `_orch_lock` attribute, and each get_client() computed
    # the block's fingerprint; now the holder keeps the lock and the clients.
    from orch_aws.connector import AwsClients

    # settings of its own: no other test's block holds (and keeps open) its clients
    creds = creds.model_copy(update={"role_session_name": unique("holder")})
    holder = creds.get_client()
    assert isinstance(holder, AwsClients)
    assert creds.get_client() is holder
    session = creds.get_boto3_session()
    assert session is holder.session
    assert not [name for name in vars(session) if name.startswith("_orch")]
    s3 = creds.get_client("s3")
    assert holder.client("s3") is s3 and creds.get_client("s3") is s3
    assert creds.get_client("s3", region_name="eu-west-1") is not s3
    creds.close()  # the last holder: its clients are closed, the next use makes new ones
    assert creds.get_client("s3") is not s3


def test_importing_the_package_loads_no_block_module() -> None:
    probe = (
        "import sys, orch_aws\n"
        "print([m for m in ('pydantic', 'orch_aws.credentials', 'orch_aws.connector')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_forked_child_builds_its_own_client(creds: AwsCredentials) -> None:
    # a forked worker must not share the parent's client and its sockets
    parent = creds.get_client("s3")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            child = creds.get_client("s3")
            child.list_buckets()
            os.write(write, b"own" if child is not parent else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.waitpid(pid, 0)
    assert answer == b"own"
    assert creds.get_client("s3") is parent


def _frozen(session: Any) -> Any:
    return session.get_credentials().get_frozen_credentials()


def test_assume_role_uses_sts_and_works(creds: AwsCredentials) -> None:
    role = creds.model_copy(update={"role_arn": ROLE, "external_id": "ext-1"})
    session = role.get_boto3_session()
    with count_calls(role.get_client().sts, "AssumeRole") as calls:
        s3 = role.get_client("s3")
        assert calls == []  # deferred: nothing is asked before the first request
        s3.list_buckets()
        s3.list_buckets()
        assert len(calls) == 1  # one hour of validity: no refresh needed yet
    frozen = _frozen(session)
    assert frozen.access_key != "testing"  # temporary credentials, not the base keys
    assert frozen.token
    assert session.get_credentials().method == "assume-role"


def test_assumed_role_credentials_refresh_before_they_expire(creds: AwsCredentials) -> None:
    # 15 minutes of validity is inside botocore's advisory refresh window (15 min), so
    # every use refreshes: a long flow never holds expired credentials.
    role = creds.model_copy(update={"role_arn": ROLE, "duration_seconds": 900})
    session = role.get_boto3_session()
    with count_calls(role.get_client().sts, "AssumeRole") as calls:
        first = _frozen(session)
        second = _frozen(session)
        role.get_client("s3").list_buckets()
    assert first.access_key != second.access_key
    assert len(calls) >= 3


def test_import_does_not_load_boto3() -> None:
    probe = (
        "import sys, orch_aws\n"
        "from orch_aws import AwsCredentials, S3Bucket, AwsSecret\n"
        "AwsCredentials(region_name='eu-west-1')\n"
        "S3Bucket(bucket_name='abc')\n"
        "print([m for m in ('boto3', 'botocore', 's3transfer', 'orch_aws.tasks')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_wrong_endpoint_is_a_clear_error(creds: AwsCredentials) -> None:
    from orch_aws import S3Bucket
    from orch_aws.errors import AwsError
    from orch_aws.tasks import s3_exists

    dead = creds.model_copy(update={"endpoint_url": "http://127.0.0.1:9", "max_attempts": 1})
    with pytest.raises(AwsError, match="cannot reach the endpoint") as info:
        s3_exists(S3Bucket(bucket_name="abc", credentials=dead), "k")
    assert "testing-secret" not in str(info.value)


def _profiles(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    config = tmp_path / "aws-config"
    config.write_text(text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))


def test_a_named_profile(
    creds: AwsCredentials, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profiles(
        tmp_path,
        monkeypatch,
        "[profile etl]\naws_access_key_id = profile-key\n"
        "aws_secret_access_key = profile-secret\nregion = eu-west-1\n",
    )
    by_profile = AwsCredentials(profile_name="etl", endpoint_url=creds.endpoint_url)
    session = by_profile.get_boto3_session()
    assert session.get_credentials().get_frozen_credentials().access_key == "profile-key"
    s3 = by_profile.get_client("s3")
    assert s3.meta.region_name == "eu-west-1"  # the profile's region
    s3.list_buckets()


def test_assume_role_from_a_profile(
    creds: AwsCredentials, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profiles(
        tmp_path,
        monkeypatch,
        "[profile base]\naws_access_key_id = base-key\naws_secret_access_key = base-secret\n",
    )
    role = AwsCredentials(
        profile_name="base", region_name=REGION, endpoint_url=creds.endpoint_url, role_arn=ROLE
    )
    session = role.get_boto3_session()
    sts = role.get_client().sts
    with count_calls(sts, "AssumeRole") as calls:
        role.get_client("s3").list_buckets()
    assert len(calls) == 1
    sts_keys = sts._request_signer._credentials.get_frozen_credentials()
    assert sts_keys.access_key == "base-key"  # STS was asked with the profile's keys
    assert _frozen(session).access_key not in ("base-key", "testing")


def test_temporary_keys_with_a_session_token(creds: AwsCredentials) -> None:
    temporary = creds.get_client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    with_token = AwsCredentials(
        aws_access_key_id=temporary["AccessKeyId"],
        aws_secret_access_key=temporary["SecretAccessKey"],
        aws_session_token=temporary["SessionToken"],
        region_name=REGION,
        endpoint_url=creds.endpoint_url,
    )
    assert temporary["SessionToken"] not in repr(with_token)
    frozen = _frozen(with_token.get_boto3_session())
    assert (frozen.access_key, frozen.token) == (
        temporary["AccessKeyId"],
        temporary["SessionToken"],
    )
    with_token.get_client("s3").list_buckets()


def test_the_issue_and_botocore_names_are_accepted(creds: AwsCredentials) -> None:
    # `session_name` and `mode` (botocore's Config) are aliases of the stored field names.
    role = AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret",
        region_name=creds.region_name,
        endpoint_url=creds.endpoint_url,
        role_arn=ROLE,
        session_name="nightly-etl",
        mode="adaptive",
    )
    assert role.role_session_name == "nightly-etl" and role.retry_mode == "adaptive"
    arn = role.get_client("sts").get_caller_identity()["Arn"]
    assert arn.endswith("/nightly-etl"), arn  # the session name reached STS
    role.save("aliased", overwrite=True)
    loaded = AwsCredentials.load("aliased")
    assert (loaded.role_session_name, loaded.retry_mode) == ("nightly-etl", "adaptive")


def test_keys_held_as_references_follow_a_rotation(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from orch.secrets import references

    monkeypatch.setenv("ORCH_TEST_AWS_KEY_ID", "AKIAFIRSTKEY00000001")
    monkeypatch.setenv("ORCH_TEST_AWS_SECRET", "first-Secret-1")
    references.set_cache_ttl(1)
    creds = AwsCredentials(
        aws_access_key_id=SecretRef("env://ORCH_TEST_AWS_KEY_ID"),
        aws_secret_access_key=SecretRef("env://ORCH_TEST_AWS_SECRET"),
        region_name=REGION,
        endpoint_url=moto_server,
    )
    s3 = creds.get_client("s3")

    def signing_key() -> str:
        s3.list_buckets()  # a real request, signed with the keys of the moment
        return str(s3._request_signer._credentials.get_frozen_credentials().access_key)

    assert signing_key() == "AKIAFIRSTKEY00000001"
    monkeypatch.setenv("ORCH_TEST_AWS_KEY_ID", "AKIASECONDKEY0000002")  # rotated
    monkeypatch.setenv("ORCH_TEST_AWS_SECRET", "second-Secret-2")
    assert signing_key() == "AKIAFIRSTKEY00000001"  # the resolved values are still fresh
    time.sleep(1.2)  # past the TTL
    assert signing_key() == "AKIASECONDKEY0000002"
    assert creds.get_client("s3") is s3  # the same client, now signing with the new keys
    session = creds.get_boto3_session()
    assert session.get_credentials().method == "orch-secret-references"
