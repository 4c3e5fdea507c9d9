"""Where orch keeps its state, read from the environment (cheap: no heavy imports).

- ``ORCH_HOME``: folder of the embedded store and key file (default ``~/.orch``).
- ``ORCH_STORE_URL``: ``sqlite:///path/to/orch.db`` or ``postgresql://...`` (default: the
  SQLite file ``$ORCH_HOME/orch.db``).
- ``ORCH_SECRET_KEY``: the store encryption key (urlsafe base64 of 32 bytes); default the
  key file ``$ORCH_HOME/secret.key``, created 0600 on first use.
- ``ORCH_SECRET_TTL``: seconds a resolved secret reference stays cached (default 300).
- ``ORCH_STORE_RETRY_SECONDS``: how long a lost store connection is retried before giving
  up (default 30).
"""

from __future__ import annotations

import os
from pathlib import Path


def orch_home() -> Path:
    """The folder holding the embedded store and the key file."""
    return Path(os.environ.get("ORCH_HOME") or Path.home() / ".orch").expanduser()


def store_url() -> str:
    """The block store's URL: ``ORCH_STORE_URL`` or the SQLite file under ``ORCH_HOME``."""
    url = os.environ.get("ORCH_STORE_URL", "").strip()
    return url or f"sqlite:///{orch_home() / 'orch.db'}"


def secret_ttl_seconds() -> float:
    """How long a resolved secret reference is cached in this process."""
    raw = os.environ.get("ORCH_SECRET_TTL", "").strip()
    if not raw:
        return 300.0
    try:
        return float(raw)
    except ValueError:
        from orch.errors import OrchError

        raise OrchError(f"ORCH_SECRET_TTL must be a number of seconds, got {raw!r}") from None


def store_retry_seconds() -> float:
    """How long a store whose connection was lost is retried (``ORCH_STORE_RETRY_SECONDS``)."""
    raw = os.environ.get("ORCH_STORE_RETRY_SECONDS", "").strip()
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        from orch.errors import OrchError

        raise OrchError(f"ORCH_STORE_RETRY_SECONDS must be a number of seconds >= 0, got {raw!r}")
    return value
