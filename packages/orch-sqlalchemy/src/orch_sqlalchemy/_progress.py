"""Progress lines of long row transfers (loads, upserts, executemany).

Checked once per chunk, never per row, so the COPY hot path pays nothing measurable. A
line is logged every ``INTERVAL_SECONDS`` at most, and a closing line only for a transfer
that lasted that long: short loads, the common case, stay silent. Inside a flow or task
run the lines go to the run logger (console and run history); outside a run (``task.fn``)
to the ``orch_sqlalchemy`` logger, which is silent unless the application configures it.
"""

from __future__ import annotations

import logging
import time

from orch.run_logging import run_logger_or

# How often a long transfer reports (seconds); checked at chunk boundaries.
INTERVAL_SECONDS = 10.0

_fallback = logging.getLogger("orch_sqlalchemy")




class RowProgress:
    """Counts rows of one transfer and logs how far it is, at most every interval.

    Example:
        progress = RowProgress("sql_load_rows", "into events")
        progress.update(10_000)   # after each chunk: the total so far
        progress.done(12_345)     # the closing line, if the transfer was long
    """

    def __init__(self, task_name: str, target: str) -> None:
        self.task_name = task_name
        self.target = target
        self.started = time.monotonic()
        self._next = self.started + INTERVAL_SECONDS
        self._logged = False
        self._log = run_logger_or(_fallback)

    def update(self, rows: int) -> None:
        """Called after each chunk with the number of rows so far."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + INTERVAL_SECONDS
        self._logged = True
        self._log.info(
            "%s: %s rows %s so far (%s rows/s)",
            self.task_name,
            f"{rows:,}",
            self.target,
            f"{rows / max(now - self.started, 1e-9):,.0f}",
        )

    def done(self, rows: int) -> None:
        """The closing line, when progress lines were logged (the transfer was long)."""
        if not self._logged:
            return
        seconds = time.monotonic() - self.started
        self._log.info(
            "%s: %s rows %s in %.1f s (%s rows/s)",
            self.task_name,
            f"{rows:,}",
            self.target,
            seconds,
            f"{rows / max(seconds, 1e-9):,.0f}",
        )
