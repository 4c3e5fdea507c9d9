"""Every test gets its own ORCH_HOME (store + key file) and clean in-process caches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.backends.plugin", "tests.wheels"]


@pytest.fixture(autouse=True)
def orch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "orch-home"
    monkeypatch.setenv("ORCH_HOME", str(home))
    for name in ("ORCH_STORE_URL", "ORCH_SECRET_KEY", "ORCH_SECRET_TTL"):
        monkeypatch.delenv(name, raising=False)
    _reset_caches()
    yield home
    _reset_caches()


def _reset_caches() -> None:
    from orch.secrets import redaction, references
    from orch.store import _stores
    from orch.store.keyring import forget_ciphers

    for store in _stores.values():
        store.close()
    _stores.clear()
    forget_ciphers()
    references.clear_cache()
    references.set_cache_ttl(None)
    redaction.forget_all()
