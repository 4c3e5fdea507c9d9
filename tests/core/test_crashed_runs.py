"""A flow process killed with SIGKILL mid-task, as another process's `orch runs` sees it:
Crashed with a duration that is never negative, the attempt that was running, and what
happened (which process on which host, and since when nothing was heard from it)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.core.runtime_support import flush_history, orch_cli, popen_python, write_script

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]

# The task starts a moment after the flow run's first (and, with a 30 s heartbeat, only)
# record: the last sign of life on record for the flow run is older than the task's start.
KILLED = """
import time
from orch import flow, get_run_context, task

@task
def slow() -> None:
    ctx = get_run_context()
    print(ctx.flow_run.id, ctx.task_run.id, flush=True)
    time.sleep(120)

@flow(name="killed")
def killed() -> None:
    time.sleep(0.5)
    slow()

killed()
"""


def _kill_mid_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setenv("ORCH_HEARTBEAT_SECONDS", "30")
    proc = popen_python(write_script(tmp_path, "killed.py", KILLED))
    monkeypatch.delenv("ORCH_HEARTBEAT_SECONDS")
    assert proc.stdout is not None and proc.stderr is not None
    ids = proc.stdout.readline().split()
    assert len(ids) == 2, proc.stderr.read()
    flow_id, task_id = ids
    deadline = time.monotonic() + 15
    states: dict[str, str] = {}
    while time.monotonic() < deadline and states.get(task_id) != "Running":
        shown = orch_cli("runs", "show", flow_id, "--json")
        if shown.returncode == 0:
            states = {t["id"]: t["state"] for t in json.loads(shown.stdout)["task_runs"]}
        time.sleep(0.1)
    assert states.get(task_id) == "Running", states
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    return proc.pid, flow_id, task_id


def test_a_killed_run_is_crashed_with_a_duration_its_attempt_and_an_explanation(
    any_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = time.time()
    pid, flow_id, task_id = _kill_mid_task(tmp_path, monkeypatch)
    listed = json.loads(orch_cli("runs", "ls", "--json").stdout)
    [run] = [r for r in listed if r["id"] == flow_id]
    shown = json.loads(orch_cli("runs", "show", flow_id, "--json").stdout)
    [task_run] = shown["task_runs"]
    for record in (run, shown, task_run):
        assert record["state"] == "Crashed"
        assert record["attempts"] == 1, record
        assert record["ended"] is not None and record["ended"] >= record["started"], record
        error = record["error"]
        assert f"process {pid} on {socket.gethostname()}" in error, error
        assert "is gone" in error and "no heartbeat since" in error, error
    # ended no earlier than the task's start: the task ran, so the process lived that long
    assert task_run["ended"] >= task_run["started"] and shown["ended"] >= task_run["started"]
    single = json.loads(orch_cli("runs", "show", task_id, "--json").stdout)
    assert single["state"] == "Crashed" and single["attempts"] == 1
    assert single["ended"] >= single["started"]
    # the human-readable views: no negative duration anywhere, attempts 1, the reason
    text = orch_cli("runs", "show", flow_id).stdout
    assert "(attempts: 1)" in text and f"process {pid}" in text, text
    durations = re.findall(r"(-?\d+(?:\.\d+)?) (?:ms|s)\b", text)
    assert durations and all(not d.startswith("-") for d in durations), text
    table = orch_cli("runs", "ls").stdout
    assert "Crashed" in table and not re.search(r"-\d+(?:\.\d+)? m?s\b", table), table
    assert time.time() - before < 60
