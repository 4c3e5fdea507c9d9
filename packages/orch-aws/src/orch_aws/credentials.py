"""``AwsCredentials``: how to reach AWS (keys, profile, assumed role, endpoint, retries).

The block is a :class:`~orch.integration.Connector`: its client is a small holder
(:class:`orch_aws.connector.AwsClients`: one boto3 session and its clients per service and
region), made on first use, shared by equal blocks in a process, closed at exit, and made
anew in a forked child. ``get_client("s3")`` on a block that already has its holder is
two dictionary look-ups. No SDK is imported here: the session is built in
:mod:`orch_aws.connector`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Self

from orch import SecretStr
from orch.integration import Connector
from pydantic import AliasChoices, Field, model_validator

if TYPE_CHECKING:
    from orch_aws.connector import AwsClients

__all__ = ["AwsCredentials", "clear_client_cache"]


class AwsCredentials(Connector["AwsClients"]):
    """Credentials and settings to reach AWS (or an S3-compatible endpoint such as MinIO).

    Give access keys, or a named profile, or nothing (boto3's default chain: environment,
    config files, instance/container roles). Add ``role_arn`` to assume a role with those
    base credentials; the temporary credentials refresh before they expire.
    ``endpoint_url`` points every client at a private endpoint, MinIO or moto.

    Example:
        from orch import SecretRef
        from orch_aws import AwsCredentials

        AwsCredentials(
            aws_access_key_id=SecretRef("env://AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=SecretRef("env://AWS_SECRET_ACCESS_KEY"),
            region_name="eu-west-1",
            role_arn="arn:aws:iam::123456789012:role/etl",
        ).save("prod")
        s3 = AwsCredentials.load("prod").get_client("s3")
    """

    block_type_slug = "aws-credentials"

    aws_access_key_id: SecretStr | None = Field(
        default=None, description="Access key id (kept secret: it identifies the account)."
    )
    aws_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key (with aws_access_key_id)."
    )
    aws_session_token: SecretStr | None = Field(
        default=None, description="Session token of temporary credentials."
    )
    profile_name: str | None = Field(default=None, description="A profile of ~/.aws/config.")
    region_name: str | None = Field(
        default=None, description="Region of the clients (e.g. eu-west-1); default: boto3's."
    )
    role_arn: str | None = Field(default=None, description="A role to assume with STS.")
    external_id: str | None = Field(default=None, description="ExternalId of the role's trust.")
    # The issue and botocore's Config call these `session_name` and `mode`: accept both.
    role_session_name: str = Field(
        default="orch",
        validation_alias=AliasChoices("role_session_name", "session_name"),
        description="RoleSessionName of the assumed role's session (alias: session_name).",
    )
    duration_seconds: int = Field(
        default=3600,
        ge=900,
        le=43200,
        description="Validity of assumed-role credentials, 900 to 43200 s (refreshed early).",
    )
    endpoint_url: str | None = Field(
        default=None, description="A private endpoint, MinIO, or moto, for every client."
    )
    max_attempts: int | None = Field(
        default=None, ge=1, description="botocore retry attempts (default: the SDK's)."
    )
    retry_mode: Literal["legacy", "standard", "adaptive"] = Field(
        default="standard",
        validation_alias=AliasChoices("retry_mode", "mode"),
        description="botocore retry mode: legacy, standard or adaptive (alias: mode).",
    )

    @model_validator(mode="after")
    def _check_auth_choice(self) -> Self:
        has_id = self.aws_access_key_id is not None
        has_secret = self.aws_secret_access_key is not None
        if has_id != has_secret:
            raise ValueError("give both aws_access_key_id and aws_secret_access_key, or neither")
        if self.aws_session_token is not None and not has_id:
            raise ValueError("aws_session_token needs aws_access_key_id and aws_secret_access_key")
        if has_id and self.profile_name:
            raise ValueError("give access keys or profile_name, not both")
        if self.external_id and not self.role_arn:
            raise ValueError("external_id is only used with role_arn")
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            aws_access_key_id="AKIASAMPLEKEYID00000",
            aws_secret_access_key="sample-secret-access-key",  # noqa: S106 - a placeholder
            aws_session_token="sample-session-token",  # noqa: S106 - a placeholder
            region_name="eu-west-1",
        )

    # --- secrets, for scrubbing ----------------------------------------------------------
    def secret_values(self) -> list[str]:
        """The resolved secret values (to scrub them from error messages)."""
        values = []
        for secret in (self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token):
            if secret is not None:
                values.append(secret.get_secret_value())
        return values

    # --- the client: a holder of one session and its clients --------------------------------
    def _new_client(self) -> AwsClients:
        from orch_aws.connector import AwsClients

        return AwsClients.build(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()

    @staticmethod
    def _forget_client(client: Any) -> None:
        # A forked child builds its own session and clients (their connection pools do not
        # survive a fork); the parent's stay referenced there, so that the child's garbage
        # collector tears nothing of theirs down.
        _inherited.append(client)

    def get_client(self, service: str | None = None, region_name: str | None = None) -> Any:
        """A boto3 client for ``service`` (``"s3"``, ``"secretsmanager"``...), cached.

        Clients are thread-safe and shared by every task of the process that uses equal
        credentials. Without ``service``: the :class:`~orch_aws.connector.AwsClients`
        holder itself (its ``session``, and ``client(service, region_name)``).

        Example:
            s3 = AwsCredentials.load("prod").get_client("s3")
        """
        clients: AwsClients = super().get_client()
        if service is None:
            return clients
        return clients.client(service, region_name)

    def get_boto3_session(self) -> Any:
        """The ``boto3.Session`` of these credentials (cached per process with its clients).

        Example:
            session = AwsCredentials.load("prod").get_boto3_session()
        """
        clients: AwsClients = super().get_client()
        return clients.session


# The holders a forked child inherited from its parent (see _forget_client).
_inherited: list[Any] = []


def clear_client_cache() -> None:
    """Close and forget every cached session and client of this process (also done at exit).

    Blocks holding one make a new one on next use.

    Example:
        clear_client_cache()
    """
    AwsCredentials._clients.close_all()
