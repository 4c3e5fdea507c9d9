"""The hvac side of orch-vault: the client of ``VaultCredentials`` (one logged-in hvac
client that logs in again when its token is refused) and ``VaultSecret``, a secret store.

hvac is imported here on first use (a client is built), never when this module is
imported.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar

from orch import Block
from orch.integration import SecretStore, remember_secret
from pydantic import Field, field_validator

from orch_vault.credentials import KUBERNETES_JWT_PATH, VaultCredentials
from orch_vault.errors import VaultAuthError, vault_error, vault_errors

__all__ = ["VaultClient", "VaultSecret"]

T = TypeVar("T")


class VaultClient:
    """What ``VaultCredentials.get_client()`` holds: one hvac client, logged in once.

    ``hvac`` is the ``hvac.Client``; ``call(fn)`` runs ``fn(hvac_client)`` and, when the
    server refuses the token (403: expired or revoked), logs in again and retries once.
    A 403 while the token is still valid is a permission denial and is not retried.
    A token from a login is renewed once two thirds of its lease have passed (checked
    before a call: one clock read), or replaced by a new login when it cannot be renewed.
    ``logins`` and ``renewals`` count what this client did.

    Example:
        client = VaultCredentials.load("prod").get_client()
        client.call(lambda c: c.secrets.kv.v2.read_secret_version(path="app"))
    """

    def __init__(self, credentials: VaultCredentials, hvac_client: Any) -> None:
        self.credentials = credentials
        self.hvac = hvac_client
        self.logins = 0
        self.renewals = 0
        self._renew_at: float | None = None  # monotonic time; None: nothing to renew
        self._lock = threading.Lock()

    @classmethod
    def build(cls, credentials: VaultCredentials) -> VaultClient:
        """A client of ``credentials``, logged in (a token is used as given)."""
        import hvac

        verify: bool | str = credentials.ca_cert if credentials.ca_cert else credentials.verify
        token = credentials.token.get_secret_value() if credentials.token is not None else None
        hvac_client = hvac.Client(
            url=credentials.url,
            token=token,
            verify=verify,
            timeout=credentials.timeout,
            namespace=credentials.namespace,
        )
        client = cls(credentials, hvac_client)
        if credentials.auth_method != "token":
            client.login()
        else:
            client._schedule_token_renewal()
        return client

    def _schedule_token_renewal(self) -> None:
        """A given token that is renewable and expires is renewed like a login's."""
        try:
            data = self.hvac.auth.token.lookup_self()["data"]
        except vault_errors():
            return  # not allowed to look itself up, or invalid: the first call will say
        if data.get("renewable") and data.get("ttl"):
            self._schedule_renewal({"lease_duration": data["ttl"]})

    def login(self) -> None:
        """Log in with the credentials' method; the new token replaces the old one."""
        creds = self.credentials
        auth = self.hvac.auth
        mount = creds.mount
        try:
            if creds.auth_method == "approle":
                assert creds.secret_id is not None  # the block's validator saw to it
                response = auth.approle.login(
                    role_id=creds.role_id,
                    secret_id=creds.secret_id.get_secret_value(),
                    mount_point=mount,
                )
            elif creds.auth_method == "userpass":
                assert creds.password is not None
                response = auth.userpass.login(
                    username=creds.username,
                    password=creds.password.get_secret_value(),
                    mount_point=mount,
                )
            elif creds.auth_method == "kubernetes":
                response = auth.kubernetes.login(
                    role=creds.role, jwt=_kubernetes_jwt(creds), mount_point=mount
                )
            elif creds.auth_method == "jwt":
                assert creds.jwt is not None
                response = auth.jwt.jwt_login(
                    role=creds.role, jwt=creds.jwt.get_secret_value(), path=mount
                )
            else:  # a token: nothing to log in with; say the token is refused
                raise VaultAuthError(
                    f"login: the token of {_label(creds)} was refused (expired or revoked); "
                    "give the block a valid token"
                )
        except vault_errors() as exc:
            raise vault_error(exc, action="login", credentials=creds, login=True) from exc
        token = response["auth"]["client_token"]
        remember_secret(token)  # never shown in a message or log
        self.hvac.token = token
        self.logins += 1
        self._schedule_renewal(response["auth"])

    def _schedule_renewal(self, auth: dict[str, Any]) -> None:
        lease = float(auth.get("lease_duration") or 0)
        # A lease of 0 never expires (a root token); renew at 2/3 so a slow call still fits.
        self._renew_at = time.monotonic() + lease * 2 / 3 if lease > 0 else None

    def _renew_if_due(self) -> None:
        """Renew the login's token when two thirds of its lease have passed."""
        with self._lock:
            if self._renew_at is None or time.monotonic() < self._renew_at:
                return  # another thread renewed it meanwhile
            try:
                response = self.hvac.auth.token.renew_self()
            except vault_errors():
                if self.credentials.auth_method == "token":
                    # A given token cannot be replaced: use it until the server refuses it.
                    self._renew_at = None
                else:
                    self.login()  # not renewable any more (max TTL reached): a new token
                return
            self.renewals += 1
            self._schedule_renewal(response["auth"])

    def call(self, fn: Callable[[Any], T]) -> T:
        """``fn(hvac_client)``, logging in again once if the token was refused."""
        import hvac.exceptions

        renew_at = self._renew_at
        if renew_at is not None and time.monotonic() >= renew_at:
            self._renew_if_due()
        token = self.hvac.token
        try:
            return fn(self.hvac)
        except hvac.exceptions.Forbidden:
            if not self._token_refused(token):
                raise  # the token is fine: its policies deny this
        with self._lock:
            if self.hvac.token == token:  # another thread may have logged in already
                self.login()  # a plain token cannot log in: says the token is refused
        return fn(self.hvac)

    def _token_refused(self, token: str | None) -> bool:
        """True when ``token`` itself is no longer valid (not a policy refusal)."""
        import hvac.exceptions

        if self.hvac.token != token:
            return True  # replaced meanwhile: retry with the new one
        try:
            self.hvac.auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return True
        return False

    def close(self) -> None:
        """Close the HTTP session (the token is left to expire)."""
        self.hvac.adapter.close()


