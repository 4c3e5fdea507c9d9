"""Crash detection: flow runs still marked running whose process is gone are marked
Crashed (with their unfinished task runs) when history is read.

Example:
    >>> from orch.history.crash import detect_crashed
    >>> detect_crashed() >= 0
    True
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

from orch.history.liveness import gone_here
from orch.history.writer import _CRASH_TASKS, SCHEMA, _active, _store, heartbeat_seconds

if TYPE_CHECKING:
    from orch.store.base import Store, Tx


def detect_crashed(store: Store | None = None) -> int:
    """Mark Running flow runs whose process died as Crashed; returns how many.

    Same host: the recorded pid no longer exists. Any host: no heartbeat for three
    intervals (``ORCH_HEARTBEAT_SECONDS``). A crashed run ends at its last sign of life
    (its last heartbeat or the last start or end of one of its task runs, never before it
    started), keeps the attempt it was in, and its error says which process stopped, since
    when nothing was heard from it and when the crash was found; its unfinished task runs
    are Crashed too.

    Example:
        >>> detect_crashed() >= 0
        True
    """
    store = store or _store()
    store.ensure_schema("runs", SCHEMA)
    now = time.time()
    stale = 3 * heartbeat_seconds() + 5
    rows = store.retrying(
        lambda tx: tx.execute(
            "SELECT f.id, f.pid, f.host, f.started, f.heartbeat, (SELECT MAX(CASE WHEN "
            "t.ended IS NULL OR t.started > t.ended THEN t.started ELSE t.ended END) "
            "FROM orch_task_runs t WHERE t.flow_run_id = f.id) "
            "FROM orch_flow_runs f WHERE f.state IN (?, ?, ?)",
            ("Running", "Pending", "Retrying"),
        ).fetchall(),
        write=False,
    )
    crashed: list[tuple[Any, ...]] = []
    for run_id, pid, host, started, beat, task_seen in rows:
        if run_id in _active:
            continue
        dead = gone_here(host, pid)
        if dead or beat is None or now - float(beat) > stale:
            seen = max(float(x) for x in (started, beat, task_seen) if x is not None)
            what = "is gone" if dead else "stopped sending heartbeats"
            crashed.append(
                (
                    seen,
                    f"Crashed: its process {what} (process {pid} on {host}, no heartbeat "
                    f"since {_utc(seen)}; found crashed at {_utc(now)})",
                    run_id,
                )
            )
    if crashed:
        # Idempotent: only runs still marked running change.
        store.retrying(partial(_mark_crashed, crashed=crashed), idempotent=True)
    return len(crashed)


def _mark_crashed(tx: Tx, crashed: list[tuple[Any, ...]]) -> None:
    tx.executemany(
        "UPDATE orch_flow_runs SET state = 'Crashed', ended = ?, error = ?, "
        "attempts = CASE WHEN attempts < 1 THEN 1 ELSE attempts END "
        "WHERE id = ? AND state IN ('Running', 'Pending', 'Retrying')",
        crashed,
    )
    tx.executemany(_CRASH_TASKS, [(c[0], c[0], c[1], c[2]) for c in crashed])


def _utc(ts: float) -> str:
    """A time for a message read on any host."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
