"""Is the process that holds something (a running flow, a concurrency lease) still alive?

Rows in the store record the ``pid`` and ``HOST`` of their writer. On the same host a
dead pid is certain; from another host it can't be checked, and callers fall back on
heartbeats or lease expiry.
"""

from __future__ import annotations

import os

try:
    # The same name as socket.gethostname(), without importing socket (~5 ms at start-up).
    HOST = os.uname().nodename
except AttributeError:  # Windows: no os.uname
    import socket

    HOST = socket.gethostname()


def gone_here(host: str | None, pid: int | None) -> bool:
    """True when ``pid`` ran on this host and no longer exists.

    Example:
        >>> gone_here(HOST, os.getpid())
        False
    """
    if host != HOST or pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False
