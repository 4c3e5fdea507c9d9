"""Progress of a transfer: a rich bar on a terminal, a few log lines otherwise.

s3transfer reports bytes from its worker threads, so counting is done under a lock. Log
lines are written at each quarter and at the end, never per part: a CI log stays short.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType
from typing import Any

logger = logging.getLogger("orch_aws.s3")

MiB = 1024 * 1024
LOG_THRESHOLD = 8 * MiB  # below this, no log lines (a bar still shows on a TTY)


def _size(n: float) -> str:
    return f"{n / MiB:,.1f} MiB" if n >= MiB / 10 else f"{n:,.0f} B"


class Progress:
    """Counts bytes of a transfer and shows them (``enabled=None``: bar only on a TTY)."""

    def __init__(self, description: str, total: int, enabled: bool | None) -> None:
        self.description = description
        self.total = total
        self.enabled = enabled is not False
        self.done = 0
        self._lock = threading.Lock()
        self._next_quarter = 1
        self._bar: Any = None
        self._task: Any = None
        self._started = time.monotonic()
        self._tty = bool(enabled is not False and sys.stderr.isatty())
        if not self._tty and enabled is None and total < LOG_THRESHOLD:
            # Off a terminal, a small (or unknown-size) transfer is one quick request:
            # log lines about it would only bury the interesting ones.
            self.enabled = False

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        if self._tty:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total or None)
        else:
            logger.info("%s: starting (%s)", self.description, _size(self.total))
        return self

    def advance(self, n: int) -> None:
        """Called by s3transfer's threads with the bytes just moved."""
        if not self.enabled:
            return
        with self._lock:
            self.done += n
            done = self.done
        if self._bar is not None:
            self._bar.update(self._task, completed=done)
        elif self.total and done * 4 >= self.total * self._next_quarter and self._next_quarter < 4:
            with self._lock:
                quarter = self._next_quarter
                if done * 4 < self.total * quarter:
                    return
                while self._next_quarter < 4 and done * 4 >= self.total * self._next_quarter:
                    self._next_quarter += 1
            logger.info(
                "%s: %d%% (%s of %s)",
                self.description,
                quarter * 25,
                _size(done),
                _size(self.total),
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.stop()
        seconds = time.monotonic() - self._started
        if exc is None:
            rate = self.done / seconds / MiB if seconds > 0 else 0.0
            logger.info(
                "%s: done, %s in %.1f s (%.1f MiB/s)",
                self.description,
                _size(self.done),
                seconds,
                rate,
            )
        else:
            logger.warning("%s: failed after %s", self.description, _size(self.done))
