"""``AwsSecret``: one secret of AWS Secrets Manager, and the credentials to read it."""

from __future__ import annotations

from typing import Any, Self

from orch import Block
from pydantic import Field

from orch_aws.credentials import AwsCredentials


class AwsSecret(Block):
    """A secret in AWS Secrets Manager, named (or by ARN), with the credentials to reach it.

    Only the name is stored, never the value. To use a secret *inside another block's
    field*, prefer a reference: ``SecretRef("aws-sm://prod/warehouse#password")``.

    Example:
        from orch_aws import AwsCredentials, AwsSecret
        from orch_aws.tasks import read_secret

        AwsSecret(secret_name="prod/warehouse", credentials=AwsCredentials.load("prod")).save(
            "warehouse"
        )
        value = read_secret(AwsSecret.load("warehouse"))
    """

    block_type_slug = "aws-secret"
    # `secret_name` names the secret in AWS; the value never lives in this block.
    block_not_secret = frozenset({"secret_name"})

    secret_name: str = Field(min_length=1, description="The secret's name or ARN.")
    credentials: AwsCredentials = Field(default_factory=AwsCredentials)

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            secret_name="sample/secret",  # noqa: S106 - a name, not a secret
            credentials=AwsCredentials.block_sample(),
        )

    def get_client(self) -> Any:
        """The cached boto3 Secrets Manager client of this secret's credentials."""
        return self.credentials.get_client("secretsmanager")
