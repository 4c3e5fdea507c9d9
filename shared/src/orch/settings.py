"""Where orch keeps its state, read from the environment (cheap: no heavy imports).

- ``ORCH_HOME``: folder of the embedded store and key file (default ``~/.orch``).
- ``ORCH_STORE_URL``: ``sqlite:///path/to/orch.db`` or ``postgresql://...`` (default: the
  SQLite file ``$ORCH_HOME/orch.db``).
- ``ORCH_SECRET_KEY``: the store encryption key (urlsafe base64 of 32 bytes); default the
  key file ``$ORCH_HOME/secret.key``, created 0600 on first use.
- ``ORCH_SECRET_TTL``: seconds a resolved secret reference stays cached (default 300).
- ``ORCH_FILE_SECRET_MAX_BYTES``: the largest file a ``file://`` reference may read
  (default 1 MiB), so that a reference to ``/dev/zero`` or a huge file fails at once.
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


FILE_SECRET_MAX_BYTES_DEFAULT = 1024 * 1024


def file_secret_max_bytes() -> int:
    """The largest file, in bytes, that a ``file://`` secret reference may read."""
    raw = os.environ.get("ORCH_FILE_SECRET_MAX_BYTES", "").strip()
    if not raw:
        return FILE_SECRET_MAX_BYTES_DEFAULT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        from orch.errors import OrchError

        raise OrchError(
            f"ORCH_FILE_SECRET_MAX_BYTES must be a positive number of bytes, got {raw!r}"
        )
    return value
