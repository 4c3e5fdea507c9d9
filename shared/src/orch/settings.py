"""Where orch keeps its state, read from the environment (cheap: no heavy imports).

- ``ORCH_HOME``: folder of the embedded store and key file (default ``~/.orch``).
- ``ORCH_STORE_URL``: ``sqlite:///path/to/orch.db`` or ``postgresql://...`` (default: the
  SQLite file ``$ORCH_HOME/orch.db``).
- ``ORCH_SECRET_KEY``: the store encryption key (urlsafe base64 of 32 bytes); default the
  key file ``$ORCH_HOME/secret.key``, created 0600 on first use.
- ``ORCH_SECRET_TTL``: seconds a resolved secret reference stays cached (default 300).
- ``ORCH_FILE_SECRET_MAX_BYTES``: the largest file a ``file://`` reference may read
  (default 1 MiB), so that a reference to ``/dev/zero`` or a huge file fails at once.
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


def _number(name: str, default: float, *, what: str, positive: bool = False) -> float:
    """The number in ``$name`` (``default`` when unset); anything else is a clear error."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value > 0 if positive else value >= 0):  # also refuses NaN
        from orch.errors import OrchError

        raise OrchError(f"{name} must be {what}, got {raw!r}")
    return value


def secret_ttl_seconds() -> float:
    """How long a resolved secret reference is cached in this process."""
    return _number("ORCH_SECRET_TTL", 300.0, what="a number of seconds >= 0")


FILE_SECRET_MAX_BYTES_DEFAULT = 1024 * 1024


def file_secret_max_bytes() -> int:
    """The largest file, in bytes, that a ``file://`` secret reference may read."""
    value = _number(
        "ORCH_FILE_SECRET_MAX_BYTES",
        FILE_SECRET_MAX_BYTES_DEFAULT,
        what="a positive number of bytes",
        positive=True,
    )
    if value != int(value):
        from orch.errors import OrchError

        raise OrchError(f"ORCH_FILE_SECRET_MAX_BYTES must be a whole number of bytes, got {value}")
    return int(value)


def store_retry_seconds() -> float:
    """How long a store whose connection was lost is retried (``ORCH_STORE_RETRY_SECONDS``)."""
    return _number("ORCH_STORE_RETRY_SECONDS", 30.0, what="a number of seconds >= 0")


def serve_missed_seconds() -> float:
    """How late a schedule's slot may be taken and still run (``ORCH_SERVE_MISSED_SECONDS``)."""
    return _number("ORCH_SERVE_MISSED_SECONDS", 60.0, what="a number of seconds > 0", positive=True)


def serve_poll_seconds() -> float:
    """How often ``orch serve`` looks for run requests, pauses and dead servers
    (``ORCH_SERVE_POLL_SECONDS``)."""
    return _number("ORCH_SERVE_POLL_SECONDS", 1.0, what="a number of seconds > 0", positive=True)
