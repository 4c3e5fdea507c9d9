"""Run history: every flow run, task run and run log line, written to the store off the
hot path.

Runs append a reference to their run object to an in-memory queue (no copy, no
serialisation, no database round trip on the caller's thread); a background writer thread
drains the queue in batches — every ``ORCH_HISTORY_FLUSH_SECONDS`` (default 0.5) or as soon
as a flow run starts or ends — and writes each batch in one transaction. A batch the
store cannot take is kept, in order, and retried; the queue is flushed at interpreter
exit, and what still cannot be written then is reported on stderr with its count.
``ORCH_HISTORY=0`` turns recording off.

While a flow runs, the writer refreshes its heartbeat every ``ORCH_HEARTBEAT_SECONDS``
(default 10). A flow run still marked Running whose process is gone (same host: the pid no
longer exists; any host: no heartbeat for 3 intervals) is marked Crashed when history is
read (``orch.history.crash.detect_crashed``).

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
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

from orch.history.liveness import HOST

if TYPE_CHECKING:
    from orch.engine.context import FlowRun, TaskRun
    from orch.store.base import Store, Tx
    from orch.store.crypto import Cipher

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
    # `orch runs ls --flow` and the UI's flow filter: a flow's runs newest first
    "CREATE INDEX IF NOT EXISTS orch_flow_runs_flow ON orch_flow_runs (flow_name, started)",
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
    # What a package links to a flow run (an MLflow run, a Dask dashboard...), by name.
    """CREATE TABLE IF NOT EXISTS orch_run_links (
        flow_run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (flow_run_id, name)
    )""",
]
_UPSERT_LINK = """INSERT INTO orch_run_links (flow_run_id, name, value) VALUES (?, ?, ?)
    ON CONFLICT (flow_run_id, name) DO UPDATE SET value = excluded.value"""

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
# The task runs a crashed flow run left unfinished are Crashed too: ended no earlier than
# they started (a negative duration says nothing), and a run that was running shows the
# attempt it was in (a task records its attempt number only once that attempt begins).
_CRASH_TASKS = """UPDATE orch_task_runs SET state = 'Crashed',
    ended = CASE WHEN started > ? THEN started ELSE ? END, error = ?,
    attempts = CASE WHEN state <> 'Pending' AND attempts < 1 THEN 1 ELSE attempts END
    WHERE flow_run_id = ? AND state IN ('Running', 'Pending', 'Retrying')"""
_BEAT = "UPDATE orch_flow_runs SET heartbeat = ?, attempts = ? WHERE id = ?"
_INSERT_LOG = """INSERT INTO orch_run_logs (flow_run_id, task_run_id, ts, level, logger,
    message) VALUES (?, ?, ?, ?, ?, ?)"""


# Queued items: a TaskRun itself (most of them), or a tuple whose first item says what it
# is ("f" flow run, "c" crash of a flow's task runs, "l" log line, "k" link).
_queue: deque[Any] = deque()
_wake = threading.Event()
_write_lock = threading.Lock()
_start_lock = threading.Lock()
_writer: threading.Thread | None = None
_active: dict[str, FlowRun] = {}
_enabled: bool | None = None
_warned = False
# Set by capture(): the task runs and log lines recorded in this context go here instead.
_sink: ContextVar[list[tuple[Any, ...]] | None] = ContextVar("orch_history_sink", default=None)
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
    sink = _sink.get()
    if sink is not None:
        sink.append(("t", run))
        return
    if run._queued or _enabled is False or (_enabled is None and not enabled()):
        # Already queued and not yet taken by the writer: it reads the run's state when
        # it writes, so one entry is enough (flush() clears the flag before reading).
        return
    run._queued = True
    _queue.append(run)  # the run itself, not a tuple: one allocation less per record
    if _writer is None:
        _start_writer()
    elif len(_queue) > BATCH_WAKE and not _wake.is_set():
        # Event.set() takes a lock and notifies: once per batch, not once per record.
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
    sink = _sink.get()
    if sink is not None:
        sink.append(("l", flow_run_id, task_run_id, ts, level, logger, message))
        return
    if not enabled():
        return
    _queue.append(("l", flow_run_id, task_run_id, ts, level, logger, message))
    _start_writer()


@contextmanager
def capture() -> Iterator[list[tuple[Any, ...]]]:
    """Collect, instead of writing, the task runs and log lines recorded in this context.

    For a task runner whose workers cannot reach the flow's store (a remote machine, the
    driver's SQLite file): the worker runs the task inside ``capture()`` and sends
    ``captured_records`` of the list back; the driver hands them to ``replay``,
    which records them as if they had run there (redacted when written, as ever).

    Example:
        >>> with capture() as records:
        ...     record_log(None, None, 0.0, "INFO", "orch.runs", "hello")
        >>> len(records)
        1
    """
    records: list[tuple[Any, ...]] = []
    token = _sink.set(records)
    try:
        yield records
    finally:
        _sink.reset(token)


def captured_records(records: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What ``capture`` collected, ready to pickle: each task run once, in its last
    state, without its arguments (a run's argument digest is made where they are)."""
    from copy import copy

    out: list[tuple[Any, ...]] = []
    seen: dict[str, int] = {}
    for item in records:
        if item[0] == "t":
            run = copy(item[1])
            run.args, run.kwargs = (), {}
            run._queued = False  # queued nowhere where it is replayed
            if run.id in seen:
                out[seen[run.id]] = ("t", run)
                continue
            seen[run.id] = len(out)
            out.append(("t", run))
        else:
            out.append(item)
    return out


