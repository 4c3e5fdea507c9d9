"""Run history: the writer (queues flow/task runs and log lines, writes them in batches on
a background thread), the reader (``orch runs``), and crash detection (runs whose process
died are marked Crashed when read).

Layer: below the engine; imports ``orch.secrets`` (redaction) and ``orch.store``.

Example:
    >>> from orch import history
    >>> history.flush()  # write what is queued now (tests, short scripts)
"""

from __future__ import annotations

from orch.history.crash import detect_crashed
from orch.history.reader import (
    flow_names,
    get_flow_run,
    get_logs,
    get_task_run,
    list_flow_runs,
    prune,
)
from orch.history.writer import (
    SCHEMA,
    capture,
    captured_records,
    enabled,
    flow_finished,
    flow_started,
    flush,
    flush_or_report,
    heartbeat_seconds,
    parameters_digest,
    record_log,
    record_task,
    replay,
)

__all__ = [
    "SCHEMA",
    "capture",
    "captured_records",
    "detect_crashed",
    "enabled",
    "flow_finished",
    "flow_names",
    "flow_started",
    "flush",
    "flush_or_report",
    "get_flow_run",
    "get_logs",
    "get_task_run",
    "heartbeat_seconds",
    "list_flow_runs",
    "parameters_digest",
    "prune",
    "record_log",
    "record_task",
    "replay",
]
