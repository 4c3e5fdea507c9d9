"""Secret types and references: masking, resolution, caching, clear errors."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest
from orch import Block, SecretBytes, SecretDict, SecretRef, SecretStr, register_resolver
from orch.errors import BlockValidationError, SecretReferenceError
from orch.secrets.redaction import RedactingFilter, redact
from orch.secrets.references import clear_cache, set_cache_ttl

PLAIN = "pa55-w0rd-xyzzy"


class Creds(Block):
    """Test credentials.

    Example:
        Creds(user="u", password="p")
    """

    user: str
    password: SecretStr
    key: SecretBytes | None = None
    extra: SecretDict | None = None


def test_literal_secret_is_masked_everywhere() -> None:
    creds = Creds(user="bob", password=PLAIN, key=PLAIN.encode(), extra={"k": PLAIN})
    shown = [
        repr(creds),
        str(creds),
        f"{creds.password}",
        str(creds.model_dump()),
        creds.model_dump_json(),
        json.dumps(creds.model_dump(mode="json")),
        repr(creds.key),
        repr(creds.extra),
    ]
    for text in shown:
        assert PLAIN not in text
    assert creds.password.get_secret_value() == PLAIN
    assert creds.key is not None and creds.key.get_secret_value() == PLAIN.encode()
    assert creds.extra is not None and creds.extra.get_secret_value() == {"k": PLAIN}


def test_validation_error_never_echoes_input() -> None:
    with pytest.raises(BlockValidationError) as info:
        Creds(user="bob", password=12345678901, extra="not-a-mapping-" + PLAIN)
    text = str(info.value)
    assert "password" in text and "extra" in text and "creds" in text
    assert "12345678901" not in text and PLAIN not in text
    assert info.value.__cause__ is None  # pydantic's error (which echoes input) is not chained


def test_unknown_field_is_an_error_naming_it() -> None:
    with pytest.raises(BlockValidationError, match="pasword"):
        Creds(user="bob", pasword="x")  # type: ignore[call-arg]


def test_env_reference_resolves_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = Creds(user="bob", password=SecretRef("env://ORCH_T_PW"))
    assert repr(creds.password) == "SecretStr(ref='env://ORCH_T_PW')"
    monkeypatch.setenv("ORCH_T_PW", PLAIN)
    assert creds.password.get_secret_value() == PLAIN


def test_missing_env_variable_names_the_reference() -> None:
    creds = Creds(user="bob", password=SecretRef("env://ORCH_T_MISSING"))
    with pytest.raises(SecretReferenceError, match=r"env://ORCH_T_MISSING.*not set"):
        creds.password.get_secret_value()


def test_file_reference_strips_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(PLAIN + "\n")
    assert SecretStr(SecretRef(f"file://{path}")).get_secret_value() == PLAIN
    with pytest.raises(SecretReferenceError, match="no such file"):
        SecretStr(SecretRef(f"file://{tmp_path}/nope")).get_secret_value()


def test_unknown_scheme_is_refused_and_masks_a_password() -> None:
    with pytest.raises(SecretReferenceError) as info:
        SecretRef("postgresql://etl:" + PLAIN + "@db/prod")
    assert "postgresql" in str(info.value)
    assert PLAIN not in str(info.value)


def test_scheme_that_no_package_serves_is_refused_when_made() -> None:
    # No workspace package declares acme-kms:// : there is no package a hint could name.
    # The hint for a package's scheme before it is installed is tested in a core-only venv
    # (tests/packaging/test_new_package.py).
    with pytest.raises(SecretReferenceError, match="unknown secret reference scheme 'acme-kms'"):
        SecretRef("acme-kms://secret/data/app#token")


def test_key_selection_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_T_JSON", json.dumps({"user": "u", "password": PLAIN}))
    assert SecretStr(SecretRef("env://ORCH_T_JSON#password")).get_secret_value() == PLAIN
    with pytest.raises(SecretReferenceError, match="no key 'nope'"):
        SecretStr(SecretRef("env://ORCH_T_JSON#nope")).get_secret_value()
    assert SecretDict(SecretRef("env://ORCH_T_JSON")).get_secret_value()["user"] == "u"


def test_cache_ttl_and_expiry() -> None:
    calls: list[str] = []

    def count(ref: SecretRef) -> str:
        calls.append(ref.location)
        return f"value-{len(calls)}"

    register_resolver("counting", count)
    secret = SecretStr(SecretRef("counting://a"))
    assert secret.get_secret_value() == "value-1"
    assert secret.get_secret_value() == "value-1"
    assert calls == ["a"]
    set_cache_ttl(0)  # no caching: each use resolves again
    clear_cache()
    assert secret.get_secret_value() == "value-2"
    assert secret.get_secret_value() == "value-3"


def test_ttl_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    register_resolver("counting2", lambda ref: calls.append(1) or "v")
    monkeypatch.setenv("ORCH_SECRET_TTL", "0")
    SecretStr(SecretRef("counting2://x")).get_secret_value()
    SecretStr(SecretRef("counting2://x")).get_secret_value()
    assert len(calls) == 2


def test_burst_of_concurrent_resolutions_makes_one_call() -> None:
    calls = []
    gate = threading.Event()

    def slow(ref: SecretRef) -> str:
        calls.append(1)
        gate.wait(0.2)
        return "v"

    register_resolver("slow", slow)
    secret = SecretStr(SecretRef("slow://one"))
    threads = [threading.Thread(target=secret.get_secret_value) for _ in range(50)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_resolver_failure_is_wrapped_with_the_reference() -> None:
    def broken(ref: SecretRef) -> str:
        raise ConnectionError("service down")

    register_resolver("broken", broken)
    with pytest.raises(SecretReferenceError, match=r"broken://x.*service down") as info:
        SecretStr(SecretRef("broken://x")).get_secret_value()
    assert isinstance(info.value.__cause__, ConnectionError)


def test_revealed_values_are_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    creds = Creds(user="bob", password=PLAIN)
    value = creds.password.get_secret_value()
    logger = logging.getLogger("orch.test.redaction")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("connecting with %s", value)
        try:
            raise RuntimeError(f"login failed for {value}")
        except RuntimeError:
            logger.exception("boom")
    assert PLAIN not in caplog.text
    assert "**********" in caplog.text
    assert redact(f"x{PLAIN}y") == "x**********y"


def test_builtin_resolvers_are_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="orch.secret_resolvers")}
    assert {"env", "file"} <= names


def test_secrets_pickle_for_process_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    monkeypatch.setenv("ORCH_T_PICKLE", PLAIN)
    creds = Creds(user="u", password=SecretRef("env://ORCH_T_PICKLE"))
    copy = pickle.loads(pickle.dumps(creds))
    assert copy == creds
    assert copy.password.get_secret_value() == PLAIN
    assert os.environ["ORCH_T_PICKLE"] == PLAIN
