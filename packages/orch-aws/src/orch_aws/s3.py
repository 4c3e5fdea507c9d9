"""``S3Bucket``: one bucket (and optionally a folder in it) reached with ``AwsCredentials``."""

from __future__ import annotations

import re
from typing import Any, Self

from orch import Block
from pydantic import Field, field_validator

from orch_aws.credentials import AwsCredentials

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class S3Bucket(Block):
    """An S3 bucket, the credentials to reach it, and a folder (key prefix) inside it.

    Task keys are relative to ``bucket_folder``: with ``bucket_folder="raw/sales"``,
    ``s3_upload(bucket, "day.csv", "2024-06-01.csv")`` writes
    ``s3://BUCKET/raw/sales/2024-06-01.csv``.

    Example:
        from orch_aws import AwsCredentials, S3Bucket

        S3Bucket(
            bucket_name="acme-datalake",
            bucket_folder="raw/sales",
            credentials=AwsCredentials.load("prod"),
        ).save("sales-raw")
    """

    block_type_slug = "s3-bucket"

    bucket_name: str = Field(description="The bucket's name (3 to 63 characters).")
    credentials: AwsCredentials = Field(default_factory=AwsCredentials)
    bucket_folder: str = Field(default="", description="Key prefix every task key is under.")

    @field_validator("bucket_name")
    @classmethod
    def _check_bucket_name(cls, value: str) -> str:
        if not _BUCKET.fullmatch(value):
            raise ValueError(
                "an S3 bucket name has 3 to 63 characters: lowercase letters, digits, '.' "
                "and '-', starting and ending with a letter or digit"
            )
        return value

    @field_validator("bucket_folder")
    @classmethod
    def _normalise_folder(cls, value: str) -> str:
        value = value.strip("/")
        if any(part in ("..", ".") for part in value.split("/")):
            raise ValueError("bucket_folder may not contain '.' or '..' segments")
        return f"{value}/" if value else ""

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            bucket_name="sample-bucket",
            credentials=AwsCredentials.block_sample(),
            bucket_folder="sample/folder",
        )

    def object_key(self, key: str) -> str:
        """The full object key of ``key`` (relative to ``bucket_folder``)."""
        return f"{self.bucket_folder}{key.lstrip('/')}" if self.bucket_folder else key

    def relative_key(self, full_key: str) -> str:
        """``full_key`` relative to ``bucket_folder`` (the inverse of :meth:`object_key`)."""
        return full_key[len(self.bucket_folder) :] if self.bucket_folder else full_key

    def get_client(self) -> Any:
        """The cached boto3 S3 client of this bucket's credentials."""
        return self.credentials.get_client("s3")
