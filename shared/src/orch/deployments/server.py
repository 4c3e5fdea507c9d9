"""``orch.serve``: one process runs its deployments' flows on schedule, with no other service.

The loop, in the serving process's main thread:

1. Each deployment's next slot comes due: the server takes it by inserting the slot's row
   (``orch.deployments.store``: the primary key makes exactly one server win). Slots
   older than ``ORCH_SERVE_MISSED_SECONDS`` (default 60) when first seen were missed (no
   server was up): the latest ``catch_up`` of them run, the others are recorded skipped.
   A slot that comes while a run of the deployment is still going follows ``overlap``.
2. Every ``ORCH_SERVE_POLL_SECONDS`` (default 1): the server refreshes its heartbeat,
   re-reads its deployments (``orch deployments pause/resume``), picks up run requests
   (``orch deployments run``), and looks for runs held by a dead server: those are marked
   Crashed and, when the deployment has ``retry_crashed`` left, run again here.
3. SIGTERM or SIGINT: no new slot is taken; running flows get ``shutdown_timeout`` seconds
   (default 30) to finish; the server's row is removed, and the process exits.

Each flow run runs in its own thread of the serving process (its state, logs and
heartbeat go to the run history as for any run); the run is linked to its deployment
(``orch runs ls`` shows it).

Example:
    ``orch.serve(etl.to_deployment("nightly", cron="0 2 * * *"))`` serves until SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any

from orch import settings
from orch.deployments import store as ds
from orch.deployments.model import Deployment, DeploymentError
from orch.history.liveness import HOST
from orch.schedules import Schedule

if TYPE_CHECKING:
    from orch.flows import Flow
    from orch.store.base import Store, Tx

log = logging.getLogger("orch.serve")

# The slot a flow run in this thread was started for (read by the on_running hook).
_slot: ContextVar[tuple[Server, str, str, int] | None] = ContextVar("orch_serve_slot", default=None)


def missed_seconds() -> float:
    """How late a slot may be taken and still run on time (``ORCH_SERVE_MISSED_SECONDS``)."""
    return settings.serve_missed_seconds()


def poll_seconds() -> float:
    """How often a server looks for requests, pauses and dead servers."""
    return settings.serve_poll_seconds()


def _on_running(flow: Any, flow_run: Any, state: Any) -> None:
    """Hook added to served flows: link the run to its deployment and its slot row."""
    slot = _slot.get()
    if slot is None:
        return
    server, name, key, attempt = slot
    server._started(name, key, attempt, flow_run.id)


class _Served:
    """A deployment this server serves: its flow (with the hook) and schedule cursor."""

    def __init__(self, deployment: Deployment) -> None:
        assert deployment.flow is not None
        flow = deployment.flow
        self.deployment = deployment
        self.flow: Flow[..., Any] = flow.with_options(
            on_running=[*flow.on_running_hooks, _on_running],
            on_completion=list(flow.on_completion_hooks),
            on_failure=list(flow.on_failure_hooks),
            on_crashed=list(flow.on_crashed_hooks),
        )
        self.schedule: Schedule | None = deployment.schedule
        self.cursor = 0.0  # the last slot this server took or saw taken
        self.next = float("inf")
        self.paused = deployment.paused
        self.resumed: float | None = None
        self.running: dict[tuple[str, int], threading.Thread] = {}
        self.queued: list[tuple[str, int, dict[str, Any]]] = []

    def advance(self, now: float) -> None:
        self.next = (
            float("inf")
            if self.schedule is None or self.paused
            else self.schedule.next_after(self.cursor)
        )


class Server:
    """Serves deployments until stopped; see the module docstring.

    Example:
        ``Server([etl.to_deployment("nightly", cron="0 2 * * *")]).run()``
    """

    def __init__(
        self,
        deployments: list[Deployment],
        *,
        shutdown_timeout: float = 30.0,
        store: Store | None = None,
    ) -> None:
        if not deployments:
            raise DeploymentError("orch.serve needs at least one deployment")
        names = [d.name for d in deployments]
        if len(set(names)) != len(names):
            raise DeploymentError(f"two deployments share a name: {names}")
        for d in deployments:
            if d.flow is None:
                raise DeploymentError(f"deployment {d.name!r} has no flow to run")
        self.store = ds.get_store(store)
        self.id = f"{HOST}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.served = {d.name: _Served(d) for d in deployments}
        self.shutdown_timeout = shutdown_timeout
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self.poll = poll_seconds()
        self.missed = missed_seconds()
        self._last_cleanup = 0.0

    # --- life cycle ------------------------------------------------------------------------
    def register(self) -> None:
        """Save the deployments, set each schedule's cursor, and add this server's row."""
        now = time.time()
        for served in self.served.values():
            row = ds.save_deployment(served.deployment, self.store)
            served.paused = row["paused"]
            served.resumed = row["resumed"]
            last = self.store.retrying(
                partial(_last_slot, name=served.deployment.name), write=False
            )
            # A deployment that never ran starts now; one that did resumes after its last
            # slot, so that the slots missed while no server was up are seen as missed.
            cursor = float(last[0]) if last and last[0] is not None else float(row["created"])
            served.cursor = max(cursor, float(row["resumed"] or 0.0))
            if served.cursor > now:
                served.cursor = now
            served.advance(now)
        names = json.dumps(sorted(self.served))
        self.store.retrying(
            lambda tx: tx.execute(
                "INSERT INTO orch_servers (id, host, pid, started, heartbeat, deployments, "
                "stopping) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (self.id, HOST, os.getpid(), now, now, names),
            ),
            idempotent=True,
        )

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT (or ``stop()``), then shut down gracefully."""
        self.register()
        restore = self._install_signals()
        log.info(
            "serving %s (server %s); stop with Ctrl-C or SIGTERM",
            ", ".join(sorted(self.served)),
            self.id,
        )
        try:
            self._loop()
        finally:
            self._shutdown()
            restore()

    def stop(self) -> None:
        """Stop taking slots (what SIGTERM does); ``run`` then shuts down."""
        self.stop_event.set()
        self._wake.set()

    def _install_signals(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

        def handler(signum: int, frame: Any) -> None:
            log.info("received signal %d: taking no new slot; waiting for running flows", signum)
            self.stop()

        for sig in previous:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    def _shutdown(self) -> None:
        from orch import history

        self.store.retrying(
            lambda tx: tx.execute("UPDATE orch_servers SET stopping = 1 WHERE id = ?", (self.id,)),
            idempotent=True,
        )
        # Queued slots were never started: hand them back so another server can take them.
        for served in self.served.values():
            for key, attempt, _params in served.queued:
                self._set_state(served.deployment.name, key, attempt, "crashed", "server stopped")
            served.queued.clear()
        deadline = time.monotonic() + self.shutdown_timeout
        threads = [t for s in self.served.values() for t in s.running.values()]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [t for t in threads if t.is_alive()]
        history.flush_or_report()
        if left:
            log.warning(
                "%d flow run(s) still running after %g s: leaving them (they will show as Crashed)",
                len(left),
                self.shutdown_timeout,
            )
            return  # the row stays: this process's death marks its runs Crashed
        self.store.retrying(
            lambda tx: tx.execute("DELETE FROM orch_servers WHERE id = ?", (self.id,)),
            idempotent=True,
        )

    # --- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        last_poll = 0.0
        last_beat = time.time()
        from orch.history.writer import heartbeat_seconds

        beat_every = heartbeat_seconds()
        while not self.stop_event.is_set():
            now = time.time()
            try:
                if now - last_poll >= self.poll:
                    last_poll = now
                    if now - last_beat >= beat_every:
                        last_beat = now
                        self._heartbeat(now)
                    self._refresh()
                    self._sweep(now)
                    self._pick_requests()
                self._start_queued()
                for served in self.served.values():
                    if served.next <= time.time():
                        self._due(served, time.time())
            except Exception as exc:
                # A store outage longer than ORCH_STORE_RETRY_SECONDS: keep serving and try
                # again (the slots missed meanwhile follow catch_up).
                log.warning("serving loop: %s: %s (trying again)", type(exc).__name__, exc)
                self.stop_event.wait(self.poll)
            now = time.time()
            wake_at = min([last_poll + self.poll, *(s.next for s in self.served.values())])
            self._wake.wait(max(0.0, min(wake_at - now, self.poll)))
            self._wake.clear()

    def _heartbeat(self, now: float) -> None:
        def beat(tx: Tx) -> None:
            tx.execute("UPDATE orch_servers SET heartbeat = ? WHERE id = ?", (now, self.id))
            if tx.rowcount == 0:  # removed as dead (a long pause): come back
                tx.execute(
                    "INSERT INTO orch_servers (id, host, pid, started, heartbeat, "
                    "deployments, stopping) VALUES (?, ?, ?, ?, ?, ?, 0)",
                    (self.id, HOST, os.getpid(), now, now, json.dumps(sorted(self.served))),
                )

        self.store.retrying(beat, idempotent=True)

    def _refresh(self) -> None:
        """Pause/resume from the store."""
        names = list(self.served)
        rows = self.store.retrying(
            lambda tx: tx.execute(
                f"SELECT name, paused, resumed FROM orch_deployments WHERE name IN "
                f"({', '.join('?' * len(names))})",
                names,
            ).fetchall(),
            write=False,
        )
        now = time.time()
        for name, paused, resumed in rows:
            served = self.served[name]
            served.paused = bool(paused)
            if resumed is not None and resumed != served.resumed:
                served.resumed = float(resumed)
                # Slots missed while paused are not run after a resume.
                served.cursor = max(served.cursor, min(float(resumed), now))
            served.advance(now)

    # --- scheduled slots ----------------------------------------------------------------------
    def _due(self, served: _Served, now: float) -> None:
        assert served.schedule is not None
        d = served.deployment
        slots = served.schedule.slots(served.cursor, now)
        served.cursor = max(served.cursor, slots[-1] if slots else now)
        served.advance(now)
        missed = [s for s in slots if now - s > self.missed]
        on_time = [s for s in slots if now - s <= self.missed]
        run_missed = missed[len(missed) - d.catch_up :] if d.catch_up else []
        skip = missed[: len(missed) - len(run_missed)]
        if skip:
            # One row records the skipped slots (and moves every server's cursor past them).
            self._insert(
                d.name,
                skip[-1],
                "missed",
                "skipped",
                note=f"{len(skip)} missed slot(s) skipped, from {ds.slot_key(skip[0])} "
                f"to {ds.slot_key(skip[-1])} (catch_up={d.catch_up})",
            )
        for slot in run_missed:
            self._take(served, slot, "catch-up")
        for slot in on_time:
            self._take(served, slot, "scheduled")

    def _insert(
        self,
        name: str,
        slot: float,
        kind: str,
        state: str,
        *,
        key: str | None = None,
        attempt: int = 0,
        parameters: dict[str, Any] | None = None,
        note: str | None = None,
        check_overlap: bool = False,
    ) -> str | None:
        """Insert a slot row if no server did: the state it got, or None when taken."""
        key = key or ds.slot_key(slot)
        now = time.time()
        overlap_note = "skipped: a run was still going (overlap=skip)"

        def work(tx: Tx) -> str | None:
            final = state
            if check_overlap and state == "running":
                busy = tx.execute(
                    "SELECT COUNT(*) FROM orch_deployment_slots WHERE deployment = ? AND "
                    "state IN ('claimed', 'queued', 'running')",
                    (name,),
                ).fetchone()
                if busy and int(busy[0]) > 0:
                    policy = self.served[name].deployment.overlap
                    if kind == "catch-up" and policy == "skip":
                        policy = "queue"  # the missed slots to run run one after another
                    final = {"skip": "skipped", "queue": "queued"}.get(policy, state)
            tx.execute(
                f"INSERT INTO orch_deployment_slots ({ds.SLOT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (deployment, slot_key, attempt) DO NOTHING",
                (
                    name,
                    key,
                    attempt,
                    slot,
                    kind,
                    final,
                    json.dumps(parameters) if parameters else None,
                    self.id,
                    None,
                    now,
                    None,
                    now if final == "skipped" else None,
                    note if final != "skipped" or state == "skipped" else overlap_note,
                ),
            )
            return final if tx.rowcount == 1 else None

        # Not idempotent: a COMMIT lost in doubt may have taken the slot, and running it
        # again could run it twice; the next slot comes anyway.
        try:
            return self.store.retrying(work)
        except Exception as exc:
            log.warning("could not take slot %s of %s: %s", key, name, exc)
            return None

    def _take(self, served: _Served, slot: float, kind: str) -> None:
        name = served.deployment.name
        key = ds.slot_key(slot)
        got = self._insert(name, slot, kind, "running", key=key, check_overlap=True)
        if got == "running":
            self._launch(served, key, 0, {})
        elif got == "queued":
            served.queued.append((key, 0, {}))
        elif got == "skipped":
            log.info("%s: slot %s skipped, a run is still going (overlap=skip)", name, key)

    def _start_queued(self) -> None:
        for served in self.served.values():
            if not served.queued or served.running:
                continue
            name = served.deployment.name
            busy = self.store.retrying(partial(_busy, name=name), write=False)
            if busy and int(busy[0]) > 0:
                continue
            key, attempt, params = served.queued.pop(0)
            self._set_state(name, key, attempt, "running")
            self._launch(served, key, attempt, params)

    # --- requests, crashes -------------------------------------------------------------------
    def _pick_requests(self) -> None:
        names = list(self.served)  # a paused deployment still runs on request
        rows = self.store.retrying(
            lambda tx: tx.execute(
                "SELECT deployment, slot_key, attempt, parameters FROM orch_deployment_slots "
                f"WHERE state = 'requested' AND deployment IN ({', '.join('?' * len(names))}) "
                "ORDER BY slot",
                names,
            ).fetchall(),
            write=False,
        )
        for name, key, attempt, params in rows:
            if self._claim(name, key, attempt, "requested"):
                self._launch(self.served[name], key, attempt, json.loads(params or "{}"))

    def _claim(self, name: str, key: str, attempt: int, from_state: str) -> bool:
        """Move a row from ``from_state`` to running under this server; True if we won."""
        now = time.time()

        def work(tx: Tx) -> bool:
            tx.execute(
                "UPDATE orch_deployment_slots SET state = 'running', server_id = ?, claimed = ? "
                "WHERE deployment = ? AND slot_key = ? AND attempt = ? AND state = ?",
                (self.id, now, name, key, attempt, from_state),
            )
            return tx.rowcount == 1

        try:
            return bool(self.store.retrying(work))
        except Exception as exc:
            log.warning("could not take run request %s of %s: %s", key, name, exc)
            return False

    def _sweep(self, now: float) -> None:
        """Mark the runs of dead servers Crashed; retry those the deployment allows."""
        from orch.history.crash import detect_crashed

        rows = self.store.retrying(
            lambda tx: tx.execute(
                "SELECT s.deployment, s.slot_key, s.attempt, s.slot, s.kind, s.state, "
                "s.parameters, s.server_id, s.flow_run_id, v.host, v.pid, v.heartbeat "
                "FROM orch_deployment_slots s LEFT JOIN orch_servers v ON v.id = s.server_id "
                "WHERE s.state IN ('claimed', 'queued', 'running') AND s.server_id <> ?",
                (self.id,),
            ).fetchall(),
            write=False,
        )
        dead_servers: set[str] = set()
        for name, key, attempt, slot, kind, state, params, sid, run_id, host, pid, beat in rows:
            if not ds.server_dead(host, pid, beat, now):
                continue
            dead_servers.add(sid)
            note = f"Crashed: server {sid} died while the run was {state}"
            if not self._transition(name, key, attempt, state, "crashed", note):
                continue  # another server saw it first
            log.warning("%s: slot %s was held by dead server %s", name, key, sid)
            if run_id is not None:
                detect_crashed(self.store)
            served = self.served.get(name)
            if served is None:
                continue
            # A run that never started is taken over; a started one is retried if allowed.
            if state == "running" and attempt >= served.deployment.retry_crashed:
                continue
            got = self._insert(
                name,
                float(slot),
                kind,
                "running",
                key=key,
                attempt=attempt + 1,
                parameters=json.loads(params) if params else None,
                note=f"retry {attempt + 1} of a run crashed with server {sid}"
                if state == "running"
                else f"taken over from dead server {sid}",
            )
            if got == "running":
                self._launch(served, key, attempt + 1, json.loads(params) if params else {})
        if dead_servers:
            self.store.retrying(
                lambda tx: tx.executemany(
                    "DELETE FROM orch_servers WHERE id = ?", [(s,) for s in dead_servers]
                ),
                idempotent=True,
            )
        if now - self._last_cleanup > 600:
            # Rows of servers long dead that held no run (a live one re-adds its row).
            self._last_cleanup = now
            cutoff = now - max(3600.0, ds.stale_after())
            self.store.retrying(
                lambda tx: tx.execute("DELETE FROM orch_servers WHERE heartbeat < ?", (cutoff,)),
                idempotent=True,
            )

    def _transition(self, name: str, key: str, attempt: int, old: str, new: str, note: str) -> bool:
        def work(tx: Tx) -> bool:
            tx.execute(
                "UPDATE orch_deployment_slots SET state = ?, note = ?, ended = ? "
                "WHERE deployment = ? AND slot_key = ? AND attempt = ? AND state = ?",
                (new, note, time.time(), name, key, attempt, old),
            )
            return tx.rowcount == 1

        return bool(self.store.retrying(work))

    def _set_state(
        self, name: str, key: str, attempt: int, state: str, note: str | None = None
    ) -> None:
        now = time.time()
        ended = now if state in ("completed", "failed", "crashed") else None
        self.store.retrying(
            lambda tx: tx.execute(
                "UPDATE orch_deployment_slots SET state = ?, ended = COALESCE(?, ended), "
                "note = COALESCE(?, note) WHERE deployment = ? AND slot_key = ? AND attempt = ?",
                (state, ended, note, name, key, attempt),
            ),
            idempotent=True,
        )

    # --- running a flow ------------------------------------------------------------------------
    def _launch(self, served: _Served, key: str, attempt: int, params: dict[str, Any]) -> None:
        parameters = {**served.deployment.parameters, **params}
        thread = threading.Thread(
            target=self._execute,
            args=(served, key, attempt, parameters),
            name=f"orch-serve-{served.deployment.name}-{key}",
            daemon=True,
        )
        served.running[(key, attempt)] = thread
        thread.start()

    def _execute(self, served: _Served, key: str, attempt: int, parameters: dict[str, Any]) -> None:
        name = served.deployment.name
        token = _slot.set((self, name, key, attempt))
        state_name = "failed"
        try:
            result = served.flow(**parameters, return_state=True)
            if served.flow.is_async:
                import asyncio

                result = asyncio.run(result)
            state_name = "completed" if not result.is_failed() else "failed"
        except BaseException as exc:  # the run is Failed/Crashed in its history already
            log.warning("%s: run of slot %s ended with %s: %s", name, key, type(exc).__name__, exc)
        finally:
            _slot.reset(token)
            try:
                self._set_state(name, key, attempt, state_name)
            except Exception as exc:
                log.warning("%s: could not record the end of slot %s: %s", name, key, exc)
            served.running.pop((key, attempt), None)
            self._wake.set()

    def _started(self, name: str, key: str, attempt: int, flow_run_id: str) -> None:
        """The on_running hook: record the flow run on the slot row and link it."""
        from orch.history.writer import record_link

        record_link(flow_run_id, "deployment", name)
        now = time.time()
        self.store.retrying(
            lambda tx: tx.execute(
                "UPDATE orch_deployment_slots SET flow_run_id = ?, started = ? "
                "WHERE deployment = ? AND slot_key = ? AND attempt = ?",
                (flow_run_id, now, name, key, attempt),
            ),
            idempotent=True,
        )


def _last_slot(tx: Tx, name: str) -> tuple[Any, ...] | None:
    return tx.execute(
        "SELECT MAX(slot) FROM orch_deployment_slots WHERE deployment = ? AND "
        f"kind IN ({', '.join('?' * len(ds.SCHEDULED_KINDS))})",
        (name, *ds.SCHEDULED_KINDS),
    ).fetchone()


def _busy(tx: Tx, name: str) -> tuple[Any, ...] | None:
    return tx.execute(
        "SELECT COUNT(*) FROM orch_deployment_slots WHERE deployment = ? AND "
        "state IN ('claimed', 'running')",
        (name,),
    ).fetchone()


def serve(*deployments: Deployment, shutdown_timeout: float = 30.0) -> None:
    """Serve ``deployments`` in this process until SIGTERM or Ctrl-C (Prefect's
    ``serve``): each runs on its schedule, takes ``orch deployments run`` requests, and
    shares the work with other servers on the same store.

    Example:
        ``orch.serve(etl.to_deployment("nightly", cron="0 2 * * *"), report.to_deployment(
        "hourly", interval=3600))``
    """
    _log_to_stderr()
    Server(list(deployments), shutdown_timeout=shutdown_timeout).run()


def _log_to_stderr() -> None:
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
