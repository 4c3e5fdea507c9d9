"""``AwsCredentials``: how to reach AWS (keys, profile, assumed role, endpoint, retries).

The block owns the boto3 session and clients: built on first use, cached per process and
per credentials (two equal blocks share one client; :mod:`orch.resources`), created under
a lock because boto3 sessions are not thread-safe (clients are), closed at exit, and
built anew in a forked child. Assumed-role credentials
are botocore ``DeferredRefreshableCredentials``: fetched on first use and refreshed
before they expire, so a long flow never sees an expired token. Keys held as secret
references are refreshable credentials too, resolved again when their cached values
expire, so a rotated key is picked up without a restart.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from orch import Block, SecretStr
from orch.resources import ProcessResources, block_fingerprint
from pydantic import AliasChoices, Field, model_validator


def _close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        close()


# A forked child builds its own sessions and clients (their connection pools do not
# survive a fork); the parent's are kept referenced there, so that nothing of theirs is
# torn down by the child's garbage collector.
_parents: list[Any] = []

# fingerprint → boto3 Session; "fingerprint service region" → client.
_sessions: ProcessResources[Any] = ProcessResources("boto3 sessions", forget=_parents.append)
_clients: ProcessResources[Any] = ProcessResources(
    "boto3 clients", close=_close_client, forget=_parents.append
)


class AwsCredentials(Block):
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
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = Field(
        default=None, description="Session token of temporary credentials."
    )
    profile_name: str | None = Field(default=None, description="A profile of ~/.aws/config.")
    region_name: str | None = None
    role_arn: str | None = Field(default=None, description="A role to assume with STS.")
    external_id: str | None = Field(default=None, description="ExternalId of the role's trust.")
    # The issue and botocore's Config call these `session_name` and `mode`: accept both.
    role_session_name: str = Field(
        default="orch", validation_alias=AliasChoices("role_session_name", "session_name")
    )
    duration_seconds: int = Field(default=3600, ge=900, le=43200)
    endpoint_url: str | None = Field(
        default=None, description="A private endpoint, MinIO, or moto, for every client."
    )
    max_attempts: int | None = Field(
        default=None, ge=1, description="botocore retry attempts (default: the SDK's)."
    )
    retry_mode: Literal["legacy", "standard", "adaptive"] = Field(
        default="standard", validation_alias=AliasChoices("retry_mode", "mode")
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

    # --- secrets, for fingerprints and scrubbing ------------------------------------------
    def secret_values(self) -> list[str]:
        """The resolved secret values (to scrub them from error messages)."""
        values = []
        for secret in (self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token):
            if secret is not None:
                values.append(secret.get_secret_value())
        return values

    def _fingerprint(self) -> str:
        """A digest of every setting: equal settings share a session and clients."""
        return block_fingerprint(self)

    # --- sessions and clients ---------------------------------------------------------------
    def get_boto3_session(self) -> Any:
        """The ``boto3.Session`` of these credentials (cached per process)."""
        return _sessions.get_or_create(self._fingerprint(), self._build_session)

    def get_client(self, service: str, region_name: str | None = None) -> Any:
        """A boto3 client for ``service`` (``"s3"``, ``"secretsmanager"``...), cached.

        Clients are thread-safe and reused by every task of the process that uses equal
        credentials.

        Example:
            s3 = AwsCredentials.load("prod").get_client("s3")
        """
        fingerprint = self._fingerprint()

        def create() -> Any:
            session = _sessions.get_or_create(fingerprint, self._build_session)
            # A boto3 Session is not thread-safe: one client made from it at a time.
            with session._orch_lock:
                return session.client(
                    service,
                    region_name=region_name or self.region_name,
                    endpoint_url=self.endpoint_url,
                    config=self._botocore_config(),
                )

        return _clients.get_or_create(f"{fingerprint} {service} {region_name}", create)

    def _botocore_config(self) -> Any:
        from botocore.config import Config

        retries: dict[str, Any] = {"mode": self.retry_mode}
        if self.max_attempts is not None:
            retries["total_max_attempts"] = self.max_attempts
        # A pool as large as the default transfer concurrency, so parallel parts and
        # parallel tasks do not wait for a connection.
        return Config(retries=retries, max_pool_connections=32)

    def _build_session(self) -> Any:
        import boto3

        if self._keys_are_references():
            base = self._following_references_session()
        else:
            base = boto3.Session(
                aws_access_key_id=_reveal(self.aws_access_key_id),
                aws_secret_access_key=_reveal(self.aws_secret_access_key),
                aws_session_token=_reveal(self.aws_session_token),
                profile_name=self.profile_name,
                region_name=self.region_name,
            )
        session = base if not self.role_arn else self._assumed_role_session(base)
        session._orch_lock = threading.Lock()
        return session

    def _keys_are_references(self) -> bool:
        keys = (self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token)
        return any(k is not None and k.reference is not None for k in keys)

    def _following_references_session(self) -> Any:
        """A session whose keys are resolved again each time their cached values expire.

        Sessions and clients live as long as the process, but keys kept in a secrets
        manager are rotated: botocore's refreshable credentials ask us again once the
        resolved values' TTL (ORCH_SECRET_TTL) has run out, so a rotation is picked up
        without a restart.
        """
        import boto3
        import botocore.session
        from botocore.credentials import (
            CredentialProvider,
            CredentialResolver,
            RefreshableCredentials,
        )

        class _ReferenceCredentials(RefreshableCredentials):  # type: ignore[misc]
            # botocore refreshes STS tokens 15/10 minutes ahead of expiry; these values
            # "expire" when our cache does, so refresh then and not before.
            _advisory_refresh_timeout = 0
            _mandatory_refresh_timeout = 0

        def fetch() -> dict[str, Any]:
            from orch.references import cache_ttl

            expiry = datetime.now(UTC) + timedelta(seconds=max(cache_ttl(), 1.0))
            return {
                "access_key": _reveal(self.aws_access_key_id),
                "secret_key": _reveal(self.aws_secret_access_key),
                "token": _reveal(self.aws_session_token),
                "expiry_time": expiry.isoformat(),
            }

        class _ReferenceProvider(CredentialProvider):  # type: ignore[misc]
            METHOD = "orch-secret-references"

            def load(self) -> Any:
                return _ReferenceCredentials.create_from_metadata(
                    metadata=fetch(), refresh_using=fetch, method=self.METHOD
                )

        core = botocore.session.Session()
        core.register_component("credential_provider", CredentialResolver([_ReferenceProvider()]))
        if self.region_name:
            core.set_config_variable("region", self.region_name)
        return boto3.Session(botocore_session=core)

    def _assumed_role_session(self, base: Any) -> Any:
        import boto3
        import botocore.session
        from botocore.credentials import (
            CredentialProvider,
            CredentialResolver,
            DeferredRefreshableCredentials,
            create_assume_role_refresher,
        )

        sts = base.client(
            "sts",
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            config=self._botocore_config(),
        )
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.role_session_name,
            "DurationSeconds": self.duration_seconds,
        }
        if self.external_id:
            params["ExternalId"] = self.external_id
        refresher = create_assume_role_refresher(sts, params)

        class _AssumeRoleProvider(CredentialProvider):  # type: ignore[misc]
            METHOD = "assume-role"

            def load(self) -> Any:
                # Deferred: STS is called on the first request, then again before expiry
                # (botocore refreshes 15 min ahead, blocking only in the last 10 min).
                return DeferredRefreshableCredentials(refresher, method=self.METHOD)

        core = botocore.session.Session()
        core.register_component("credential_provider", CredentialResolver([_AssumeRoleProvider()]))
        if self.region_name:
            core.set_config_variable("region", self.region_name)
        session = boto3.Session(botocore_session=core)
        session._orch_sts_client = sts  # kept reachable for introspection and tests
        return session


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def clear_client_cache() -> None:
    """Close and forget every cached client and session of this process.

    (Both are also closed at interpreter exit.)

    Example:
        clear_client_cache()  # e.g. after rotating the keys behind a SecretRef
    """
    _clients.close_all()
    _sessions.close_all()
