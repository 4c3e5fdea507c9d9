"""``DaskTaskRunner``: the submitted task runs of a flow run go to Dask workers.

Each flow run gets its own runner (``duplicate``): on its first ``submit`` it connects to
the scheduler at ``address``, or starts ``cluster_class(**cluster_kwargs)`` (default
``distributed.LocalCluster``, adapted with ``adapt_kwargs``), and it closes what it
opened when the flow run ends.

What reaches a worker with each call: the task (by its import name: the module that
defines it must be installed on the workers), its arguments (a saved block pickles as its
name and loads on the worker from the store), the driver's ``ORCH_*`` settings (never
``ORCH_SECRET_KEY``: each worker has the key itself) and the secret values revealed on the
driver so far (so the worker masks them too). What comes back: the state, the secrets the
task revealed, and, when the flow's store is a SQLite file (``history="auto"``), the run
history the worker recorded, which the driver writes.

Example:
    >>> from orch import flow
    >>> from orch_dask import DaskTaskRunner
    >>> @flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 2}))
    ... def f() -> None: ...
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from orch import State
from orch.integration import (
    ConnectError,
    OrchError,
    TaskRunner,
    finish_remote,
    prepare_remote,
    run_remote,
    waits_for_upstream,
)

if TYPE_CHECKING:
    from distributed import Client
    from orch import Task

HistoryMode = Literal["auto", "driver", "worker"]
# Never sent to a worker: the store key stays where it was configured.
_NOT_SENT = frozenset({"ORCH_SECRET_KEY"})


def driver_settings() -> dict[str, str]:
    """The ``ORCH_*`` settings of this process that a worker gets with each call.

    Example:
        >>> "ORCH_SECRET_KEY" in driver_settings()
        False
    """
    return {k: v for k, v in os.environ.items() if k.startswith("ORCH_") and k not in _NOT_SENT}


_worker_own: dict[str, str] | None = None


def _apply_settings(settings: dict[str, str]) -> None:
    """On a worker: the ``ORCH_*`` settings for the call about to run — the driver's, and
    the worker's own (its key...) for the rest. A setting an earlier call's driver had and
    this one has not is dropped (a worker serves flows of several drivers in turn)."""
    global _worker_own
    environ = os.environ
    if _worker_own is None:
        _worker_own = {k: v for k, v in environ.items() if k.startswith("ORCH_")}
    wanted = {**_worker_own, **settings}
    for key in [k for k in environ if k.startswith("ORCH_") and k not in wanted]:
        del environ[key]
    for key, value in wanted.items():
        if environ.get(key) != value:
            environ[key] = value


def _on_worker(blob: bytes, settings: dict[str, str]) -> tuple[Any, ...]:
    """What a Dask worker runs: the driver's settings, then the call (unpickled only now,
    so that a saved block among the arguments loads from the driver's store, and a task
    whose module is missing here is this run's error), then the task engine."""
    from distributed.protocol.pickle import loads

    _apply_settings(settings)
    return run_remote(*loads(blob))  # type: ignore[no-untyped-call]


