"""SnowflakeCredentials: the auth method follows from the fields, foreign fields are
refused by name, keys are read forgivingly, and no secret ever shows in an error."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from orch import SecretRef
from orch.errors import BlockValidationError
from orch_snowflake import SnowflakeCredentials, SnowflakeKeyError, load_private_key

PASSPHRASE = b"key-pass-91c2e4"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def expected_der(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())


def _pem(key: Any, fmt: ser.PrivateFormat, passphrase: bytes | None = None) -> bytes:
    enc = ser.BestAvailableEncryption(passphrase) if passphrase else ser.NoEncryption()
    return bytes(key.private_bytes(ser.Encoding.PEM, fmt, enc))


def creds(**fields: Any) -> SnowflakeCredentials:
    return SnowflakeCredentials(account="acme-prod", **fields)


# --- choosing the auth method -------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "method", "authenticator"),
    [
        ({"user": "U", "password": "pw-123456"}, "password", None),
        ({"user": "U", "token": "oauth-tok-1"}, "oauth", "oauth"),
        ({"token": "oauth-tok-1"}, "oauth", "oauth"),
        ({"user": "U", "authenticator": "externalbrowser"}, "externalbrowser", "externalbrowser"),
        (
            {"user": "U", "endpoint": "https://acme.okta.com", "password": "pw-123456"},
            "okta",
            "https://acme.okta.com",
        ),
        (
            {"user": "U", "authenticator": "https://acme.okta.com", "password": "pw-123456"},
            "okta",
            "https://acme.okta.com",
        ),
        (
            {"user": "U", "programmatic_access_token": "pat-abc-123"},
            "programmatic_access_token",
            "PROGRAMMATIC_ACCESS_TOKEN",
        ),
        ({"user": "U", "authenticator": "SNOWFLAKE", "password": "pw-123456"}, "password", None),
    ],
)
def test_the_method_follows_from_the_fields(
    fields: dict[str, Any], method: str, authenticator: str | None
) -> None:
    c = creds(**fields)
    assert c.auth_method == method
    kwargs = c.connect_kwargs()
    assert kwargs.get("authenticator") == authenticator
    assert kwargs["account"] == "acme-prod"


def test_key_pair_from_a_pasted_key_or_a_path(
    rsa_key: rsa.RSAPrivateKey, expected_der: bytes, tmp_path: Path
) -> None:
    pem = _pem(rsa_key, ser.PrivateFormat.PKCS8)
    by_value = creds(user="U", private_key=pem)
    assert by_value.auth_method == "key_pair"
    kwargs = by_value.connect_kwargs()
    assert kwargs["authenticator"] == "SNOWFLAKE_JWT"
    assert kwargs["private_key"] == expected_der
    path = tmp_path / "rsa_key.p8"
    path.write_bytes(_pem(rsa_key, ser.PrivateFormat.PKCS8, PASSPHRASE))
    by_path = creds(
        user="U", private_key_path=str(path), private_key_passphrase=PASSPHRASE.decode()
    )
    assert by_path.connect_kwargs()["private_key"] == expected_der
    # Named outright, with Snowflake's own spelling.
    assert creds(user="U", authenticator="snowflake_jwt", private_key=pem).auth_method == (
        "key_pair"
    )


def test_secrets_are_resolved_on_connect_not_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    c = creds(user="U", password=SecretRef("env://SF_TEST_PASSWORD"))
    monkeypatch.setenv("SF_TEST_PASSWORD", "from-the-env-55")
    assert c.connect_kwargs()["password"] == "from-the-env-55"
    assert "from-the-env-55" not in repr(c) + c.model_dump_json()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"password": "pw-123456", "token": "oauth-tok-1"}, ["password", "token"]),
        ({"password": "pw-123456", "private_key": "k"}, ["password", "private_key"]),
        (
            {"authenticator": "oauth", "token": "oauth-tok-1", "password": "pw-123456"},
            ["password"],
        ),
        (
            {"password": "pw-123456", "private_key_passphrase": "pp-123456"},
            ["private_key_passphrase"],
        ),
        (
            {"authenticator": "externalbrowser", "programmatic_access_token": "pat-abc-123"},
            ["programmatic_access_token"],
        ),
    ],
)
def test_fields_of_another_method_are_refused_by_name(
    fields: dict[str, Any], named: list[str]
) -> None:
    with pytest.raises(BlockValidationError) as err:
        creds(user="U", **fields)
    message = str(err.value)
    assert "snowflake-credentials" in message
    for name in named:
        assert name in message
    for value in fields.values():
        if len(value) > 3 and value not in ("oauth", "externalbrowser"):
            assert value not in message


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"user": "U"}, "no auth method"),
        ({"password": "pw-123456"}, "needs a user"),
        ({"user": "U", "authenticator": "okta", "password": "pw-123456"}, "needs endpoint"),
        ({"user": "U", "authenticator": "oauth"}, "needs a token"),
        ({"user": "U", "authenticator": "key_pair"}, "private_key or private_key_path"),
        ({"user": "U", "authenticator": "kerberos", "password": "pw-123456"}, "unknown"),
    ],
)
def test_incomplete_or_unknown_methods_are_clear_errors(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(BlockValidationError, match=says) as err:
        creds(**fields)
    assert "pw-123456" not in str(err.value)


def test_saved_and_loaded_with_the_key_encrypted_at_rest(
    rsa_key: rsa.RSAPrivateKey, expected_der: bytes, orch_home: Path
) -> None:
    pem = _pem(rsa_key, ser.PrivateFormat.PKCS8, PASSPHRASE)
    creds(
        user="U", role="LOADER", private_key=pem, private_key_passphrase=PASSPHRASE.decode()
    ).save("prod")
    loaded = SnowflakeCredentials.load("prod")
    assert loaded.role == "LOADER"
    assert loaded.private_key_der() == expected_der
    stored = (orch_home / "orch.db").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" not in stored
    assert PASSPHRASE not in stored


# --- reading keys as users paste them --------------------------------------------------------
def _variants(key: rsa.RSAPrivateKey) -> dict[str, tuple[bytes | str, bytes | None]]:
    pkcs8 = _pem(key, ser.PrivateFormat.PKCS8)
    pkcs8_enc = _pem(key, ser.PrivateFormat.PKCS8, PASSPHRASE)
    pkcs1 = _pem(key, ser.PrivateFormat.TraditionalOpenSSL)
    pkcs1_enc = _pem(key, ser.PrivateFormat.TraditionalOpenSSL, PASSPHRASE)
    der = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    der_enc = key.private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(PASSPHRASE)
    )
    pkcs1_der = key.private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption()
    )
    return {
        "pkcs8 pem": (pkcs8, None),
        "pkcs8 pem as str": (pkcs8.decode(), None),
        "pkcs8 pem, newlines lost": (pkcs8.replace(b"\n", b""), None),
        "pkcs8 pem, newlines as spaces": (pkcs8.replace(b"\n", b" "), None),
        "pkcs8 pem, newlines as \\n": (pkcs8.replace(b"\n", b"\\n"), None),
        "pkcs8 pem, indented": (b"\n".join(b"    " + ln for ln in pkcs8.splitlines()), None),
        "encrypted pkcs8 pem": (pkcs8_enc, PASSPHRASE),
        "encrypted pkcs8 pem, newlines lost": (pkcs8_enc.replace(b"\n", b""), PASSPHRASE),
        "pkcs1 pem": (pkcs1, None),
        "pkcs1 pem, newlines as spaces": (pkcs1.replace(b"\n", b" "), None),
        "legacy encrypted pkcs1 pem": (pkcs1_enc, PASSPHRASE),
        "legacy encrypted pkcs1 pem, newlines lost": (pkcs1_enc.replace(b"\n", b" "), PASSPHRASE),
        "base64 der": (base64.b64encode(der), None),
        "base64 der, wrapped": (base64.encodebytes(der), None),
        "base64 encrypted der": (base64.b64encode(der_enc), PASSPHRASE),
        "base64 pkcs1 der": (base64.b64encode(pkcs1_der).decode(), None),
        "raw der": (der, None),
        "unneeded passphrase": (pkcs8, PASSPHRASE),
    }


def test_every_accepted_key_format_gives_the_same_key(
    rsa_key: rsa.RSAPrivateKey, expected_der: bytes
) -> None:
    for label, (data, passphrase) in _variants(rsa_key).items():
        assert load_private_key(data, passphrase, where="test") == expected_der, label


def test_an_unreadable_key_lists_the_accepted_formats_and_never_echoes_it(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    pem = _pem(rsa_key, ser.PrivateFormat.PKCS8)
    body = pem.splitlines()[1].decode()
    truncated = pem[: len(pem) // 2] + b"-----END PRIVATE KEY-----"
    for bad in (b"not a key at all, just text", pem.replace(b"-----END", b"-----NOPE"), truncated):
        with pytest.raises(SnowflakeKeyError) as err:
            load_private_key(bad, None, where="snowflake-credentials private_key")
        message = str(err.value)
        assert "PEM" in message and "base64" in message and "DER" in message
        assert "snowflake-credentials private_key" in message
        assert body not in message and "just text" not in message
    # The block says the same when it is built, naming itself, still without the key.
    with pytest.raises(BlockValidationError) as block_err:
        creds(user="U", private_key=truncated)
    assert "snowflake-credentials" in str(block_err.value)
    assert body not in str(block_err.value)


def test_passphrase_problems_are_named(rsa_key: rsa.RSAPrivateKey) -> None:
    encrypted = _pem(rsa_key, ser.PrivateFormat.PKCS8, PASSPHRASE)
    with pytest.raises(SnowflakeKeyError, match="encrypted: set private_key_passphrase"):
        load_private_key(encrypted, None, where="k")
    with pytest.raises(SnowflakeKeyError, match="does not decrypt") as err:
        load_private_key(encrypted, b"wrong-pass-000", where="k")
    assert "wrong-pass-000" not in str(err.value)
    legacy = _pem(rsa_key, ser.PrivateFormat.TraditionalOpenSSL, PASSPHRASE)
    with pytest.raises(SnowflakeKeyError, match="does not decrypt"):
        load_private_key(legacy, b"wrong-pass-000", where="k")


def test_a_non_rsa_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SnowflakeKeyError, match="not an RSA key"):
        load_private_key(_pem(key, ser.PrivateFormat.PKCS8), None, where="k")


def test_a_key_reference_or_file_is_read_on_connect(
    rsa_key: rsa.RSAPrivateKey, expected_der: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_ref = creds(user="U", private_key=SecretRef("env://SF_TEST_KEY"))  # not read yet
    monkeypatch.setenv("SF_TEST_KEY", _pem(rsa_key, ser.PrivateFormat.PKCS8).decode())
    assert by_ref.connect_kwargs()["private_key"] == expected_der
    missing = creds(user="U", private_key_path="/nonexistent/rsa_key.p8")
    with pytest.raises(SnowflakeKeyError, match="cannot read private_key_path"):
        missing.connect_kwargs()
