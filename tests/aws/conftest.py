"""Fixtures of the orch-aws tests: credentials pointing at the session's moto server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from orch_aws import AwsCredentials, S3Bucket

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _no_host_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets reaches boto3: never this machine's AWS files or instance role."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "ORCH_AWS_CREDENTIALS_BLOCK",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def creds(moto_server: str) -> AwsCredentials:
    return AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret",
        region_name=REGION,
        endpoint_url=moto_server,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(creds: AwsCredentials) -> S3Bucket:
    """A fresh bucket, with a folder, for one test."""
    name = unique("orch-test")
    creds.get_client("s3").create_bucket(Bucket=name)
    return S3Bucket(bucket_name=name, credentials=creds, bucket_folder="data")


@contextmanager
def count_calls(client: Any, operation: str) -> Iterator[list[int]]:
    """Count the API calls ``client`` really makes for ``operation`` (a botocore event hook,
    so the requests still go to the server)."""
    calls: list[int] = []
    service = client.meta.service_model.service_id.hyphenize()
    event = f"before-call.{service}.{operation}"

    def hook(**_: Any) -> None:
        calls.append(1)

    handler: Callable[..., None] = hook
    client.meta.events.register(event, handler)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event, handler)


@pytest.fixture(scope="session")
def iam_nobody(moto_iam_server: str) -> dict[str, str]:
    """Keys of an IAM user with no policy on the IAM-enforcing moto server (created once:
    the server answers only its first 2 requests without authentication)."""
    import boto3

    iam = boto3.client(
        "iam",
        aws_access_key_id="admin",
        aws_secret_access_key="admin-secret",
        region_name=REGION,
        endpoint_url=moto_iam_server,
    )
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