_RUN_FIELDS = ("_name", "attempt", "cache_key", "end_time", "error", "start_time", "state_name")


def replay(records: list[tuple[Any, ...]], runs: dict[str, TaskRun] | None = None) -> None:
    """Record here what ``captured_records`` sent back from a worker. A task run whose
    id is in ``runs`` updates that run object (which keeps its arguments) instead.

    Example:
        >>> replay([])
    """
    for item in records:
        if item[0] == "t":
            run = item[1]
            mine = runs.get(run.id) if runs else None
            if mine is not None:
                for field in _RUN_FIELDS:
                    setattr(mine, field, getattr(run, field))
                run = mine
            record_task(run)
        else:
            record_log(*item[1:])


def record_link(flow_run_id: str, name: str, value: str) -> None:
    """Queue a link of a flow run to something outside orch (redacted when written; a
    second link of the same name replaces the first)."""
    if not enabled():
        return
    _queue.append(("k", flow_run_id, name, value))
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
        else:
            _recovered()


def _pending() -> str:
    """What the queue holds, as a reader counts it: ``2 flow runs, 3 task runs and 5 log
    lines``."""
    flows: set[str] = set()
    tasks: set[str] = set()
    logs = 0
    for item in list(_queue):
        if type(item) is not tuple:
            tasks.add(item.id)
        elif item[0] == "f":
            flows.add(item[1].id)
        elif item[0] == "t":
            tasks.add(item[1].id)
        elif item[0] == "l":
            logs += 1
    return f"{len(flows)} flow runs, {len(tasks)} task runs and {logs} log lines"


def _reason(exc: BaseException) -> str:
    from orch.secrets.redaction import redact

    return redact(f"{exc}") or type(exc).__name__


def _warn(exc: BaseException) -> None:
    """Say once per outage that history is not being written (it is kept and retried)."""
    global _warned
    if not _warned:
        _warned = True
        import logging

        logging.getLogger("orch.history").warning(
            "run history could not be written to the store (%s); %s are kept and retried",
            _reason(exc),
            _pending(),
        )


def _recovered() -> None:
    global _warned
    if _warned:
        _warned = False
        import logging

        logging.getLogger("orch.history").warning("run history is written to the store again")


