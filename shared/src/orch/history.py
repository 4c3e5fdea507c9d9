"""Run history: every flow run, task run and run log line, written to the store off the
hot path.

Runs append a reference to their run object to an in-memory queue (no copy, no
serialisation, no database round trip on the caller's thread); a background writer thread
drains the queue in batches — every ``ORCH_HISTORY_FLUSH_SECONDS`` (default 0.5) or as soon
as a flow run starts or ends — and writes each batch in one transaction. The queue is
flushed at interpreter exit. ``ORCH_HISTORY=0`` turns recording off.

While a flow runs, the writer refreshes its heartbeat every ``ORCH_HEARTBEAT_SECONDS``
(default 10). A flow run still marked Running whose process is gone (same host: the pid no
longer exists; any host: no heartbeat for 3 intervals) is marked Crashed when history is
read (:func:`detect_crashed`).

Example:
    >>> from orch import history
    >>> history.flush()  # write what is queued now (tests, short scripts)
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from orch.liveness import HOST, gone_here

if TYPE_CHECKING:
    from orch.context import FlowRun, TaskRun
    from orch.store.base import Store

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS orch_flow_runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        flow_name TEXT NOT NULL,
        parent_flow_run_id TEXT,
        parent_task_run_id TEXT,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        parameters TEXT,
        started DOUBLE PRECISION NOT NULL,
        ended DOUBLE PRECISION,
        error TEXT,
        pid INTEGER,
        host TEXT,
        heartbeat DOUBLE PRECISION,
        tags TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS orch_flow_runs_started ON orch_flow_runs (started)",
    """CREATE TABLE IF NOT EXISTS orch_task_runs (
        id TEXT PRIMARY KEY,
        flow_run_id TEXT,
        name TEXT NOT NULL,
        task_name TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        parameters_digest TEXT,
        started DOUBLE PRECISION NOT NULL,
        ended DOUBLE PRECISION,
        error TEXT,
        cache_key TEXT,
        tags TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS orch_task_runs_flow ON orch_task_runs (flow_run_id)",
    "CREATE INDEX IF NOT EXISTS orch_task_runs_started ON orch_task_runs (started)",
    """CREATE TABLE IF NOT EXISTS orch_run_logs (
        flow_run_id TEXT,
        task_run_id TEXT,
        ts DOUBLE PRECISION NOT NULL,
        level TEXT NOT NULL,
        logger TEXT NOT NULL,
        message TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS orch_run_logs_flow ON orch_run_logs (flow_run_id, ts)",
    "CREATE INDEX IF NOT EXISTS orch_run_logs_task ON orch_run_logs (task_run_id)",
]

_UPSERT_FLOW = """INSERT INTO orch_flow_runs (id, name, flow_name, parent_flow_run_id,
    parent_task_run_id, state, attempts, parameters, started, ended, error, pid, host,
    heartbeat, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = excluded.state,
    attempts = excluded.attempts, ended = excluded.ended, error = excluded.error,
    heartbeat = excluded.heartbeat"""
_UPSERT_TASK = """INSERT INTO orch_task_runs (id, flow_run_id, name, task_name, state,
    attempts, parameters_digest, started, ended, error, cache_key, tags)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = excluded.state,
    attempts = excluded.attempts, ended = excluded.ended, error = excluded.error,
    cache_key = excluded.cache_key"""
# The task runs a crashed flow run left unfinished are Crashed too.
_CRASH_TASKS = """UPDATE orch_task_runs SET state = 'Crashed', ended = ?, error = ?
    WHERE flow_run_id = ? AND state IN ('Running', 'Pending', 'Retrying')"""
_INSERT_LOG = """INSERT INTO orch_run_logs (flow_run_id, task_run_id, ts, level, logger,
    message) VALUES (?, ?, ?, ?, ?, ?)"""


_queue: deque[tuple[Any, ...]] = deque()
_wake = threading.Event()
_write_lock = threading.Lock()
_start_lock = threading.Lock()
_writer: threading.Thread | None = None
_active: dict[str, FlowRun] = {}
_enabled: bool | None = None
_warned = False
# A batch this big wakes the writer early, bounding memory on long task streams.
BATCH_WAKE = 5000


def enabled() -> bool:
    """Whether runs are recorded (``ORCH_HISTORY`` is not ``0``/``false``/``off``)."""
    global _enabled
    if _enabled is None:
        _enabled = os.environ.get("ORCH_HISTORY", "1").strip().lower() not in {"0", "false", "off"}
    return _enabled


def _flush_seconds() -> float:
    return float(os.environ.get("ORCH_HISTORY_FLUSH_SECONDS", "0.5"))


def heartbeat_seconds() -> float:
    """How often a running flow's heartbeat is refreshed (``ORCH_HEARTBEAT_SECONDS``)."""
    return float(os.environ.get("ORCH_HEARTBEAT_SECONDS", "10"))


# --- recording (hot path: cheap appends only) ---------------------------------------------
def record_task(run: TaskRun) -> None:
    """Queue a task run that starts or ends (the writer reads its state when it writes, so
    a run queued twice in one batch is written once)."""
    if _enabled is False or (_enabled is None and not enabled()):
        return
    _queue.append(("t", run))
    if _writer is None:
        _start_writer()
    elif len(_queue) > BATCH_WAKE:
        _wake.set()


def flow_started(run: FlowRun) -> None:
    """Queue a flow run that starts (written at once, for crash detection)."""
    if not enabled():
        return
    _active[run.id] = run
    _queue.append(("f", run))
    _start_writer()
    _wake.set()


def flow_finished(run: FlowRun) -> None:
    """Queue a flow run's final state (a Crashed one also crashes its unfinished task runs)."""
    if not enabled():
        return
    _active.pop(run.id, None)
    _queue.append(("f", run))
    if run.state_name == "Crashed":
        _queue.append(("c", run.id, run.end_time, run.error))
    _start_writer()
    _wake.set()


def record_log(
    flow_run_id: str | None,
    task_run_id: str | None,
    ts: float,
    level: str,
    logger: str,
    message: str,
) -> None:
    """Queue one run log line (redacted when written)."""
    if not enabled():
        return
    _queue.append(("l", flow_run_id, task_run_id, ts, level, logger, message))
    _start_writer()


def _start_writer() -> None:
    global _writer
    if _writer is not None:
        return
    with _start_lock:
        if _writer is None:
            thread = threading.Thread(target=_loop, name="orch-history", daemon=True)
            thread.start()
            _writer = thread


def _loop() -> None:
    last_beat = time.time()
    while True:
        _wake.wait(_flush_seconds())
        _wake.clear()
        try:
            flush()
            now = time.time()
            if _active and now - last_beat >= heartbeat_seconds():
                last_beat = now
                _beat(now)
        except Exception as exc:  # history must never break a flow
            _warn(exc)


def _warn(exc: BaseException) -> None:
    global _warned
    if not _warned:
        _warned = True
        import logging

        from orch.redaction import redact

        logging.getLogger("orch.history").warning(
            "run history could not be written to the store: %s", redact(f"{exc}")
        )


def flush() -> None:
    """Write everything queued so far (blocks until written).

    Example:
        >>> flush()
    """
    # Take the lock before looking at the queue: the writer thread may have popped the
    # last items and be writing them now; returning early would let the interpreter exit
    # (killing that daemon thread) with a finished run never written.
    with _write_lock:
        if not _queue:
            return
        batch: list[tuple[Any, ...]] = []
        popleft = _queue.popleft
        try:
            while True:
                batch.append(popleft())
        except IndexError:
            pass
        if batch:
            _write(batch)


def _beat(now: float) -> None:
    ids = [(now, run_id) for run_id in list(_active)]
    if not ids:
        return
    with _write_lock:
        store = _store()
        with store.transaction() as tx:
            tx.executemany("UPDATE orch_flow_runs SET heartbeat = ? WHERE id = ?", ids)


def _store() -> Store:
    from orch.store import get_store

    store = get_store()
    store.ensure_schema("runs", SCHEMA)
    return store


def _write(batch: list[tuple[Any, ...]]) -> None:
    from orch.redaction import redact

    flows: dict[str, FlowRun] = {}
    task_runs: dict[str, TaskRun] = {}
    crashed: list[tuple[Any, ...]] = []
    logs: list[tuple[Any, ...]] = []
    pid = os.getpid()
    now = time.time()
    for item in batch:
        kind = item[0]
        if kind == "t":
            # A run queued when it started and again when it ended is one row (its state
            # now); the started record matters only when a batch is written mid-run.
            task_runs[item[1].id] = item[1]
        elif kind == "f":
            flows[item[1].id] = item[1]
        elif kind == "c":
            crashed.append((item[2], None if item[3] is None else redact(item[3]), item[1]))
        else:
            logs.append((*item[1:6], redact(item[6])))
    tasks: list[tuple[Any, ...]] = []
    for run in task_runs.values():
        tasks.append(
            (
                run.id,
                run.flow_run_id,
                redact(run.name),
                run.task.name,
                run.state_name,
                run.attempt,
                parameters_digest(run.args, run.kwargs),
                run.start_time,
                run.end_time or None,
                None if run.error is None else redact(run.error),
                run.cache_key,
                json.dumps(run.task.tags) if run.task.tags else None,
            )
        )
    flow_rows = [
        (
            f.id,
            redact(f.name),
            f.flow_name,
            f.parent_flow_run_id,
            f.parent_task_run_id,
            f.state_name,
            f.attempt,
            redact(_parameters_text(f.parameters)),
            f.start_time,
            f.end_time,
            None if f.error is None else redact(f.error),
            pid,
            HOST,
            now,
            json.dumps(list(f.tags)) if f.tags else None,
        )
        for f in flows.values()
    ]
    store = _store()
    with store.transaction() as tx:
        if flow_rows:
            tx.executemany(_UPSERT_FLOW, flow_rows)
        if tasks:
            tx.executemany(_UPSERT_TASK, tasks)
        if crashed:
            tx.executemany(_CRASH_TASKS, crashed)
        if logs:
            tx.executemany(_INSERT_LOG, logs)


_repr: Any = None
_PLAIN = (int, float, bool, type(None))


def _short_repr(value: Any) -> str:
    """A bounded repr: cheap even for a huge list or frame."""
    global _repr
    if type(value) in _PLAIN:
        return repr(value)
    if _repr is None:
        import reprlib

        r = reprlib.Repr()
        r.maxstring = r.maxother = 200
        r.maxlist = r.maxtuple = r.maxdict = r.maxset = 20
        _repr = r
    try:
        return str(_repr.repr(value))
    except Exception:
        return f"<{type(value).__name__}>"


def _parameters_text(parameters: dict[str, Any]) -> str:
    return json.dumps({k: _short_repr(v) for k, v in parameters.items()})


def parameters_digest(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """A short digest of a call's arguments (from a bounded repr: cheap for big values).

    Keyed with a subkey of the store key: a plain hash of a small argument (a PIN, an
    account number) would be reversed by trying every value. No key, no digest.
    """
    if not args and not kwargs:
        return None
    from orch.errors import OrchError
    from orch.store import get_store
    from orch.store.keyring import store_cipher

    try:
        cipher = store_cipher(get_store(), for_write=True)
    except OrchError:
        return None
    if len(args) == 1 and not kwargs:
        text = _short_repr(args[0])
    else:
        text = _short_repr(args) + (_short_repr(sorted(kwargs.items())) if kwargs else "")
    return cipher.digest(text)


def _at_exit() -> None:
    try:
        flush()
    except Exception as exc:
        _warn(exc)


def _after_fork() -> None:
    global _writer, _write_lock, _start_lock, _wake
    _writer = None
    _queue.clear()
    _active.clear()
    _write_lock = threading.Lock()
    _start_lock = threading.Lock()
    _wake = threading.Event()


atexit.register(_at_exit)
os.register_at_fork(after_in_child=_after_fork)


# --- reading (CLI) ------------------------------------------------------------------------
def detect_crashed(store: Store | None = None) -> int:
    """Mark Running flow runs whose process died as Crashed; returns how many.

    Same host: the recorded pid no longer exists. Any host: no heartbeat for three
    intervals (``ORCH_HEARTBEAT_SECONDS``).

    Example:
        >>> detect_crashed() >= 0
        True
    """
    store = store or _store()
    store.ensure_schema("runs", SCHEMA)
    now = time.time()
    stale = 3 * heartbeat_seconds() + 5
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT id, pid, host, heartbeat FROM orch_flow_runs WHERE state IN (?, ?, ?)",
            ("Running", "Pending", "Retrying"),
        ).fetchall()
    crashed: list[tuple[Any, ...]] = []
    for run_id, pid, host, beat in rows:
        if run_id in _active:
            continue
        dead = gone_here(host, pid)
        if dead or beat is None or now - float(beat) > stale:
            why = "its process is gone" if dead else "its process stopped sending heartbeats"
            crashed.append(("Crashed", beat, f"Crashed: {why} (pid {pid} on {host})", run_id))
    if crashed:
        with store.transaction() as tx:
            tx.executemany(
                "UPDATE orch_flow_runs SET state = ?, ended = ?, error = ? "
                "WHERE id = ? AND state IN ('Running', 'Pending', 'Retrying')",
                crashed,
            )
            tx.executemany(_CRASH_TASKS, [(c[1], c[2], c[3]) for c in crashed])
    return len(crashed)


_FLOW_COLUMNS = (
    "id, name, flow_name, parent_flow_run_id, parent_task_run_id, state, attempts, "
    "parameters, started, ended, error, pid, host, heartbeat, tags"
)
_TASK_COLUMNS = (
    "id, flow_run_id, name, task_name, state, attempts, parameters_digest, started, ended, "
    "error, cache_key, tags"
)


def _flow_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in _FLOW_COLUMNS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["parameters"] = json.loads(d["parameters"]) if d["parameters"] else {}
    d["tags"] = json.loads(d["tags"]) if d["tags"] else []
    return d


def _task_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in _TASK_COLUMNS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["tags"] = json.loads(d["tags"]) if d["tags"] else []
    return d


def list_flow_runs(
    flow: str | None = None, state: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The latest flow runs (newest first), with a ``task_runs`` count; crashes detected.

    Example:
        >>> list_flow_runs(state="Failed", limit=5)
        []
    """
    flush()
    store = _store()
    detect_crashed(store)
    where, params = [], []
    if flow:
        where.append("f.flow_name = ?")
        params.append(flow)
    if state:
        where.append("LOWER(f.state) = LOWER(?)")
        params.append(state)
    sql = (
        f"SELECT {', '.join('f.' + c.strip() for c in _FLOW_COLUMNS.split(','))}, "
        "(SELECT COUNT(*) FROM orch_task_runs t WHERE t.flow_run_id = f.id) "
        "FROM orch_flow_runs f"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY f.started DESC LIMIT ?"
    )
    with store.transaction(write=False) as tx:
        rows = tx.execute(sql, (*params, int(limit))).fetchall()
    out = []
    for row in rows:
        d = _flow_dict(row[:-1])
        d["task_runs"] = int(row[-1])
        out.append(d)
    return out


def _one_by_prefix(tx: Any, query: str, run_id: str) -> tuple[Any, ...] | None:
    """The one row whose id starts with ``run_id`` (``query`` takes the LIKE pattern)."""
    rows = tx.execute(query, (run_id.replace("%", "") + "%",)).fetchall()
    if len(rows) > 1:
        from orch.errors import RunError

        raise RunError(f"run id prefix {run_id!r} matches several runs: give more of it")
    return tuple(rows[0]) if rows else None


def get_flow_run(run_id: str) -> dict[str, Any] | None:
    """One flow run by id or unique id prefix, with its ``task_runs`` list (oldest first).

    Example:
        >>> get_flow_run("0000") is None
        True
    """
    flush()
    store = _store()
    detect_crashed(store)
    with store.transaction(write=False) as tx:
        row = _one_by_prefix(
            tx, f"SELECT {_FLOW_COLUMNS} FROM orch_flow_runs WHERE id LIKE ? LIMIT 2", run_id
        )
        if row is None:
            return None
        flow_run = _flow_dict(row)
        tasks = tx.execute(
            f"SELECT {_TASK_COLUMNS} FROM orch_task_runs WHERE flow_run_id = ? ORDER BY started",
            (flow_run["id"],),
        ).fetchall()
        children = tx.execute(
            "SELECT id FROM orch_flow_runs WHERE parent_flow_run_id = ? ORDER BY started",
            (flow_run["id"],),
        ).fetchall()
    flow_run["task_runs"] = [_task_dict(t) for t in tasks]
    flow_run["child_flow_runs"] = [c[0] for c in children]
    return flow_run


def get_task_run(run_id: str) -> dict[str, Any] | None:
    """One task run by id or unique id prefix, with ``flow_run_name`` (None outside a flow).

    Example:
        >>> get_task_run("0000") is None
        True
    """
    flush()
    store = _store()
    detect_crashed(store)
    columns = ", ".join("t." + c.strip() for c in _TASK_COLUMNS.split(","))
    with store.transaction(write=False) as tx:
        row = _one_by_prefix(
            tx,
            f"SELECT {columns}, f.name FROM orch_task_runs t "
            "LEFT JOIN orch_flow_runs f ON f.id = t.flow_run_id WHERE t.id LIKE ? LIMIT 2",
            run_id,
        )
    if row is None:
        return None
    task_run = _task_dict(row[:-1])
    task_run["flow_run_name"] = row[-1]
    return task_run


def get_logs(
    flow_run_id: str | None = None, task_run_id: str | None = None
) -> list[dict[str, Any]]:
    """The log lines of a flow run and of its task runs, or of one task run; oldest first.

    Example:
        >>> get_logs("no-such-run")
        []
    """
    if (flow_run_id is None) == (task_run_id is None):
        raise TypeError("get_logs() takes a flow_run_id or a task_run_id")
    flush()
    store = _store()
    column, value = ("flow_run_id", flow_run_id) if task_run_id is None else (
        "task_run_id", task_run_id
    )
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT flow_run_id, task_run_id, ts, level, logger, message FROM orch_run_logs "
            f"WHERE {column} = ? ORDER BY ts",
            (value,),
        ).fetchall()
    keys = ("flow_run_id", "task_run_id", "ts", "level", "logger", "message")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def prune(older_than_seconds: float) -> dict[str, int]:
    """Delete finished runs (and their task runs and logs) started before the cutoff.

    Example:
        >>> prune(30 * 86400)["flow_runs"] >= 0
        True
    """
    flush()
    store = _store()
    detect_crashed(store)
    cutoff = time.time() - older_than_seconds
    running = ("Running", "Pending", "Retrying")
    with store.transaction() as tx:
        old = "SELECT id FROM orch_flow_runs WHERE started < ? AND state NOT IN (?, ?, ?)"
        logs = tx.execute(
            f"DELETE FROM orch_run_logs WHERE flow_run_id IN ({old})", (cutoff, *running)
        ).rowcount
        tasks = tx.execute(
            f"DELETE FROM orch_task_runs WHERE flow_run_id IN ({old})", (cutoff, *running)
        ).rowcount
        # task runs called outside any flow
        tasks += tx.execute(
            "DELETE FROM orch_task_runs WHERE flow_run_id IS NULL AND started < ?", (cutoff,)
        ).rowcount
        logs += tx.execute(
            "DELETE FROM orch_run_logs WHERE flow_run_id IS NULL AND ts < ?", (cutoff,)
        ).rowcount
        flows = tx.execute(
            "DELETE FROM orch_flow_runs WHERE started < ? AND state NOT IN (?, ?, ?)",
            (cutoff, *running),
        ).rowcount
    return {"flow_runs": flows, "task_runs": tasks, "logs": logs}
