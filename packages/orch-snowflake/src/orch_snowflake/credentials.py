"""``SnowflakeCredentials``: who connects to which account, and how.

The auth method is chosen when the block is built, from the fields given (or named with
``authenticator=``); fields that belong to another method are an error naming them, so a
block never carries a password *and* a key and leaves you guessing which one was used.
"""

from __future__ import annotations

import base64
import binascii
import re
import textwrap
from typing import Any, ClassVar, Literal, cast

from orch import Block, SecretBytes, SecretStr
from orch.integration import remember_secret
from pydantic import Field, model_validator

from orch_snowflake.errors import SnowflakeKeyError

AuthMethod = Literal[
    "password", "key_pair", "oauth", "externalbrowser", "okta", "programmatic_access_token"
]

# What each method reads; any other auth field given with it is refused.
_METHOD_FIELDS: dict[str, frozenset[str]] = {
    "password": frozenset({"password"}),
    "key_pair": frozenset({"private_key", "private_key_path", "private_key_passphrase"}),
    "oauth": frozenset({"token"}),
    "externalbrowser": frozenset(),
    "okta": frozenset({"endpoint", "password"}),
    "programmatic_access_token": frozenset({"programmatic_access_token"}),
}
_AUTH_FIELDS = frozenset().union(*_METHOD_FIELDS.values())

# authenticator= spellings → method (Snowflake's own names and ours, any case)
_AUTHENTICATORS = {
    "snowflake": "password",
    "password": "password",
    "snowflake_jwt": "key_pair",
    "key_pair": "key_pair",
    "keypair": "key_pair",
    "key-pair": "key_pair",
    "oauth": "oauth",
    "externalbrowser": "externalbrowser",
    "okta": "okta",
    "programmatic_access_token": "programmatic_access_token",
    "pat": "programmatic_access_token",
}

KEY_FORMATS = (
    "accepted private key formats: PEM text or bytes ('-----BEGIN PRIVATE KEY-----', "
    "'-----BEGIN ENCRYPTED PRIVATE KEY-----' or '-----BEGIN RSA PRIVATE KEY-----'), also "
    "with its line breaks lost or written as '\\n'; base64-encoded DER (PKCS#8 or PKCS#1); "
    "or raw DER bytes"
)

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_LEGACY_HEADERS = re.compile(rb"Proc-Type:\s*(\S+)\s*DEK-Info:\s*(\S+)\s*(.*)", re.S)


