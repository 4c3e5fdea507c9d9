"""``VaultCredentials``: how to reach and log in to Vault or OpenBao.

The block is a :class:`~orch.integration.Connector`: its client is a
:class:`orch_vault.connector.VaultClient` (one logged-in hvac client), made on first use,
shared by equal blocks in a process, closed at exit, and made anew in a forked child. The
login happens once per process and credentials; a token that expired or was revoked is
replaced by logging in again when the server refuses it, never before each request. No
SDK is imported here: hvac loads in :mod:`orch_vault.connector`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Self

from orch import SecretStr
from orch.integration import Connector
from pydantic import Field, model_validator

if TYPE_CHECKING:
    from orch_vault.connector import VaultClient

__all__ = ["AUTH_FIELDS", "AuthMethod", "VaultCredentials"]

AuthMethod = Literal["token", "approle", "userpass", "kubernetes", "jwt"]

# The fields each auth method needs (first) and accepts: a field of another method is
# refused, so a block never silently ignores what its author wrote.
AUTH_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "token": (("token",), ()),
    "approle": (("role_id", "secret_id"), ()),
    "userpass": (("username", "password"), ()),
    "kubernetes": (("role",), ("jwt_path",)),
    "jwt": (("role", "jwt"), ()),
}
_DEFAULT_MOUNTS = {
    "approle": "approle",
    "userpass": "userpass",
    "kubernetes": "kubernetes",
    "jwt": "jwt",
}
KUBERNETES_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class VaultCredentials(Connector["VaultClient"]):
    """The address of a Vault (or OpenBao) server and how to log in to it.

    ``auth_method`` picks one way to log in: ``token``, ``approle`` (``role_id`` and
    ``secret_id``), ``userpass`` (``username`` and ``password``), ``kubernetes``
    (``role``, the service account's JWT read from ``jwt_path``) or ``jwt`` (``role`` and
    ``jwt``, for JWT/OIDC). ``auth_mount`` is where that method is enabled when it is not
    at its default path. Secrets may be ``SecretRef``s (``env://VAULT_TOKEN``).

    Example:
        from orch import SecretRef
        from orch_vault import VaultCredentials

        VaultCredentials(
            url="https://vault.internal:8200",
            auth_method="approle",
            role_id="etl",
            secret_id=SecretRef("env://VAULT_SECRET_ID"),
        ).save("prod")
        client = VaultCredentials.load("prod").get_client()
    """

    block_type_slug = "vault-credentials"
    # A file path and an identity, not secrets.
    block_not_secret = frozenset({"jwt_path", "role_id"})

    url: str = Field(description="Address of the server, e.g. https://vault.internal:8200.")
    auth_method: AuthMethod = Field(
        default="token",
        description="How to log in: token, approle, userpass, kubernetes or jwt.",
    )
    token: SecretStr | None = Field(default=None, description="A Vault token (auth_method token).")
    role_id: str | None = Field(default=None, description="AppRole role_id (auth_method approle).")
    secret_id: SecretStr | None = Field(
        default=None, description="AppRole secret_id (auth_method approle)."
    )
    username: str | None = Field(default=None, description="User name (auth_method userpass).")
    password: SecretStr | None = Field(
        default=None, description="The user's password (auth_method userpass)."
    )
    role: str | None = Field(
        default=None, description="Role to log in as (auth_method kubernetes or jwt)."
    )
    jwt_path: str | None = Field(
        default=None,
        description="File of the Kubernetes service account JWT (default: the pod's own).",
    )
    jwt: SecretStr | None = Field(default=None, description="A JWT/OIDC token (auth_method jwt).")
    auth_mount: str | None = Field(
        default=None,
        description="Path the auth method is enabled at, when not its default (approle, ...).",
    )
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace.")
    verify: bool = Field(default=True, description="Check the server's TLS certificate.")
    ca_cert: str | None = Field(
        default=None, description="A CA bundle file to check the server's certificate with."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for an answer.")

    @model_validator(mode="after")
    def _check_auth_choice(self) -> Self:
        needed, optional = AUTH_FIELDS[self.auth_method]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth_method {self.auth_method!r} needs {', '.join(missing)}")
        own = set(needed) | set(optional)
        foreign = sorted(
            name
            for method_fields in AUTH_FIELDS.values()
            for name in (*method_fields[0], *method_fields[1])
            if name not in own and getattr(self, name) is not None
        )
        if foreign:
            raise ValueError(
                f"{', '.join(dict.fromkeys(foreign))} belong(s) to another auth method than "
                f"{self.auth_method!r}: remove them or change auth_method"
            )
        if self.auth_method == "token" and self.auth_mount is not None:
            raise ValueError("auth_mount is not used with auth_method 'token'")
        if self.ca_cert is not None and not self.verify:
            raise ValueError("ca_cert is given but verify is False: keep verify to use it")
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            url="https://vault.example.com:8200",
            auth_method="approle",
            role_id="sample-role-id",
            secret_id="sample-secret-id",  # noqa: S106 - a placeholder
        )

    @property
    def mount(self) -> str | None:
        """The auth method's mount path (``None`` for a token)."""
        if self.auth_method == "token":
            return None
        return (self.auth_mount or _DEFAULT_MOUNTS[self.auth_method]).strip("/")

    def _new_client(self) -> VaultClient:
        from orch_vault.connector import VaultClient

        return VaultClient.build(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()
