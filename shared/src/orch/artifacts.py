"""Prefect's ``prefect.artifacts`` path, kept so a moved import fails with what to do.

orch has no server or UI to show artifacts. Log the table or link with
``get_run_logger()`` (it lands in the run history, ``orch runs logs``), or write the
report to a file or bucket.
"""

from __future__ import annotations

from orch.lazy import not_in_orch

__getattr__ = not_in_orch(
    __name__,
    "orch has no server or UI to show artifacts; log the markdown, table or link with "
    "orch.get_run_logger() (kept in the run history: `orch runs logs RUN_ID`) or write "
    "it to a file or bucket",
)