class SnowflakeCredentials(Block):
    """Credentials of a Snowflake user: the account, the user, a role and one auth method.

    The method follows from the fields given: ``password`` → password, ``private_key`` or
    ``private_key_path`` → key-pair (JWT), ``token`` → OAuth, ``programmatic_access_token``
    → programmatic access token, ``endpoint`` + ``password`` → Okta. ``authenticator=
    "externalbrowser"`` opens the browser for SSO. ``authenticator=`` may also name the
    method outright (Snowflake's names work: ``"SNOWFLAKE_JWT"``, ``"oauth"``, an Okta
    URL). Fields of another method are refused.

    Private keys are read forgivingly: PEM with lost line breaks, PKCS#8 (encrypted with
    ``private_key_passphrase`` or not), PKCS#1, base64 DER. ``host``, ``port`` and
    ``protocol`` override the address (private link, a local test server).

    Example:
        from orch import SecretRef
        from orch_snowflake import SnowflakeCredentials

        SnowflakeCredentials(
            account="xy12345.eu-west-1",
            user="ETL_SERVICE",
            role="LOADER",
            private_key=SecretRef("env://SNOWFLAKE_PRIVATE_KEY"),
            private_key_passphrase=SecretRef("env://SNOWFLAKE_KEY_PASSPHRASE"),
        ).save("prod")
    """

    block_type_slug: ClassVar[str] = "snowflake-credentials"
    # A key *path* names where the key is; the key itself is read only on connect.
    block_not_secret: ClassVar[frozenset[str]] = frozenset({"private_key_path"})

    account: str = Field(
        description="Account identifier, e.g. 'myorg-myaccount' or 'xy12345.eu-west-1'."
    )
    user: str | None = Field(default=None, description="Login name of the user.")
    role: str | None = Field(default=None, description="Role to use; the user's default if unset.")
    authenticator: str | None = Field(
        default=None,
        description="Auth method, when not implied by the fields: password, key_pair "
        "(SNOWFLAKE_JWT), oauth, externalbrowser, okta (or the Okta URL), "
        "programmatic_access_token.",
    )
    password: SecretStr | None = Field(default=None, description="Password (password, Okta).")
    private_key: SecretBytes | None = Field(
        default=None, description="RSA private key: PEM text/bytes or base64 DER (key-pair)."
    )
    private_key_path: str | None = Field(
        default=None, description="Path of a private key file, read on connect (key-pair)."
    )
    private_key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of an encrypted private key (key-pair)."
    )
    token: SecretStr | None = Field(default=None, description="OAuth access token.")
    programmatic_access_token: SecretStr | None = Field(
        default=None, description="A programmatic access token (PAT)."
    )
    endpoint: str | None = Field(
        default=None, description="Okta URL, e.g. 'https://myorg.okta.com' (Okta)."
    )
    host: str | None = Field(default=None, description="Host override (private link, tests).")
    port: int | None = Field(default=None, ge=1, le=65535, description="Port override.")
    protocol: Literal["https", "http"] | None = Field(
        default=None, description="Protocol override ('http' only for local test servers)."
    )

    @classmethod
    def block_sample(cls) -> SnowflakeCredentials:
        return cls(account="sample-account", user="SAMPLE_USER", password="sample-password")  # noqa: S106

    # --- the auth method -----------------------------------------------------------------
    @property
    def auth_method(self) -> AuthMethod:
        """The auth method these credentials use (validated when the block was built)."""
        method: AuthMethod = _pick_method(self)
        return method

    @model_validator(mode="after")
    def _check_auth(self) -> SnowflakeCredentials:
        method = _pick_method(self)
        given = {name for name in _AUTH_FIELDS if getattr(self, name) is not None}
        okta_url = _okta_url(self.authenticator)
        if okta_url is not None:
            given.discard("endpoint")
        foreign = sorted(given - _METHOD_FIELDS[method])
        if foreign:
            raise ValueError(
                f"auth method {method!r} does not use {', '.join(foreign)}: remove "
                f"{'them' if len(foreign) > 1 else 'it'}, or pick another method"
            )
        if method in ("password", "okta") and self.password is None:
            raise ValueError(f"auth method {method!r} needs a password")
        if method == "okta" and self.endpoint is None and okta_url is None:
            raise ValueError("auth method 'okta' needs endpoint (the Okta URL)")
        if method == "oauth" and self.token is None:
            raise ValueError("auth method 'oauth' needs a token")
        if method == "programmatic_access_token" and self.programmatic_access_token is None:
            raise ValueError("auth method 'programmatic_access_token' needs that token")
        if method == "key_pair":
            if (self.private_key is None) == (self.private_key_path is None):
                raise ValueError("key-pair auth needs one of private_key or private_key_path")
            literal_key = self.private_key is not None and self.private_key.reference is None
            literal_pass = (
                self.private_key_passphrase is None or self.private_key_passphrase.reference is None
            )
            if literal_key and literal_pass:
                # Check a pasted key now rather than at the first connection; references
                # and files are read only on connect (they may exist only on the worker).
                self.private_key_der()
        if method != "oauth" and method != "externalbrowser" and not self.user:
            raise ValueError(f"auth method {method!r} needs a user")
        return self

    # --- what the connector needs ------------------------------------------------------
    def private_key_der(self) -> bytes:
        """The private key as unencrypted PKCS#8 DER bytes (what the connector takes).

        Raises :class:`~orch_snowflake.errors.SnowflakeKeyError` naming the accepted
        formats, never the key.
        """
        if self.private_key is not None:
            data = self.private_key.get_secret_value()
            source = "private_key"
        elif self.private_key_path is not None:
            try:
                with open(self.private_key_path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                raise SnowflakeKeyError(
                    f"{self.block_type_slug}: cannot read private_key_path "
                    f"{self.private_key_path!r}: {exc.strerror}"
                ) from exc
            remember_secret(data)
            source = f"private_key_path {self.private_key_path!r}"
        else:
            raise SnowflakeKeyError(f"{self.block_type_slug}: no private key is set")
        passphrase = (
            self.private_key_passphrase.get_secret_value().encode()
            if self.private_key_passphrase is not None
            else None
        )
        return load_private_key(data, passphrase, where=f"{self.block_type_slug} {source}")

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``snowflake.connector.connect`` for these credentials.

        Secret references are resolved here, at connection time.
        """
        kwargs: dict[str, Any] = {"account": self.account}
        if self.user is not None:
            kwargs["user"] = self.user
        if self.role is not None:
            kwargs["role"] = self.role
        for name in ("host", "port", "protocol"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        method = self.auth_method
        if method == "password":
            assert self.password is not None
            kwargs["password"] = self.password.get_secret_value()
        elif method == "key_pair":
            kwargs["authenticator"] = "SNOWFLAKE_JWT"
            kwargs["private_key"] = self.private_key_der()
        elif method == "oauth":
            assert self.token is not None
            kwargs["authenticator"] = "oauth"
            kwargs["token"] = self.token.get_secret_value()
        elif method == "externalbrowser":
            kwargs["authenticator"] = "externalbrowser"
        elif method == "okta":
            assert self.password is not None
            kwargs["authenticator"] = self.endpoint or _okta_url(self.authenticator)
            kwargs["password"] = self.password.get_secret_value()
        else:
            assert self.programmatic_access_token is not None
            kwargs["authenticator"] = "PROGRAMMATIC_ACCESS_TOKEN"
            kwargs["token"] = self.programmatic_access_token.get_secret_value()
        return kwargs


def _okta_url(authenticator: str | None) -> str | None:
    if authenticator is not None and authenticator.lower().startswith("https://"):
        return authenticator
    return None


def _pick_method(creds: SnowflakeCredentials) -> AuthMethod:
    if creds.authenticator is not None:
        if _okta_url(creds.authenticator) is not None:
            return "okta"
        named = _AUTHENTICATORS.get(creds.authenticator.strip().lower())
        if named is None:
            accepted = ", ".join(sorted(_AUTHENTICATORS))
            raise ValueError(
                f"unknown authenticator {creds.authenticator!r}: use one of {accepted}, "
                "or an Okta URL (https://…)"
            )
        return cast(AuthMethod, named)
    implied: dict[str, list[str]] = {}
    if creds.private_key is not None or creds.private_key_path is not None:
        names = [n for n in ("private_key", "private_key_path") if getattr(creds, n) is not None]
        implied["key_pair"] = names
    if creds.token is not None:
        implied["oauth"] = ["token"]
    if creds.programmatic_access_token is not None:
        implied["programmatic_access_token"] = ["programmatic_access_token"]
    if creds.endpoint is not None:
        implied["okta"] = ["endpoint"]
    elif creds.password is not None:
        implied["password"] = ["password"]
    if len(implied) > 1:
        listed = "; ".join(f"{', '.join(f)} → {m}" for m, f in implied.items())
        raise ValueError(
            f"fields of more than one auth method are set ({listed}): keep the fields of "
            "one method, or name it with authenticator="
        )
    if not implied:
        raise ValueError(
            "no auth method: set password, private_key or private_key_path (key-pair), "
            "token (OAuth), programmatic_access_token, endpoint + password (Okta), or "
            "authenticator='externalbrowser'"
        )
    return cast(AuthMethod, next(iter(implied)))


# --- private keys ---------------------------------------------------------------------------
def load_private_key(data: bytes | str, passphrase: bytes | None, *, where: str) -> bytes:
    """Read an RSA private key as users paste it; return unencrypted PKCS#8 DER.

    Accepts PEM (PKCS#8 plain or encrypted, PKCS#1, legacy encrypted PKCS#1) even with its
    line breaks lost or written as the two characters ``\\n``, base64 DER and raw DER.
    Errors name ``where`` and the accepted formats, never any part of the key.

    Example:
        der = load_private_key(pem_text, None, where="my key")
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    raw = data.encode() if isinstance(data, str) else bytes(data)
    key: Any
    try:
        key = _deserialize(raw, passphrase, where)
    except TypeError as exc:
        if passphrase is None:
            raise SnowflakeKeyError(
                f"the private key of {where} is encrypted: set private_key_passphrase"
            ) from exc
        # A passphrase given for a key that is not encrypted: it is not needed; use the key.
        key = _deserialize(raw, None, where)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SnowflakeKeyError(
            f"the private key of {where} is not an RSA key: Snowflake key-pair "
            "authentication takes an RSA key (2048 bits or more)"
        )
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _deserialize(raw: bytes, passphrase: bytes | None, where: str) -> Any:
    """The key object; TypeError for a missing/superfluous passphrase (like cryptography)."""
    from cryptography.hazmat.primitives import serialization

    text = raw.strip().replace(b"\\r", b"").replace(b"\\n", b"\n")
    encrypted = False
    match = _PEM.search(text)
    try:
        if match is not None:
            label, body = match.group(1), match.group(2)
            encrypted = b"ENCRYPTED" in label or b"Proc-Type" in body
            legacy = _LEGACY_HEADERS.search(body)
            if legacy is not None:
                # Legacy OpenSSL encryption: the headers must be on their own lines.
                b64 = b"".join(legacy.group(3).split())
                pem = (
                    b"-----BEGIN "
                    + label
                    + b"-----\nProc-Type: "
                    + legacy.group(1)
                    + b"\nDEK-Info: "
                    + legacy.group(2)
                    + b"\n\n"
                    + "\n".join(textwrap.wrap(b64.decode("ascii"), 64)).encode()
                    + b"\n-----END "
                    + label
                    + b"-----\n"
                )
                return serialization.load_pem_private_key(pem, passphrase)
            der = base64.b64decode(b"".join(body.split()), validate=True)
        elif text[:1] == b"\x30" and not text.isascii():
            der = raw
        else:
            if b"-----BEGIN" in text:
                raise ValueError("a PEM header without its matching END line")
            der = base64.b64decode(b"".join(text.split()), validate=True)
        return serialization.load_der_private_key(der, passphrase)
    except TypeError:
        raise
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        if passphrase is not None and (encrypted or "decrypt" in str(exc).lower()):
            raise SnowflakeKeyError(
                f"the private_key_passphrase does not decrypt the private key of {where}"
            ) from exc
        raise SnowflakeKeyError(f"cannot read the private key of {where}: {KEY_FORMATS}") from exc
    except Exception as exc:  # cryptography's UnsupportedAlgorithm and the like
        raise SnowflakeKeyError(
            f"cannot read the private key of {where} ({type(exc).__name__}): {KEY_FORMATS}"
        ) from exc
