"""Run logging: ``get_run_logger()`` and ``log_prints``.

Run log records go to stderr (``HH:MM:SS.mmm | LEVEL | Flow run 'name' - message``) and
into the run history, with every secret value this process resolved masked. The level is
``ORCH_LOGGING_LEVEL`` (default ``INFO``). Records are emitted by the ``orch.runs`` logger,
which does not propagate to the root logger (so they are not printed twice).

Example:
    >>> from orch import flow, get_run_logger
    >>> @flow
    ... def etl() -> None:
    ...     get_run_logger().info("loaded %d rows", 10)
"""

from __future__ import annotations

import builtins
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from orch.engine.context import flow_run_ctx, task_run_ctx
from orch.errors import MissingContextError

if TYPE_CHECKING:
    from orch.engine.context import TaskRun

_configured = False
_lock = threading.Lock()
# The logger every run record goes through (``orch.logging.disable_run_logger`` turns it off).
RUN_LOGGER_NAME = "orch.runs"
_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(run_label)s - %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever ``sys.stderr`` is now (so redirection and capture work)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _HistoryHandler(logging.Handler):
    """Queues run records for the run history (written, redacted, by the history writer)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from orch.history import record_log

            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            elif record.exc_text:
                message += "\n" + record.exc_text
            record_log(
                getattr(record, "flow_run_id", None),
                getattr(record, "task_run_id", None),
                record.created,
                record.levelname,
                record.name,
                message,
            )
        except Exception:
            self.handleError(record)


class _LabelDefault(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "run_label"):
            record.run_label = record.name
        return True


def _configure() -> logging.Logger:
    global _configured
    logger = logging.getLogger(RUN_LOGGER_NAME)
    if _configured:
        return logger
    with _lock:
        if not _configured:
            from orch.secrets.redaction import RedactingFilter

            level = os.environ.get("ORCH_LOGGING_LEVEL", "INFO").strip().upper() or "INFO"
            logger.setLevel(level)
            logger.propagate = False
            console = _StderrHandler()
            console.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
            for handler in (console, _HistoryHandler()):
                handler.addFilter(_LabelDefault())
                handler.addFilter(RedactingFilter())
                logger.addHandler(handler)
            _configured = True
    return logger


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that stamps each record with its flow run and task run.

    Example:
        ``get_run_logger().warning("slow query: %s s", elapsed)``
    """

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = kwargs.get("extra")
        base = dict(self.extra or {})
        kwargs["extra"] = {**base, **extra} if extra else base
        return msg, kwargs


def _context_extra() -> dict[str, Any] | None:
    task_ctx = task_run_ctx.get()
    if task_ctx is not None:
        run = task_ctx.task_run
        return {
            "flow_run_id": run.flow_run_id,
            "task_run_id": run.id,
            "task_run_name": run.name,
            "run_label": f"Task run {run.name!r}",
        }
    flow_ctx = flow_run_ctx.get()
    if flow_ctx is not None:
        fr = flow_ctx.flow_run
        return {
            "flow_run_id": fr.id,
            "task_run_id": None,
            "flow_run_name": fr.name,
            "run_label": f"Flow run {fr.name!r}",
        }
    return None


def get_run_logger() -> RunLogger:
    """The logger of the current flow or task run (records go to stderr and run history).

    Raises ``MissingContextError`` outside a run.

    Example:
        >>> from orch import task, get_run_logger
        >>> @task
        ... def load(rows: list[int]) -> int:
        ...     get_run_logger().info("loading %d rows", len(rows))
        ...     return len(rows)
    """
    extra = _context_extra()
    if extra is None:
        if logging.getLogger(RUN_LOGGER_NAME).disabled:
            # inside orch.logging.disable_run_logger(): task.fn() in a unit test
            return RunLogger(_configure(), {"run_label": "no run"})
        raise MissingContextError(
            "get_run_logger() was called outside a flow or task run: call it from code "
            "running inside a @flow or @task (or use logging.getLogger outside runs)"
        )
    return RunLogger(_configure(), extra)


def run_logger_or(fallback: logging.Logger) -> logging.Logger | RunLogger:
    """The run logger inside a flow or task run, else ``fallback``.

    For package code that also runs outside any run (``task.fn``, a stream consumed after
    its task returned): its lines reach the run history when there is a run, and the
    package's own logger otherwise.

    Example:
        >>> import logging
        >>> run_logger_or(logging.getLogger("orch_x")).name
        'orch_x'
    """
    extra = _context_extra()
    return fallback if extra is None else RunLogger(_configure(), extra)


def task_logger(run: TaskRun) -> RunLogger:
    """The run logger of ``run`` (used by the runtime, also outside the run's context)."""
    return RunLogger(
        _configure(),
        {
            "flow_run_id": run.flow_run_id,
            "task_run_id": run.id,
            "task_run_name": run.name,
            "run_label": f"Task run {run.name!r}",
        },
    )


_original_print = builtins.print
_print_installed = False


def _logging_print(*args: Any, sep: str | None = " ", end: str | None = "\n",
                   file: Any = None, flush: bool = False) -> None:
    if file is None or file is sys.stdout:
        task_ctx = task_run_ctx.get()
        if task_ctx is not None:
            capture = task_ctx.log_prints
        else:
            flow_ctx = flow_run_ctx.get()
            capture = flow_ctx is not None and flow_ctx.log_prints
        if capture:
            get_run_logger().info((" " if sep is None else sep).join(map(str, args)))
            return
    _original_print(*args, sep=sep, end=end, file=file, flush=flush)


def capture_prints() -> None:
    """Route ``print()`` inside runs with ``log_prints=True`` to the run logger (once)."""
    global _print_installed
    if not _print_installed:
        _print_installed = True
        builtins.print = _logging_print
