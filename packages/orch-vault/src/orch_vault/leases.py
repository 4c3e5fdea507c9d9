"""Dynamic credentials and their lease: what ``vault_dynamic_credentials`` returns, and the
keeper that renews the lease while the flow run goes on and revokes it when the run ends.

The keeper is bound to the flow run through the kit's
:func:`~orch.integration.at_flow_end`: one daemon thread per lease renews it when two
thirds of its duration have passed, until the run ends (completed, failed or crashed);
then the thread stops and the lease is revoked, which makes the secrets engine delete
the login (a database role is dropped). A process killed outright (SIGKILL) cannot
revoke: the lease then ends with its TTL, since nobody renews it any more.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import copy_context
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orch import SecretStr
from orch.integration import redact, run_logger_or

from orch_vault.errors import vault_error, vault_errors, where

if TYPE_CHECKING:
    from orch_vault.credentials import VaultCredentials

__all__ = ["DynamicCredentials", "LeaseKeeper"]

_logger = logging.getLogger("orch_vault")


@dataclass(frozen=True)
class DynamicCredentials:
    """A login made by a Vault secrets engine for this flow run, and its lease.

    ``username``/``password`` come from the database engine, ``access_key``/
    ``secret_key``/``security_token`` from the AWS engine (the others are ``None``).
    Secrets are ``SecretStr``: masked when shown, read with ``get_secret_value()``, and
    accepted as they are by a block's secret field.

    Example:
        login = vault_dynamic_credentials(VaultCredentials.load("prod"), "readonly")
        DatabaseCredentials(
            driver="postgresql", host="db", username=login.username, password=login.password
        )
    """

    lease_id: str
    lease_duration: int
    renewable: bool
    username: str | None = None
    password: SecretStr | None = None
    access_key: str | None = None
    secret_key: SecretStr | None = None
    security_token: SecretStr | None = None

    @classmethod
    def from_response(cls, response: dict[str, Any]) -> DynamicCredentials:
        """From the answer of ``MOUNT/creds/ROLE`` (its secrets become ``SecretStr``)."""
        data = response.get("data") or {}

        def secret(name: str) -> SecretStr | None:
            value = data.get(name)
            return None if value is None else SecretStr(str(value))

        return cls(
            lease_id=str(response.get("lease_id") or ""),
            lease_duration=int(response.get("lease_duration") or 0),
            renewable=bool(response.get("renewable")),
            username=data.get("username"),
            password=secret("password"),
            access_key=data.get("access_key"),
            secret_key=secret("secret_key"),
            security_token=secret("security_token"),
        )

    def secret_values(self) -> list[str]:
        """The secret values, to remember for redaction."""
        found = (self.password, self.secret_key, self.security_token)
        return [s.get_secret_value() for s in found if s is not None]


class LeaseKeeper:
    """Renews one lease in the background and revokes it on :meth:`close`.

    ``renewals`` counts the renewals made; ``capped`` says the lease reached its maximum
    TTL (it cannot be extended, and ends then); ``gone`` that the server refused to renew
    it (revoked meanwhile, or ended). In both cases renewing stops, with one warning.

    Example:
        keeper = LeaseKeeper(credentials, login, role="readonly", mount="database")
        keeper.start(); ...; keeper.close()
    """

    def __init__(
        self,
        credentials: VaultCredentials,
        login: DynamicCredentials,
        *,
        role: str,
        mount: str,
        revoke: bool = True,
    ) -> None:
        self.credentials = credentials
        self.login = login
        self.role = role
        self.mount = mount
        self.revoke = revoke
        self.renewals = 0
        self.capped = False
        self.gone = False
        self._increment = max(login.lease_duration, 1)
        self._expires = time.monotonic() + login.lease_duration
        self._next = time.monotonic() + login.lease_duration * 2 / 3
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def _place(self) -> str:
        return where(self.credentials, self.mount, f"creds/{self.role}")

    @property
    def started(self) -> bool:
        """Whether the renewer runs (or ran)."""
        return self._thread is not None

    def start(self) -> None:
        """Start renewing (in the caller's context, so log lines reach its run)."""
        thread = threading.Thread(
            target=copy_context().run,
            args=(self._loop,),
            name=f"orch-vault-lease-{self.role}",
            daemon=True,
        )
        self._thread = thread
        thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(max(0.0, self._next - time.monotonic())):
            self._renew()
            if self.capped or self.gone:
                return

    def _renew(self) -> None:
        lease_id = self.login.lease_id
        client = self.credentials.get_client()
        try:
            response = client.call(
                lambda c: c.sys.renew_lease(lease_id=lease_id, increment=self._increment)
            )
        except Exception as exc:  # a background thread: report, never die of it
            self._renew_failed(lease_id, exc)
            return
        duration = int(response.get("lease_duration") or 0)
        now = time.monotonic()
        self.renewals += 1
        self._expires = now + duration
        self._next = now + duration * 2 / 3
        _logger.debug("renewed lease %s for %s s", lease_id, duration)
        warnings = " ".join(response.get("warnings") or ())
        if duration < self._increment or "max_ttl" in warnings:
            self._at_max_ttl(lease_id, duration)

    def _renew_failed(self, lease_id: str, exc: Exception) -> None:
        import hvac.exceptions

        left = self._expires - time.monotonic()
        if "max ttl" in str(exc).lower():  # "past the max TTL, cannot renew"
            self._at_max_ttl(lease_id, max(int(left), 0))
            return
        error = (
            vault_error(
                exc,
                action="vault_dynamic_credentials renew",
                credentials=self.credentials,
                mount=self.mount,
                path=f"creds/{self.role}",
            )
            if isinstance(exc, vault_errors())
            else exc
        )
        # A refused lease (revoked or unknown) or one past its end will not come back.
        self.gone = left <= 0 or isinstance(exc, hvac.exceptions.InvalidRequest)
        self._log(
            logging.WARNING,
            f"could not renew lease {lease_id} of role {self.role!r} ({error}); "
            + (
                "it is revoked or has ended: no more renewals"
                if self.gone
                else f"it ends in {left:.0f} s unless a retry succeeds"
            ),
        )
        # Retry a few times before it ends, not in a tight loop.
        self._next = time.monotonic() + max(1.0, left / 3)

    def _at_max_ttl(self, lease_id: str, left: int) -> None:
        self.capped = True
        self._log(
            logging.WARNING,
            f"lease {lease_id} of role {self.role!r} ({self._place}) reached its maximum "
            f"TTL: the login ends in {left} s and cannot be renewed further",
        )

    def close(self) -> None:
        """Stop renewing and revoke the lease (once); problems are logged, not raised."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.credentials.timeout + 1)
        if not self.revoke:
            return
        lease_id = self.login.lease_id
        try:
            self.credentials.get_client().call(lambda c: c.sys.revoke_lease(lease_id=lease_id))
        except vault_errors() as exc:
            error = vault_error(
                exc,
                action="vault_dynamic_credentials revoke",
                credentials=self.credentials,
                mount="sys/leases",
                path="revoke",
            )
            left = max(self._expires - time.monotonic(), 0)
            self._log(
                logging.WARNING,
                f"could not revoke lease {lease_id} of role {self.role!r} ({error}); the "
                f"login stays valid until the lease ends in {left:.0f} s. The token's policy "
                'needs path "sys/leases/revoke" { capabilities = ["update"] }',
            )
            return
        self._log(
            logging.INFO,
            f"revoked lease {lease_id} of role {self.role!r} ({self._place}) at the end of "
            f"the flow run",
        )

    @staticmethod
    def _log(level: int, message: str) -> None:
        run_logger_or(_logger).log(level, "vault_dynamic_credentials: %s", redact(message))