def _report_lost(exc: BaseException) -> None:
    """The last word of a process whose history could not be written: on stderr, always
    (logging may be configured away), with what was not recorded and where."""
    import sys

    reason = _reason(exc)
    try:
        from orch.store import get_store

        where = get_store().where()
    except Exception:
        where = ""
    where = f" in the block store {where}" if where and where not in reason else ""
    sys.stderr.write(
        f"orch: warning: {_pending()} of run history were not recorded{where}: {reason}\n"
    )
    sys.stderr.flush()


def flush() -> None:
    """Write everything queued so far (blocks until written).

    A batch that cannot be written (the store stayed unreachable for
    ``ORCH_STORE_RETRY_SECONDS``) goes back to the head of the queue, in order, for the
    next flush, and the error is raised.

    Example:
        >>> flush()
    """
    # Take the lock before looking at the queue: the writer thread may have popped the
    # last items and be writing them now; returning early would let the interpreter exit
    # (killing that daemon thread) with a finished run never written.
    with _write_lock:
        if not _queue:
            return
        batch: list[Any] = []
        popleft = _queue.popleft
        try:
            while True:
                batch.append(popleft())
        except IndexError:
            pass
        for item in batch:
            if type(item) is not tuple:
                # Taken: a change from now on queues the run again (see record_task).
                item._queued = False
        if batch:
            try:
                _write(batch)
            except BaseException:
                # Not dropped: ahead of what was queued since, so the order is kept.
                _queue.extendleft(reversed(batch))
                raise


def _attempts(run: FlowRun) -> int:
    """The attempt to record: a flow run is queued as started just before its first attempt
    begins, and one that is running is in attempt 1 at least."""
    return max(run.attempt, 1) if run.state_name == "Running" else run.attempt


def _beat(now: float) -> None:
    rows = [(now, _attempts(run), run.id) for run in list(_active.values())]
    if not rows:
        return
    with _write_lock:
        store = _store()
        # the attempt too: after a retry, a crash shows the attempt that was running
        store.retrying(lambda tx: tx.executemany(_BEAT, rows), idempotent=True)


def _store() -> Store:
    from orch.store import get_store

    store = get_store()
    store.ensure_schema("runs", SCHEMA)
    return store


