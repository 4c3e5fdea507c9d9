"""``GcpCredentials``: how to reach Google Cloud (service account, ADC, impersonation,
emulator endpoints).

The block is a :class:`~orch.integration.Connector`: its client is a small holder
(:class:`orch_gcp.connector.GcpClients`: one ``google.auth`` credentials object and one
client per service), made on first use, shared by equal blocks in a process, closed at
exit, and made anew in a forked child. The service-account key stays in memory: it is
never written to a file. No SDK is imported here: clients are built in
:mod:`orch_gcp.connector`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from orch import SecretDict
from orch.integration import Connector
from pydantic import Field, field_validator, model_validator

if TYPE_CHECKING:
    from orch_gcp.connector import GcpClients

__all__ = ["SERVICES", "GcpCredentials", "clear_client_cache"]

# The services whose endpoint may be overridden (an emulator, a private endpoint).
SERVICES = ("storage", "bigquery", "secretmanager", "iamcredentials")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


class GcpCredentials(Connector["GcpClients"]):
    """Credentials and settings to reach Google Cloud (or its local emulators).

    Give a service account's key as ``service_account_info`` (a secret mapping, kept in
    memory, never written to a file) or ``service_account_file``, or nothing for
    Application Default Credentials. ``impersonate_chain`` acts as another service
    account: the last one is the target, the ones before it are the delegates each
    account passes through (as Airflow's ``impersonation_chain``). ``endpoints`` points
    a service (``storage``, ``bigquery``, ``secretmanager``, ``iamcredentials``) at an
    emulator or a private endpoint, and ``anonymous`` sends no credentials at all, as
    emulators want.

    Example:
        from orch import SecretRef
        from orch_gcp import GcpCredentials

        GcpCredentials(
            service_account_info=SecretRef("env://GCP_SA_JSON"),
            project="acme-data",
            impersonate_chain=["etl@acme-data.iam.gserviceaccount.com"],
        ).save("prod")
        storage = GcpCredentials.load("prod").get_client("storage")
    """

    block_type_slug = "gcp-credentials"
    # A path to a key file, not the key itself.
    block_not_secret = frozenset({"service_account_file"})

    service_account_info: SecretDict | None = Field(
        default=None, description="A service account's JSON key, as a mapping (kept secret)."
    )
    service_account_file: str | None = Field(
        default=None, description="Path of a service account's JSON key file."
    )
    project: str | None = Field(
        default=None,
        description="Project of the clients (default: the key's or ADC's project).",
    )
    impersonate_chain: list[str] = Field(
        default_factory=list,
        description="Service accounts to impersonate: delegates first, the target last.",
    )
    impersonation_lifetime: int = Field(
        default=3600, ge=1, le=43200, description="Seconds an impersonated token lives."
    )
    scopes: list[str] = Field(
        default_factory=lambda: [CLOUD_PLATFORM], description="OAuth scopes of the token."
    )
    endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Endpoint per service (storage, bigquery, secretmanager, iamcredentials).",
    )
    anonymous: bool = Field(default=False, description="Send no credentials (for emulators).")

    @field_validator("impersonate_chain", mode="before")
    @classmethod
    def _chain_from_text(cls, value: Any) -> Any:
        # Airflow accepts one account as a string: so does this block.
        return [value] if isinstance(value, str) else value

    @field_validator("endpoints")
    @classmethod
    def _check_endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(SERVICES))
        if unknown:
            raise ValueError(
                f"endpoints: unknown service(s) {', '.join(unknown)} (known: {', '.join(SERVICES)})"
            )
        for service, url in value.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"endpoints[{service!r}] must be an http(s) URL, not {url!r}")
        return {service: url.rstrip("/") for service, url in value.items()}

    @model_validator(mode="after")
    def _check_auth_choice(self) -> Self:
        if self.service_account_info is not None and self.service_account_file:
            raise ValueError("give service_account_info or service_account_file, not both")
        if self.anonymous and (
            self.service_account_info is not None
            or self.service_account_file
            or self.impersonate_chain
        ):
            raise ValueError(
                "anonymous sends no credentials: leave service_account_info, "
                "service_account_file and impersonate_chain empty"
            )
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            service_account_info={
                "project_id": "sample-key-project",
                "private_key_id": "sample-key-id",
                "private_key": "-----BEGIN PRIVATE KEY-----\nsample\n-----END PRIVATE KEY-----\n",
                "client_email": "sample@sample-key-project.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            },
            project="sample-project",
        )

    # --- secrets, for scrubbing ----------------------------------------------------------
    def secret_values(self) -> list[str]:
        """The key's secret parts (to scrub them from error messages)."""
        if self.service_account_info is None:
            return []
        info = self.service_account_info.get_secret_value()
        return [str(info[k]) for k in ("private_key", "private_key_id") if info.get(k)]

    def endpoint(self, service: str) -> str | None:
        """The endpoint override of ``service``, or ``None`` for Google's.

        Example:
            GcpCredentials(endpoints={"storage": "http://127.0.0.1:9023"}).endpoint("storage")
        """
        return self.endpoints.get(service)

    # --- the client: a holder of one google.auth credentials and its clients -------------
    def _new_client(self) -> GcpClients:
        from orch_gcp.connector import GcpClients

        return GcpClients.build(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()

    @staticmethod
    def _forget_client(client: Any) -> None:
        # A forked child builds its own clients (their HTTP pools do not survive a fork);
        # the parent's stay referenced so that the child's garbage collector leaves them.
        _inherited.append(client)

    def get_client(self, service: str | None = None) -> Any:
        """The client of ``service`` (``"storage"``, ``"bigquery"``, ``"secretmanager"``),
        cached per process and block content; without ``service``, the
        :class:`~orch_gcp.connector.GcpClients` holder (its ``credentials``).

        Example:
            storage = GcpCredentials.load("prod").get_client("storage")
        """
        clients: GcpClients = super().get_client()
        if service is None:
            return clients
        return clients.client(service)


# The holders a forked child inherited from its parent (see _forget_client).
_inherited: list[Any] = []


def clear_client_cache() -> None:
    """Close and forget every cached credentials object and client of this process.

    Blocks holding one make a new one on next use.

    Example:
        clear_client_cache()
    """
    GcpCredentials._clients.close_all()
