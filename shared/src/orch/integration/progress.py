"""``Progress``: one progress reporter for long work (see ``orch.integration``).

On a terminal it draws a rich bar on stderr; otherwise it writes a line through the run
logger (so it reaches ``orch runs logs``) at most every ``interval`` seconds. Either way
it ends with one summary line: amount, time and rate (or, on an error, how far it got).
Outside a run, lines go to the package's logger (silent unless the application
configures logging). The logger is looked up at each line, not once: a stream is often
consumed after its task returned.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Progress", "format_amount"]

_MiB = 1024 * 1024


def format_amount(n: float, unit: str) -> str:
    """``12.3 MiB`` for bytes, ``1,234 rows`` for anything else.

    Example:
        >>> format_amount(3 * 1024 * 1024, "bytes"), format_amount(1234, "rows")
        ('3.0 MiB', '1,234 rows')
    """
    if unit == "bytes":
        if n >= 1024 * _MiB:
            return f"{n / (1024 * _MiB):,.2f} GiB"
        return f"{n / _MiB:,.1f} MiB" if n >= _MiB / 10 else f"{n:,.0f} B"
    return f"{n:,.0f} {unit}"


def _rate(n: float, seconds: float, unit: str) -> str:
    per_second = n / seconds if seconds > 0 else 0.0
    if unit == "bytes":
        return f"{per_second / _MiB:,.1f} MiB/s"
    return f"{per_second:,.0f} {unit}/s"


class Progress:
    """Counts the units (bytes, rows, files) of one piece of work and reports them.

    - ``description``: what is happening, first on every line (``s3_upload s3://b/k``);
    - ``total``: the amount expected, if known (a percentage is shown);
    - ``unit``: ``"bytes"`` (shown in MiB) or any plural noun (``"rows"``, ``"files"``);
    - ``interval``: at least this many seconds between two progress lines (off a terminal);
    - ``bar``: ``None`` draws a bar only when stderr is a terminal; ``False`` never;
    - ``enabled``: ``False`` reports nothing at all (e.g. a task's ``progress=False``);
    - ``min_seconds``: no summary line for work that took less (keeps a log of many
      small transfers short; errors are always reported);
    - ``logger``: the logger (or its name) used outside a run.

    ``advance(n)`` and ``update(done)`` cost a clock read and an addition (under a lock:
    transfer SDKs report from several threads); call them per chunk or batch.

    Example:
        from orch.integration import Progress

        with Progress("sql_load_rows into events", total=len(rows), unit="rows",
                      logger="orch_sqlalchemy") as progress:
            for batch in batches:
                load(batch)
                progress.advance(len(batch))
        # sql_load_rows into events: 120,000 rows in 4.1 s (29,268 rows/s)
    """

    def __init__(
        self,
        description: str,
        *,
        total: int | None = None,
        unit: str = "bytes",
        interval: float = 10.0,
        bar: bool | None = None,
        enabled: bool = True,
        min_seconds: float = 0.0,
        logger: logging.Logger | str = "orch",
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.interval = interval
        self.enabled = enabled
        self.min_seconds = min_seconds
        self.done = 0
        self._fallback = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._next_line = self._started + interval
        self._bar: Any = None
        self._task: Any = None
        self._want_bar = enabled and (bar if bar is not None else _stderr_is_terminal())

    # --- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._next_line = self._started + self.interval
        if self._want_bar:
            self._start_bar()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_bar()
        if exc is None:
            self.finish()
        else:
            self.failed(exc)

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bar

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
        if self.unit == "bytes":
            columns += [DownloadColumn(), TransferSpeedColumn()]
        else:
            columns += [MofNCompleteColumn(), TextColumn(self.unit), TaskProgressColumn()]
        columns += [TimeElapsedColumn(), TimeRemainingColumn()]
        self._bar = Bar(*columns, console=Console(file=sys.stderr), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total)

    def _stop_bar(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()

    # --- counting -----------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units (from any thread).

        Example:
            progress.advance(len(chunk))
        """
        with self._lock:
            self.done += n
            done = self.done
        self._report(done)

    def update(self, done: int) -> None:
        """Set the amount done so far (when the caller keeps the count).

        Example:
            progress.update(rows_loaded)
        """
        with self._lock:
            self.done = done
        self._report(done)

    def set_total(self, total: int | None) -> None:
        """The expected amount, once known (e.g. after a listing)."""
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def _report(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)
            return
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self._next_line:
            return
        with self._lock:
            if now < self._next_line:  # another thread just wrote the line
                return
            self._next_line = now + self.interval
        of = ""
        if self.total:
            of = f" of {format_amount(self.total, self.unit)} ({100 * done / self.total:.0f}%)"
        self._log(
            logging.INFO,
            f"{format_amount(done, self.unit)}{of} so far, "
            f"{_rate(done, now - self._started, self.unit)}",
        )

    # --- lines --------------------------------------------------------------------------
    def note(self, message: str) -> None:
        """A step of the work worth a line of its own (``COPY INTO starting``).

        Example:
            progress.note("files staged; COPY INTO starting")
        """
        if self.enabled:
            self._log(logging.INFO, message)

    def finish(self, verb: str = "", count: int | None = None) -> None:
        """The summary line (``__exit__`` writes it): amount, time and rate.

        ``verb`` (``"loaded"``) and ``count`` (the final amount, if the caller knows it
        better) are optional. Written once; later calls do nothing.

        Example:
            progress.finish("loaded", rows_in_table)
        """
        if not self.enabled:
            return
        self.enabled = False  # one summary, whoever calls first
        self._stop_bar()
        count = self.done if count is None else count
        seconds = time.monotonic() - self._started
        if seconds < self.min_seconds:
            return
        what = f"{verb} " if verb else ""
        self._log(
            logging.INFO,
            f"{what}{format_amount(count, self.unit)} in {seconds:.1f} s "
            f"({_rate(count, seconds, self.unit)})",
        )

    def failed(self, exc: BaseException | str) -> None:
        """The closing line of work that stopped early: why, and how far it got."""
        if not self.enabled:
            return
        self.enabled = False
        self._stop_bar()
        of = "" if self.total is None else f" of {format_amount(self.total, self.unit)}"
        why = exc if isinstance(exc, str) else type(exc).__name__
        seconds = time.monotonic() - self._started
        self._log(
            logging.WARNING,
            f"stopped ({why}) after {format_amount(self.done, self.unit)}{of} in {seconds:.1f} s",
        )

    def _log(self, level: int, message: str) -> None:
        from orch.engine.run_logging import run_logger_or

        run_logger_or(self._fallback).log(level, "%s: %s", self.description, message)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False
