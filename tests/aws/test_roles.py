"""The kit's roles on orch-aws's blocks, against the moto server: ``S3Bucket`` as an
``ObjectStore`` and ``AwsSecret`` as a ``SecretStore``, with Prefect's method names and
arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch.integration import AuthError, NotFoundError, ObjectStore, SecretStore
from orch_aws import AwsCredentials, AwsSecret, S3Bucket
from orch_aws.errors import AwsSecretNotFoundError, S3NotFoundError

from .conftest import unique


def test_s3_bucket_is_an_object_store(bucket: S3Bucket, tmp_path: Path) -> None:
    assert isinstance(bucket, ObjectStore)
    source = tmp_path / "report.csv"
    source.write_bytes(b"id,amount\n1,9.99\n")
    # paths are relative to bucket_folder ("data/"); the full keys come back, as Prefect's
    assert bucket.upload_from_path(source, "reports/2024.csv") == "data/reports/2024.csv"
    assert bucket.upload_from_path(source) == "data/report.csv"  # default: the file name
    assert bucket.write_path("reports/2025.csv", b"id\n") == "data/reports/2025.csv"
    assert bucket.read_path("reports/2024.csv") == b"id,amount\n1,9.99\n"
    out = bucket.download_object_to_path("reports/2025.csv", tmp_path / "out.csv")
    assert out == (tmp_path / "out.csv").absolute() and out.read_bytes() == b"id\n"
    listed = bucket.list_objects("reports/")
    assert [o["Key"] for o in listed] == ["data/reports/2024.csv", "data/reports/2025.csv"]
    assert [o["Size"] for o in listed] == [17, 3]
    assert [o["Key"] for o in bucket.list_objects()] == [
        "data/report.csv",
        "data/reports/2024.csv",
        "data/reports/2025.csv",
    ]
    assert len(bucket.list_objects(page_size=1, max_items=2)) == 2
    assert [o["Key"] for o in bucket.list_objects(jmespath_query="Contents[?Size > `10`][]")] == [
        "data/report.csv",
        "data/reports/2024.csv",
    ]
    # delimiter: the folder's own objects, not those of its sub-folders
    assert [o["Key"] for o in bucket.list_objects(delimiter="/")] == ["data/report.csv"]


def test_object_store_errors_name_the_object_and_block(bucket: S3Bucket, tmp_path: Path) -> None:
    bucket.save("roles")
    saved = S3Bucket.load("roles")
    with pytest.raises(S3NotFoundError) as info:
        saved.read_path("absent.csv")
    assert f"s3://{bucket.bucket_name}/data/absent.csv" in str(info.value)
    assert "s3-bucket/roles" in str(info.value)
    assert isinstance(info.value, NotFoundError) and info.value.__cause__ is not None
    with pytest.raises(NotFoundError, match=r"data/absent\.csv"):
        saved.download_object_to_path("absent.csv", tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        saved.upload_from_path(tmp_path / "nowhere.csv")
    gone = S3Bucket(bucket_name=unique("orch-gone"), credentials=bucket.credentials)
    with pytest.raises(S3NotFoundError, match="does not exist"):
        gone.list_objects()
    with pytest.raises(S3NotFoundError):
        gone.write_path("k", b"x")


def test_aws_secret_is_a_secret_store(creds: AwsCredentials) -> None:
    secret = AwsSecret(secret_name=unique("roles/api"), credentials=creds)
    assert isinstance(secret, SecretStore)
    arn = secret.write_secret(b'{"token": "tok-1"}')  # creates it
    assert arn.startswith("arn:aws:secretsmanager:")
    assert secret.read_secret() == b'{"token": "tok-1"}'
    assert secret.write_secret(b"\x00binary") == arn  # a new version of the same secret
    assert secret.read_secret() == b"\x00binary"
    assert secret.read_secret(version_stage="AWSPREVIOUS") == b'{"token": "tok-1"}'
    assert secret.delete_secret(recovery_window_in_days=7) == arn
    with pytest.raises(Exception, match=secret.secret_name):  # scheduled for deletion
        secret.read_secret()
    assert secret.delete_secret(force_delete_without_recovery=True) == arn
    with pytest.raises(AwsSecretNotFoundError, match=secret.secret_name) as info:
        secret.read_secret()
    assert isinstance(info.value, NotFoundError)
    with pytest.raises(ValueError, match="recovery_window_in_days"):
        secret.delete_secret(recovery_window_in_days=3)


def test_a_secret_store_refusal_is_an_auth_error(
    moto_iam_server: str, iam_nobody: dict[str, str]
) -> None:
    nobody = AwsCredentials(
        aws_access_key_id=iam_nobody["AccessKeyId"],
        aws_secret_access_key=iam_nobody["SecretAccessKey"],
        region_name="us-east-1",
        endpoint_url=moto_iam_server,
    )
    secret = AwsSecret(secret_name="roles/locked", credentials=nobody)
    for call in (secret.read_secret, lambda: secret.write_secret(b"x")):
        with pytest.raises(AuthError) as info:
            call()
        assert "roles/locked" in str(info.value)
        assert iam_nobody["SecretAccessKey"] not in str(info.value)
