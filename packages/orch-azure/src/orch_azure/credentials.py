"""``AzureCredentials``: how to reach Azure, as one tagged choice validated up front.

``auth_method`` is one of ``connection_string``, ``account_key`` (account URL + key),
``sas`` (account URL + SAS token), ``service_principal`` (tenant, client id, and a client
secret or certificate) or ``default`` (``DefaultAzureCredential``: environment, workload
identity, managed identity, Azure CLI). Left out, it is inferred from the fields given;
fields of two methods at once are refused, as is a field the chosen method does not use.

The block is a :class:`~orch.integration.Connector`: its client is a holder
(:class:`orch_azure.connector.AzureClients`) of one token credential (for the token
methods), one ``BlobServiceClient`` and one ``SecretClient`` per vault, all sync, made on
first use, shared by equal blocks in a process, closed at exit, made anew in a forked
child. No SDK is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Self

from orch import SecretStr
from orch.integration import Connector
from pydantic import Field, model_validator

if TYPE_CHECKING:
    from orch_azure.connector import AzureClients

__all__ = ["AUTH_FIELDS", "AuthMethod", "AzureCredentials", "clear_client_cache"]

AuthMethod = Literal["connection_string", "account_key", "sas", "service_principal", "default"]

# The fields each method needs (first) and the ones it may take (second). A field that
# belongs to no method but the chosen one is refused: a block never silently ignores
# what its author wrote.
AUTH_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "connection_string": (("connection_string",), ()),
    "account_key": (("account_url", "account_key"), ()),
    "sas": (("account_url", "sas_token"), ()),
    "service_principal": (
        ("tenant_id", "client_id"),
        (
            "account_url",
            "client_secret",
            "client_certificate",
            "client_certificate_path",
            "client_certificate_password",
            "authority_host",
            "disable_instance_discovery",
        ),
    ),
    "default": (
        (),
        (
            "account_url",
            "managed_identity_client_id",
            "authority_host",
            "disable_instance_discovery",
        ),
    ),
}
# What marks a method when auth_method is left out (account_url is shared by several).
_MARKERS: dict[str, tuple[str, ...]] = {
    "connection_string": ("connection_string",),
    "account_key": ("account_key",),
    "sas": ("sas_token",),
    "service_principal": (
        "tenant_id",
        "client_id",
        "client_secret",
        "client_certificate",
        "client_certificate_path",
    ),
    "default": ("managed_identity_client_id",),
}
TOKEN_METHODS = frozenset({"service_principal", "default"})
# The keys a storage connection string may hold (Azure's documented set).
_CONNECTION_KEYS = {
    "defaultendpointsprotocol",
    "accountname",
    "accountkey",
    "blobendpoint",
    "queueendpoint",
    "tableendpoint",
    "fileendpoint",
    "dfsendpoint",
    "endpointsuffix",
    "sharedaccesssignature",
    "usedevelopmentstorage",
    "developmentstorageproxyuri",
    "blobsecondaryendpoint",
    "queuesecondaryendpoint",
    "tablesecondaryendpoint",
    "filesecondaryendpoint",
}


def check_connection_string(value: str) -> None:
    """Refuse a malformed storage connection string, naming what is wrong, never a value.

    Example:
        >>> check_connection_string("AccountName=acme;AccountKey=a2V5")
        >>> check_connection_string("acme")
        Traceback (most recent call last):
        ...
        ValueError: connection_string is malformed: part 1 is not Key=value; ...
    """
    pairs: dict[str, str] = {}
    for number, part in enumerate((p for p in value.strip().split(";") if p.strip()), 1):
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if not sep or not key or not val.strip():
            raise ValueError(
                f"connection_string is malformed: part {number} is not Key=value; expected "
                "'DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;"
                "EndpointSuffix=core.windows.net' (values not shown)"
            )
        if key not in _CONNECTION_KEYS:
            raise ValueError(
                f"connection_string is malformed: unknown key {part.partition('=')[0].strip()!r} "
                f"in part {number}"
            )
        pairs[key] = val.strip()
    if not pairs:
        raise ValueError("connection_string is empty")
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        return
    if "accountname" not in pairs and "blobendpoint" not in pairs:
        raise ValueError("connection_string is malformed: it names no AccountName or BlobEndpoint")
    if "accountkey" not in pairs and "sharedaccesssignature" not in pairs:
        raise ValueError(
            "connection_string is malformed: it has no AccountKey or SharedAccessSignature"
        )


class AzureCredentials(Connector["AzureClients"]):
    """How to reach an Azure storage account (and Key Vault): one auth method.

    - ``connection_string``: a storage account's connection string;
    - ``account_key``: ``account_url`` + ``account_key`` (shared key);
    - ``sas``: ``account_url`` + ``sas_token``;
    - ``service_principal``: ``tenant_id``, ``client_id`` and ``client_secret`` or a
      certificate (``client_certificate`` PEM text or ``client_certificate_path``);
    - ``default``: ``DefaultAzureCredential`` (environment, workload identity, managed
      identity, Azure CLI...), optionally a user-assigned ``managed_identity_client_id``.

    The token methods need ``pip install 'orch-azure[identity]'`` (or ``[keyvault]``).
    Secrets may be ``SecretRef``s (``env://AZURE_STORAGE_KEY``). The Azure SDK's HTTP
    request/response log lines are written at DEBUG unless ``http_logging`` is set.

    Example:
        from orch import SecretRef
        from orch_azure import AzureCredentials

        AzureCredentials(
            account_url="https://acme.blob.core.windows.net",
            account_key=SecretRef("env://AZURE_STORAGE_KEY"),
        ).save("acme")
        service = AzureCredentials.load("acme").get_client().blob_service()
    """

    block_type_slug = "azure-credentials"
    # Identities, URLs and a file path: not secrets.
    block_not_secret = frozenset(
        {"tenant_id", "client_id", "managed_identity_client_id", "client_certificate_path"}
    )

    auth_method: AuthMethod | None = Field(
        default=None,
        description=(
            "connection_string, account_key, sas, service_principal or default; "
            "inferred from the fields when left out."
        ),
    )
    connection_string: SecretStr | None = Field(
        default=None, description="A storage account connection string (auth connection_string)."
    )
    account_url: str | None = Field(
        default=None,
        description="Blob endpoint of the account, e.g. https://acme.blob.core.windows.net.",
    )
    account_key: SecretStr | None = Field(
        default=None, description="The storage account's access key (auth account_key)."
    )
    sas_token: SecretStr | None = Field(
        default=None, description="A shared access signature, without '?' (auth sas)."
    )
    tenant_id: str | None = Field(
        default=None, description="Microsoft Entra tenant id (auth service_principal)."
    )
    client_id: str | None = Field(
        default=None, description="Application (client) id (auth service_principal)."
    )
    client_secret: SecretStr | None = Field(
        default=None, description="The application's client secret (auth service_principal)."
    )
    client_certificate: SecretStr | None = Field(
        default=None,
        description="PEM text of the application's certificate and private key.",
    )
    client_certificate_path: str | None = Field(
        default=None, description="A PEM or PKCS12 file of the application's certificate."
    )
    client_certificate_password: SecretStr | None = Field(
        default=None, description="Password of the certificate's private key, if any."
    )
    managed_identity_client_id: str | None = Field(
        default=None, description="Client id of a user-assigned managed identity (auth default)."
    )
    authority_host: str | None = Field(
        default=None,
        description="Microsoft Entra authority for tokens (sovereign clouds); default: public.",
    )
    disable_instance_discovery: bool = Field(
        default=False,
        description="Skip the authority check (Azure Stack, private or test authorities).",
    )
    http_logging: bool = Field(
        default=False,
        description="Log the SDK's HTTP requests and responses at INFO (default: at DEBUG).",
    )

    @model_validator(mode="after")
    def _check_auth_choice(self) -> Self:
        given = {
            method: [name for name in markers if getattr(self, name) is not None]
            for method, markers in _MARKERS.items()
        }
        present = [method for method, names in given.items() if names]
        if self.auth_method is None:
            if len(present) > 1:
                what = "; ".join(f"{m} ({', '.join(given[m])})" for m in present)
                raise ValueError(
                    f"two auth methods at once: {what}; give the fields of one, or set auth_method"
                )
            # pydantic's validate_assignment would run this validator again: set it quietly.
            object.__setattr__(self, "auth_method", present[0] if present else "default")
        method = self.auth_method
        assert method is not None
        needed, optional = AUTH_FIELDS[method]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth_method {method!r} needs {', '.join(missing)}")
        own = {*needed, *optional}
        foreign = sorted(
            {
                name
                for fields in AUTH_FIELDS.values()
                for name in (*fields[0], *fields[1])
                if name not in own and getattr(self, name) not in (None, False)
            }
        )
        if foreign:
            raise ValueError(
                f"{', '.join(foreign)} not used by auth_method {method!r}: two auth methods "
                "at once? remove them or change auth_method"
            )
        if method == "service_principal":
            kinds = [
                name
                for name in ("client_secret", "client_certificate", "client_certificate_path")
                if getattr(self, name) is not None
            ]
            if len(kinds) != 1:
                raise ValueError(
                    "auth_method 'service_principal' needs exactly one of client_secret, "
                    "client_certificate, client_certificate_path "
                    f"(got {', '.join(kinds) or 'none'})"
                )
            if self.client_certificate_password is not None and kinds[0] == "client_secret":
                raise ValueError("client_certificate_password is only used with a certificate")
        if self.account_url is not None and not self.account_url.startswith(
            ("https://", "http://")
        ):
            raise ValueError(
                "account_url must be an http(s) URL, e.g. https://acme.blob.core.windows.net"
            )
        secret = self.connection_string
        if secret is not None and secret.reference is None:
            check_connection_string(secret.get_secret_value())
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            account_url="https://sampleaccount.blob.core.windows.net",
            account_key="c2FtcGxlLWFjY291bnQta2V5",  # a placeholder
        )

    @property
    def method(self) -> str:
        """The auth method in force (``auth_method``, inferred when left out)."""
        return self.auth_method or "default"

    def secret_values(self) -> list[str]:
        """The resolved secret values (to scrub them from error messages)."""
        values = []
        for secret in (
            self.connection_string,
            self.account_key,
            self.sas_token,
            self.client_secret,
            self.client_certificate,
            self.client_certificate_password,
        ):
            if secret is not None:
                values.append(secret.get_secret_value())
        return values

    # --- the client: a holder of the SDK's clients ------------------------------------------
    def _new_client(self) -> AzureClients:
        from orch_azure.connector import AzureClients

        return AzureClients(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()


def clear_client_cache() -> None:
    """Close and forget every cached Azure client of this process (also done at exit).

    Example:
        clear_client_cache()
    """
    AzureCredentials._clients.close_all()