class DaskTaskRunner(TaskRunner):
    """Runs submitted tasks on a Dask cluster: an existing scheduler by ``address``, or a
    temporary ``cluster_class(**cluster_kwargs)`` started and stopped with each flow run.

    Args:
        address: the scheduler (``tcp://host:8786``); no cluster is started.
        cluster_class: a cluster class or its import path (default
            ``distributed.LocalCluster``).
        cluster_kwargs: its keyword arguments (``{"n_workers": 4}``).
        adapt_kwargs: when given, ``cluster.adapt(**adapt_kwargs)`` (``{"maximum": 10}``).
        client_kwargs: keyword arguments of ``distributed.Client``.
        history: where a worker's task runs are written: ``"driver"`` (sent back with the
            result, written by this process), ``"worker"`` (straight to the store: a shared
            PostgreSQL store), or ``"auto"`` (``driver`` for a SQLite store).

    Example:
        ``@flow(task_runner=DaskTaskRunner(address="tcp://scheduler:8786"))``
    """

    def __init__(
        self,
        address: str | None = None,
        cluster_class: str | Callable[..., Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
        adapt_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        history: HistoryMode = "auto",
    ) -> None:
        if address is not None and (cluster_class is not None or cluster_kwargs):
            raise ValueError(
                "DaskTaskRunner: give either address (an existing scheduler) or "
                "cluster_class/cluster_kwargs (a cluster to start), not both"
            )
        if history not in ("auto", "driver", "worker"):
            raise ValueError(
                f"DaskTaskRunner: history must be 'auto', 'driver' or 'worker', got {history!r}"
            )
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs) if adapt_kwargs is not None else None
        self.client_kwargs = dict(client_kwargs or {})
        self.history = history
        self._client: Any = None
        self._cluster: Any = None
        self._settings: dict[str, str] = {}
        self._to_driver = True
        self._lock = threading.Lock()
        # key → (Dask future, our future, task, task run), until the call is over
        self._pending: dict[str, tuple[Any, cf.Future[State[Any]], Any, Any]] = {}
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._collector: threading.Thread | None = None
        self._done_iter: Any = None
        self._feeder_pool: cf.ThreadPoolExecutor | None = None
        self._dumps: Callable[[Any], bytes] | None = None

    def duplicate(self) -> DaskTaskRunner:
        return DaskTaskRunner(
            self.address,
            self.cluster_class,
            self.cluster_kwargs,
            self.adapt_kwargs,
            self.client_kwargs,
            self.history,
        )

    # --- the client ------------------------------------------------------------------
    @property
    def client(self) -> Client:
        """The runner's ``distributed.Client`` (connecting, or starting the cluster, first)."""
        client: Client | None = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._start()
                client = self._client
        return client

    def _start(self) -> Client:
        import distributed
        from distributed.protocol.pickle import dumps

        from orch_dask.errors import connect_error

        self._dumps = dumps
        self._settings = driver_settings()
        if self.history == "auto":
            url = os.environ.get("ORCH_STORE_URL", "").strip()
            self._to_driver = not url or url.startswith("sqlite")  # the default is SQLite
        else:
            self._to_driver = self.history == "driver"
        kwargs = {"set_as_default": False, **self.client_kwargs}
        if self.address is not None:
            try:
                return distributed.Client(self.address, **kwargs)  # type: ignore[no-untyped-call]
            except OSError as exc:
                raise connect_error(self.address, exc) from None
        cluster_class = _cluster_class(self.cluster_class)
        self._cluster = cluster_class(**self.cluster_kwargs)
        try:
            if self.adapt_kwargs is not None:
                self._cluster.adapt(**self.adapt_kwargs)
            return distributed.Client(self._cluster, **kwargs)  # type: ignore[no-untyped-call]
        except BaseException:
            self._cluster.close()
            self._cluster = None
            raise

    # --- submitting --------------------------------------------------------------------
    def submit_call(
        self, task: Task[Any, Any], task_run: Any, call: Callable[[], State[Any]]
    ) -> cf.Future[State[Any]]:
        client = self.client
        out: cf.Future[State[Any]] = cf.Future()
        if waits_for_upstream(task_run):
            # Upstream runs are waited for on a thread of this process, then the call goes.
            ctx = contextvars.copy_context()
            self._feeder().submit(ctx.run, self._prepare_and_send, client, task, task_run, out)
        else:
            # Checked here, so that an argument that cannot be pickled fails .submit().
            self._send(client, task, task_run, out, self._prepare(task, task_run))
        return out

    def _prepare(self, task: Task[Any, Any], task_run: Any) -> tuple[Any, ...] | State[Any]:
        assert self._dumps is not None
        return prepare_remote(task, task_run, history_to_parent=self._to_driver, dumps=self._dumps)

    def _feeder(self) -> cf.ThreadPoolExecutor:
        with self._lock:
            if self._feeder_pool is None:
                self._feeder_pool = cf.ThreadPoolExecutor(32, thread_name_prefix="orch-dask")
            return self._feeder_pool

    def _prepare_and_send(
        self, client: Client, task: Task[Any, Any], task_run: Any, out: cf.Future[State[Any]]
    ) -> None:
        try:
            self._send(client, task, task_run, out, self._prepare(task, task_run))
        except BaseException as exc:
            if not out.done():
                out.set_exception(exc)

    def _send(
        self,
        client: Client,
        task: Task[Any, Any],
        task_run: Any,
        out: cf.Future[State[Any]],
        payload: tuple[Any, ...] | State[Any],
    ) -> None:
        if isinstance(payload, State):  # an upstream run failed: this one never starts
            out.set_result(payload)
            return
        # Queued for the sender thread, which submits what accumulated as one graph (a
        # .map of 10,000 calls is a few messages to the scheduler, not 10,000).
        assert self._dumps is not None
        blob = self._dumps(payload)
        self._outbox.put((f"{task.name}-{task_run.id}", blob, out, task, task_run))
        if self._sender is None:
            with self._lock:
                if self._sender is None:
                    self._sender = threading.Thread(
                        target=self._send_loop, args=(client,), name="orch-dask-send", daemon=True
                    )
                    self._sender.start()

    def _send_loop(self, client: Client) -> None:
        from distributed import as_completed

        outbox = self._outbox
        while True:
            item = outbox.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 10_000:
                try:
                    more = outbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    outbox.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                futures = client.map(
                    _on_worker,
                    [b[1] for b in batch],
                    key=[b[0] for b in batch],
                    pure=False,
                    settings=self._settings,
                )
            except BaseException as exc:
                for b in batch:
                    b[2].set_exception(exc)
                continue
            with self._lock:
                for future, b in zip(futures, batch, strict=True):
                    self._pending[b[0]] = (future, b[2], b[3], b[4])
                if self._done_iter is None or self._collector is None:
                    self._done_iter = as_completed(  # type: ignore[no-untyped-call]
                        futures, loop=client.loop, with_results=True, raise_errors=False
                    )
                    self._collector = threading.Thread(
                        target=self._collect, name="orch-dask-collect", daemon=True
                    )
                    self._collector.start()
                else:
                    self._done_iter.update(futures)

    def _collect(self) -> None:
        """Turn each finished Dask future into its run's state, as they finish."""
        while True:
            assert self._done_iter is not None
            for batch in self._done_iter.batches():
                for future, result in batch:
                    self._done(future, result)
            with self._lock:
                if self._done_iter.count() == 0:
                    self._done_iter = None
                    self._collector = None
                    return

    def _done(self, future: Any, result: Any) -> None:
        with self._lock:
            entry = self._pending.pop(future.key, None)
        if entry is None:
            return
        _, out, task, task_run = entry
        if out.done():
            return
        try:
            state = self._state_of(future, result, task, task_run)
        except BaseException as exc:
            out.set_exception(exc)
        else:
            out.set_result(state)
        finally:
            future.release()

    def _state_of(
        self, future: Any, result: Any, task: Task[Any, Any], task_run: Any
    ) -> State[Any]:
        from orch_dask.errors import worker_error

        status = future.status
        if status == "finished":
            return finish_remote(task, task_run, result)
        if status == "cancelled":
            err: BaseException = OrchError(
                f"task run {task_run.name!r} was cancelled on the Dask cluster "
                "(the scheduler lost it, or the flow run was interrupted)"
            )
            return finish_remote(task, task_run, error=err, crashed=True)
        exc = future.exception()
        assert exc is not None
        error, crashed = worker_error(task, task_run, exc)
        return finish_remote(task, task_run, error=error, crashed=crashed)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            feeder, self._feeder_pool = self._feeder_pool, None
        if feeder is not None:
            # Calls still waiting for upstream runs are sent (or, interrupted, dropped).
            feeder.shutdown(wait=wait, cancel_futures=not wait)
        sender = self._sender
        if sender is not None:
            self._outbox.put(None)
            sender.join()
        self._sender = None
        with self._lock:
            pending = list(self._pending.values())
        if wait:
            cf.wait([entry[1] for entry in pending])
        elif pending and self._client is not None:
            # Interrupted: what has not run yet never runs.
            self._client.cancel([entry[0] for entry in pending])
            for entry in pending:
                entry[1].cancel()
        with self._lock:
            client, self._client = self._client, None
            cluster, self._cluster = self._cluster, None
            self._pending.clear()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _cluster_class(spec: str | Callable[..., Any] | None) -> Callable[..., Any]:
    """The cluster class: the default LocalCluster, a class, or ``"module.Class"``."""
    if spec is None:
        from distributed import LocalCluster

        return LocalCluster
    if isinstance(spec, str):
        from importlib import import_module

        module, _, name = spec.rpartition(".")
        try:
            found: Callable[..., Any] = getattr(import_module(module), name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConnectError(
                f"DaskTaskRunner: cluster_class {spec!r} could not be imported "
                f"({type(exc).__name__}: {exc}); install the package that defines it"
            ) from None
        return found
    return spec