def _kubernetes_jwt(credentials: VaultCredentials) -> str:
    jwt_file = credentials.jwt_path or KUBERNETES_JWT_PATH
    try:
        return Path(jwt_file).read_text().strip()
    except OSError as exc:
        raise VaultAuthError(
            f"login: cannot read the Kubernetes JWT file {jwt_file} "
            f"({_label(credentials)}): {exc.strerror or exc}"
        ) from exc


def _label(credentials: VaultCredentials) -> str:
    from orch_vault.errors import where

    return where(credentials)


class VaultSecret(Block, SecretStore):
    """A secret in a KV v2 engine (``mount``/``path``), with the credentials to reach it.

    Only the location is stored, never the value. To use a secret *inside another block's
    field*, prefer a reference: ``SecretRef("vault://secret/app#password")``. As a secret
    store it has ``read_secret``, ``write_secret`` and ``delete_secret``; the value is the
    secret's key/value data as JSON bytes.

    Example:
        from orch_vault import VaultCredentials, VaultSecret

        VaultSecret(
            credentials=VaultCredentials.load("prod"), mount="secret", path="app/db"
        ).save("app-db")
        data = VaultSecret.load("app-db").read_secret()
    """

    block_type_slug = "vault-secret"

    credentials: VaultCredentials = Field(description="How to reach and log in to Vault.")
    mount: str = Field(
        default="secret", min_length=1, description="Mount path of the KV v2 engine."
    )
    path: str = Field(min_length=1, description="The secret's path inside the engine.")

    @field_validator("mount", "path")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        stripped = value.strip("/")
        if not stripped:
            raise ValueError("must name a path, not only slashes")
        return stripped

    @classmethod
    def block_sample(cls) -> Self:
        return cls(credentials=VaultCredentials.block_sample(), mount="secret", path="app/db")

    def get_client(self) -> VaultClient:
        """The cached, logged-in client of this secret's credentials."""
        return self.credentials.get_client()

    def _call(self, action: str, fn: Callable[[Any], T]) -> T:
        try:
            return self.get_client().call(fn)
        except vault_errors() as exc:
            raise vault_error(
                exc, action=action, credentials=self.credentials, mount=self.mount, path=self.path
            ) from exc

    def read_secret(self) -> bytes:
        """The latest version's data, as JSON bytes.

        Example:
            json.loads(VaultSecret.load("app-db").read_secret())["password"]
        """
        response = self._call(
            "read_secret",
            lambda c: c.secrets.kv.v2.read_secret_version(
                path=self.path, mount_point=self.mount, raise_on_deleted_version=True
            ),
        )
        return json.dumps(response["data"]["data"]).encode()

    def write_secret(self, secret_data: bytes) -> str:
        """Write a new version from a JSON object (bytes or str); returns ``mount/path``.

        Example:
            VaultSecret.load("app-db").write_secret(b'{"password": "s3cret"}')
        """
        try:
            data = json.loads(secret_data)
        except ValueError as exc:
            raise ValueError(
                f"write_secret {self.mount}/{self.path}: the data must be a JSON object"
            ) from exc
        if not isinstance(data, dict):
            raise ValueError(
                f"write_secret {self.mount}/{self.path}: the data must be a JSON object, "
                f"not {type(data).__name__}"
            )
        self._call(
            "write_secret",
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path=self.path, secret=data, mount_point=self.mount
            ),
        )
        return f"{self.mount}/{self.path}"

    def delete_secret(self) -> str:
        """Delete the latest version (recoverable with ``undelete``); returns ``mount/path``.

        Example:
            VaultSecret.load("app-db").delete_secret()
        """
        self._call(
            "delete_secret",
            lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(
                path=self.path, mount_point=self.mount
            ),
        )
        return f"{self.mount}/{self.path}"
