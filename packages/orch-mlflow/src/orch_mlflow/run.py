"""``mlflow_run``: one MLflow run per flow run (a context manager, or a flow's decorator),
and ``mlflow_child_run``: a run nested under it, for a task that asks for one.

No global state: the run is an :class:`MlflowRun` value (the block and the run id) that a
flow passes to its tasks as an argument, so tasks on threads, in other processes or on a
process pool log to the right run. MLflow's fluent "active run" is never used.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from orch.integration import OrchError, link_run, run_logger_or

from orch_mlflow.connector import MlflowTrackingServer
from orch_mlflow.errors import MlflowError

__all__ = ["MlflowRun", "mlflow_child_run", "mlflow_run"]

F = TypeVar("F", bound=Callable[..., Any])
_log = logging.getLogger("orch_mlflow")

# Tags put on every run opened inside an orch run (``mlflow.parentRunId`` is MLflow's own).
FLOW_NAME_TAG = "orch.flow_name"
FLOW_RUN_ID_TAG = "orch.flow_run_id"
TASK_NAME_TAG = "orch.task_name"
TASK_RUN_ID_TAG = "orch.task_run_id"
PARENT_TAG = "mlflow.parentRunId"


@dataclass(frozen=True)
class MlflowRun:
    """An open MLflow run: the block it lives on and its id. Pass it to tasks (it pickles:
    a saved block by its name); ``str(run)`` is the run id.

    Example:
        with mlflow_run(server) as run:
            mlflow_log_metrics(server, run.run_id, {"loss": 0.1})
    """

    server: MlflowTrackingServer
    run_id: str
    experiment_id: str
    artifact_uri: str

    def __str__(self) -> str:
        return self.run_id


def _orch_context() -> tuple[dict[str, str], str | None]:
    """Tags naming the current flow/task run, and a default run name (none outside)."""
    from orch import get_run_context

    try:
        ctx = get_run_context()
    except OrchError:  # MissingContextError: outside any flow or task run
        return {}, None
    tags: dict[str, str] = {}
    name: str | None = None
    flow_run = getattr(ctx, "flow_run", None)  # None in a process pool's worker
    if flow_run is not None:
        tags = {FLOW_NAME_TAG: flow_run.flow_name, FLOW_RUN_ID_TAG: flow_run.id}
        name = flow_run.name
    task_run = getattr(ctx, "task_run", None)
    if task_run is not None:
        if task_run.flow_run_id:
            tags[FLOW_RUN_ID_TAG] = task_run.flow_run_id
        tags[TASK_NAME_TAG] = task_run.task.name
        tags[TASK_RUN_ID_TAG] = task_run.id
        name = task_run.name
    return tags, name


@contextmanager
def _open_run(
    server: MlflowTrackingServer,
    run_name: str | None,
    run_id: str | None,
    parent_run_id: str | None,
    tags: Mapping[str, Any] | None,
) -> Iterator[MlflowRun]:
    if run_id is not None:  # join a run another process opened: its owner ends it
        found = server.call("get run", lambda c: c.get_run(run_id), f"run {run_id}")
        yield MlflowRun(server, run_id, found.info.experiment_id, found.info.artifact_uri)
        return
    orch_tags, default_name = _orch_context()
    all_tags = {**server.default_tags, **orch_tags, **{k: str(v) for k, v in (tags or {}).items()}}
    if parent_run_id is not None:
        all_tags[PARENT_TAG] = parent_run_id
        server.call("get parent run", lambda c: c.get_run(parent_run_id), f"run {parent_run_id}")
    experiment_id = server.experiment_id()
    name = run_name or default_name
    created = server.call(
        "create run",
        lambda c: c.create_run(experiment_id, tags=all_tags, run_name=name),
        f"experiment {server.experiment_name!r}",
    )
    run = MlflowRun(server, created.info.run_id, experiment_id, created.info.artifact_uri)
    kind = "child run" if parent_run_id else "run"
    url = f"{server.tracking_uri}/#/experiments/{experiment_id}/runs/{run.run_id}"
    run_logger_or(_log).info("MLflow %s %s: %s", kind, run.run_id, url)
    if parent_run_id is None:
        # `orch runs show` and `orch ui` list it with the flow run it belongs to.
        link_run("mlflow run", f"{run.run_id}  {url}")
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    except BaseException as exc:
        status = "FAILED" if isinstance(exc, Exception) else "KILLED"
        raise
    finally:
        try:
            server.call(
                "end run",
                lambda c: c.set_terminated(run.run_id, status=status),
                f"run {run.run_id}",
            )
        except MlflowError as exc:
            if status == "FINISHED":
                raise
            # The body's own error is the one to see: this one is only logged.
            run_logger_or(_log).warning(
                "could not mark MLflow run %s %s: %s", run.run_id, status, exc
            )


class _RunScope:
    """What ``mlflow_run`` returns: a context manager, and a decorator for a flow."""

    def __init__(self, server: MlflowTrackingServer, **options: Any) -> None:
        if not isinstance(server, MlflowTrackingServer):
            raise TypeError(
                f"mlflow_run needs an MlflowTrackingServer block first, not {type(server).__name__}"
            )
        self._server = server
        self._options = options
        self._cm: Any = None

    def __enter__(self) -> MlflowRun:
        self._cm = _open_run(self._server, **self._options)
        run: MlflowRun = self._cm.__enter__()
        return run

    def __exit__(self, *exc: Any) -> bool | None:
        cm, self._cm = self._cm, None
        return bool(cm.__exit__(*exc))

    def __call__(self, fn: F) -> F:
        """Wrap a flow's function: one MLflow run around each call; the function gets it as
        its ``mlflow_run`` parameter when it has one (left at its default ``None``)."""
        signature = inspect.signature(fn)
        takes_run = "mlflow_run" in signature.parameters

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _open_run(self._server, **self._options) as run:
                if takes_run:
                    bound = signature.bind_partial(*args, **kwargs)
                    if bound.arguments.get("mlflow_run") is None:
                        bound.arguments["mlflow_run"] = run
                    args, kwargs = bound.args, bound.kwargs
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def mlflow_run(
    server: MlflowTrackingServer,
    run_name: str | None = None,
    *,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> _RunScope:
    """Open one MLflow run for this flow run; end it (FINISHED, or FAILED on an error).

    Inside a flow the run is named after the flow run and tagged ``orch.flow_name`` and
    ``orch.flow_run_id`` (inside a task, also ``orch.task_name``/``orch.task_run_id``);
    the block's ``default_tags`` and ``tags`` are added. ``run_id`` joins a run that
    another process opened (it is not ended here); ``parent_run_id`` nests the new run.
    As a decorator under ``@flow``, it opens a run per flow call and passes it as the
    function's ``mlflow_run`` parameter.

    Example:
        @flow
        def train(lr: float) -> None:
            with mlflow_run(server) as run:
                mlflow_log_params(server, run.run_id, {"lr": lr})
                fit(run)  # a task: it gets the run, and may open a child run
    """
    return _RunScope(
        server, run_name=run_name, run_id=run_id, parent_run_id=parent_run_id, tags=tags
    )


def mlflow_child_run(
    parent: MlflowRun | str,
    server: MlflowTrackingServer | None = None,
    run_name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
) -> _RunScope:
    """Open a run nested under ``parent`` (an :class:`MlflowRun`, or a run id with its
    ``server``): for a task that wants a run of its own. Named after the task run.

    Example:
        @task
        def fit(run: MlflowRun, depth: int) -> None:
            with mlflow_child_run(run) as child:
                mlflow_log_metrics(run.server, child.run_id, {"depth": depth})
    """
    if isinstance(parent, MlflowRun):
        server = server or parent.server
        parent_id = parent.run_id
    else:
        parent_id = parent
    if server is None:
        raise TypeError(
            "mlflow_child_run: give the server block with a parent run id, or pass the MlflowRun"
        )
    return mlflow_run(server, run_name, parent_run_id=parent_id, tags=tags)
