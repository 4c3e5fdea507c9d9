"""Progress of long loads and fetches: a few log lines, never one per batch.

In a flow or task run the lines go to the run logger (stderr and the run history);
outside a run, to the ``orch_snowflake`` logger (silent unless logging is configured).
The logger is looked up at each line, not once: a streamed fetch is often consumed after
its task returned, in the flow (or outside any run).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from orch.run_logging import run_logger_or

logger = logging.getLogger("orch_snowflake")

# Below these, a transfer is quick: progress lines would only bury the interesting ones.
ROWS_THRESHOLD = 100_000
BYTES_THRESHOLD = 8 * 1024 * 1024


def current_logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    """The run logger inside a flow or task run, else the ``orch_snowflake`` logger."""
    return run_logger_or(logger)


class Progress:
    """Counts the units (rows, files) of one transfer and logs each quarter and the end.

    ``enabled``: ``True`` always logs, ``False`` never, ``None`` only when ``large`` (the
    caller decides what large is: rows or bytes over a threshold).
    """

    def __init__(
        self, description: str, total: int | None, unit: str, enabled: bool | None, large: bool
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.enabled = enabled is True or (enabled is None and large)
        self.done = 0
        self._next_quarter = 1
        self._started = time.perf_counter()

    def start(self, what: str) -> None:
        """Log the start: ``what`` says what is about to happen."""
        if self.enabled:
            total = "" if self.total is None else f" ({self.total:,} {self.unit})"
            current_logger().info("%s: %s%s", self.description, what, total)

    def advance(self, n: int) -> None:
        """Count ``n`` more units; log when a quarter of the total is passed."""
        self.done += n
        if not self.enabled or not self.total or self._next_quarter > 3:
            return
        if self.done * 4 < self.total * self._next_quarter:
            return
        while self._next_quarter <= 3 and self.done * 4 >= self.total * self._next_quarter:
            self._next_quarter += 1
        current_logger().info(
            "%s: %d%% (%s of %s %s)",
            self.description,
            (self._next_quarter - 1) * 25,
            f"{self.done:,}",
            f"{self.total:,}",
            self.unit,
        )

    def note(self, message: str) -> None:
        """A step of the transfer worth a line (e.g. ``COPY INTO`` starting)."""
        if self.enabled:
            current_logger().info("%s: %s", self.description, message)

    def finish(self, verb: str, count: int | None = None) -> None:
        """The end line: ``verb`` N units in S s (R units/s)."""
        if not self.enabled:
            return
        count = self.done if count is None else count
        seconds = time.perf_counter() - self._started
        rate = f", {count / seconds:,.0f} {self.unit}/s" if seconds > 0 else ""
        current_logger().info(
            "%s: %s %s %s in %.1f s%s",
            self.description,
            verb,
            f"{count:,}",
            self.unit,
            seconds,
            rate,
        )

    def stopped(self, why: str, verb: str) -> None:
        """The transfer ended early (closed, or failed): say why and how far it got."""
        if self.enabled:
            of = "" if self.total is None else f" of {self.total:,}"
            current_logger().warning(
                "%s: %s (%s%s %s %s)", self.description, why, f"{self.done:,}", of, self.unit, verb
            )