def _write(batch: list[Any]) -> None:
    from orch.secrets.redaction import redact

    flows: dict[str, FlowRun] = {}
    task_runs: dict[str, TaskRun] = {}
    crashed: list[tuple[Any, ...]] = []
    logs: list[tuple[Any, ...]] = []
    links: dict[tuple[str, str], tuple[str, str, str]] = {}
    pid = os.getpid()
    now = time.time()
    for item in batch:
        if type(item) is not tuple:
            # A run queued when it started and again when it ended is one row (its state
            # now); the started record matters only when a batch is written mid-run.
            task_runs[item.id] = item
            continue
        kind = item[0]
        if kind == "t":
            task_runs[item[1].id] = item[1]
        elif kind == "f":
            flows[item[1].id] = item[1]
        elif kind == "c":
            error = None if item[3] is None else redact(item[3])
            crashed.append((item[2], item[2], error, item[1]))
        elif kind == "k":
            links[(item[1], item[2])] = (item[1], redact(item[2]), redact(item[3]))
        else:
            logs.append((*item[1:6], redact(item[6])))
    tasks: list[tuple[Any, ...]] = []
    cipher = _digest_cipher() if task_runs else None
    for run in task_runs.values():
        tasks.append(
            (
                run.id,
                run.flow_run_id,
                redact(run.name),
                run.task.name,
                run.state_name,
                run.attempt,
                parameters_digest(run.args, run.kwargs, cipher),
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
            _attempts(f),
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
    beats = [(now, _attempts(run), run.id) for run in list(_active.values())]
    in_doubt = False

    def write(tx: Tx) -> None:
        if flow_rows:
            tx.executemany(_UPSERT_FLOW, flow_rows)
        if tasks:
            tx.executemany(_UPSERT_TASK, tasks)
        if crashed:
            tx.executemany(_CRASH_TASKS, crashed)
        if logs:
            tx.executemany(_INSERT_LOG, _unwritten(tx, logs) if in_doubt else logs)
        if links:
            tx.executemany(_UPSERT_LINK, list(links.values()))
        if beats:
            # A batch written is a sign of life too: a crash found later ends here.
            tx.executemany(_BEAT, beats)

    from orch.store.base import ConnectionLost

    store = _store()
    try:
        store.retrying(write)
    except ConnectionLost as exc:
        if not exc.in_doubt:
            raise
        # The connection dropped on COMMIT: the batch may be in the store already. Its
        # upserts are idempotent; log lines are inserted, so only those not there yet.
        in_doubt = True
        store.retrying(write, idempotent=True)


def _unwritten(tx: Tx, logs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The log lines of a batch that a COMMIT in doubt did not write (same time, logger
    and message: a line is written once)."""
    stamps = [row[2] for row in logs]
    there = set(
        tx.execute(
            "SELECT ts, logger, message FROM orch_run_logs WHERE ts >= ? AND ts <= ?",
            (min(stamps), max(stamps)),
        ).fetchall()
    )
    return [row for row in logs if (row[2], row[4], row[5]) not in there]


_repr: Any = None
_PLAIN = (int, float, bool, type(None))


def _short_repr(value: Any) -> str:
    """A bounded repr: cheap even for a huge list or frame; secrets masked before it
    truncates (a truncated secret's halves would escape redaction)."""
    global _repr
    if type(value) in _PLAIN:
        return repr(value)
    if _repr is None:
        from orch.secrets.redaction import masking_repr

        _repr = masking_repr(maxstring=200, maxitems=20)
    try:
        return str(_repr.repr(value))
    except Exception:
        return f"<{type(value).__name__}>"


def _parameters_text(parameters: dict[str, Any]) -> str:
    return json.dumps({k: _short_repr(v) for k, v in parameters.items()})


def _digest_cipher() -> Cipher | None:
    """The store's cipher for keyed digests, or ``None`` when no key is configured.

    Never creates a key file: running a flow must not make this machine's key the key of
    a fresh (team) store; saving a block does that, deliberately.
    """
    from orch.errors import OrchError
    from orch.store import get_store
    from orch.store.keyring import store_cipher

    try:
        return store_cipher(get_store(), for_write=False)
    except OrchError:
        return None


def parameters_digest(
    args: tuple[Any, ...], kwargs: dict[str, Any], cipher: Cipher | Literal[True] | None = True
) -> str | None:
    """A short digest of a call's arguments (from a bounded repr: cheap for big values).

    Keyed with a subkey of the store key: a plain hash of a small argument (a PIN, an
    account number) would be reversed by trying every value. No key, no digest. A batch
    passes the ``cipher`` it looked up once (``None``: no key); ``True`` looks it up.
    """
    if not args and not kwargs:
        return None
    if cipher is True:
        cipher = _digest_cipher()
    if cipher is None:
        return None
    if len(args) == 1 and not kwargs:
        text = _short_repr(args[0])
    else:
        text = _short_repr(args) + (_short_repr(sorted(kwargs.items())) if kwargs else "")
    return cipher.digest(text)


def flush_or_report() -> None:
    """The last chance to write, at exit or before dying of a signal: what still fails is
    reported on stderr, never dropped in silence. The exit status stays the program's own
    (a library does not turn a run that did its work into a failure because its history
    could not be recorded)."""
    try:
        flush()
    except Exception as exc:
        _report_lost(exc)



def _after_fork() -> None:
    global _writer, _write_lock, _start_lock, _wake
    _writer = None
    _queue.clear()
    _active.clear()
    _write_lock = threading.Lock()
    _start_lock = threading.Lock()
    _wake = threading.Event()


atexit.register(flush_or_report)
os.register_at_fork(after_in_child=_after_fork)
