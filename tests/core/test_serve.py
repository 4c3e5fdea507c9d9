"""Served flows on the embedded store, with real `orch serve` processes and real time:
1-second schedules, run requests from another shell, pause/resume, the missed-slot and
overlap policies, SIGTERM, and a kill -9 whose crashed run a surviving server retries."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.core.serve_support import (
    orch,
    reset_store_cache,
    server_ids,
    slots,
    start_script,
    start_server,
    stop,
    wait_for,
    write_flows,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_flows(tmp_path)
    return tmp_path


def _completed(name: str) -> list[dict[str, object]]:
    return [s for s in slots(name) if s["state"] == "completed"]


def test_a_flow_runs_every_second_and_its_runs_show_the_deployment(folder: Path) -> None:
    server = start_server(
        "servedflows:tick", "--interval", "1", "--name", "ticker", "--param", "n=7", cwd=folder
    )
    try:
        wait_for(lambda: len(_completed("ticker")) >= 3, timeout=30)
    finally:
        assert stop(server) == 0  # SIGTERM: a clean exit
    rows = slots("ticker")
    keys = [r["slot_key"] for r in rows if r["kind"] == "scheduled"]
    assert len(keys) == len(set(keys)) >= 3
    # whole seconds, one apart: the slots every server computes
    times = sorted(float(r["slot"]) for r in rows if r["kind"] == "scheduled")
    assert all(t == int(t) for t in times)
    assert [b - a for a, b in itertools.pairwise(times)] == [1.0] * (len(times) - 1)
    listed = orch("runs", "ls", "--deployment", "ticker", "--json", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert {r["deployment"] for r in runs} == {"ticker"}
    assert {r["state"] for r in runs} == {"Completed"}
    assert {r["parameters"]["n"] for r in runs} == {"7"}  # history keeps a short repr
    done = {r["flow_run_id"] for r in rows if r["state"] == "completed"}
    assert done <= {r["id"] for r in runs}
    table = orch("runs", "ls", cwd=folder).stdout
    assert "deployment" in table and "ticker" in table
    from orch.ui.queries import RunFilter, list_runs

    page = list_runs(RunFilter(), limit=5)["runs"]  # what orch ui shows
    assert page and {r["deployment"] for r in page} == {"ticker"}
    assert not server_ids("ticker")  # the server's row went with it


def test_run_now_from_another_shell_pause_and_resume(folder: Path) -> None:
    missing = orch("deployments", "run", "later", cwd=folder)
    assert missing.returncode == 1 and "no deployment named 'later'" in missing.stderr
    server = start_server(
        "servedflows:tick", "--interval", "1", "--name", "later", "--paused", cwd=folder
    )
    try:
        wait_for(lambda: server_ids("later"), timeout=30)
        time.sleep(1.5)
        assert slots("later") == []  # paused: no scheduled slot
        ran = orch("deployments", "run", "later", "--param", "n=5", "--wait", cwd=folder)
        assert ran.returncode == 0, ran.stderr
        assert "completed" in ran.stdout and "warning" not in ran.stderr
        (manual,) = slots("later")
        assert manual["kind"] == "manual" and manual["parameters"] == {"n": 5}
        listed = json.loads(orch("deployments", "ls", "--json", cwd=folder).stdout)
        assert listed[0]["paused"] is True and len(listed[0]["servers"]) == 1
        resumed_at = time.time()
        assert orch("deployments", "resume", "later", cwd=folder).returncode == 0
        wait_for(lambda: len(_completed("later")) >= 3, timeout=30)
        assert orch("deployments", "pause", "later", cwd=folder).returncode == 0
        paused_at = time.time()
        time.sleep(2)
    finally:
        assert stop(server) == 0
    scheduled = [float(s["slot"]) for s in slots("later") if s["kind"] == "scheduled"]
    assert all(resumed_at - 1 < t < paused_at + 1.5 for t in scheduled)
    inspect = orch("deployments", "inspect", "later", cwd=folder)
    assert "every 1 s" in inspect.stdout and "paused" in inspect.stdout
    # With no server left, a request says so (and waits for one).
    queued = orch("deployments", "run", "later", cwd=folder)
    assert queued.returncode == 0
    assert "no live server serves deployment 'later'" in queued.stderr
    assert orch("deployments", "rm", "later", cwd=folder).returncode == 0
    assert json.loads(orch("deployments", "ls", "--json", cwd=folder).stdout) == []
    assert slots("later") == []


SERVE_POLICIES = """
import orch
from servedflows import tick, slow
orch.serve(
    tick.to_deployment("skip-missed", interval=1),
    tick.to_deployment("catch-up-2", interval=1, catch_up=2),
    slow.to_deployment("overlap-skip", interval=1, parameters={"seconds": 2.2}),
    slow.to_deployment("overlap-queue", interval=1, overlap="queue", parameters={"seconds": 2.2}),
    slow.to_deployment("overlap-allow", interval=1, overlap="allow", parameters={"seconds": 2.2}),
)
"""


def _intervals(name: str) -> list[tuple[float, float]]:
    from orch import history

    runs = history.list_flow_runs(deployment=name, limit=1000)
    return sorted((float(r["started"]), float(r["ended"] or 1e12)) for r in runs)


def _overlapping(spans: list[tuple[float, float]]) -> bool:
    return any(b[0] < a[1] for a, b in itertools.pairwise(spans))


def test_missed_slots_after_a_5s_pause_and_the_overlap_policies(folder: Path) -> None:
    proc = start_script(SERVE_POLICIES, cwd=folder, extra={"ORCH_SERVE_MISSED_SECONDS": "1.5"})
    try:
        wait_for(lambda: len(_completed("catch-up-2")) >= 2, timeout=30)
        wait_for(lambda: len(_completed("skip-missed")) >= 2, timeout=30)
        os.kill(proc.pid, signal.SIGSTOP)  # nothing serves for 5 s
        time.sleep(5)
        os.kill(proc.pid, signal.SIGCONT)
        wait_for(lambda: len(_completed("overlap-queue")) >= 2, timeout=30)
        time.sleep(1.5)
    finally:
        assert stop(proc) == 0
    skipped = slots("skip-missed")
    missed = [s for s in skipped if s["kind"] == "missed"]
    assert missed and all(s["state"] == "skipped" for s in missed)
    assert "missed slot(s) skipped" in missed[0]["note"]
    assert not [s for s in skipped if s["kind"] == "catch-up"]  # catch_up=0: none ran
    caught = slots("catch-up-2")
    gap = max((s for s in caught if s["kind"] == "missed"), key=lambda s: float(s["slot"]))
    catch_up = sorted(
        (s for s in caught if s["kind"] == "catch-up" and float(s["slot"]) > float(gap["slot"])),
        key=lambda s: float(s["slot"]),
    )
    assert len(catch_up) == 2 and {s["state"] for s in catch_up} == {"completed"}
    # the latest two missed slots ran, right after the last skipped one
    assert [float(s["slot"]) - float(gap["slot"]) for s in catch_up] == [1.0, 2.0]
    # overlap=skip: later slots skipped while a 2.2 s run goes; never two runs at once
    assert any(
        s["state"] == "skipped" and "overlap" in (s["note"] or "") for s in slots("overlap-skip")
    )
    assert not _overlapping(_intervals("overlap-skip"))
    # overlap=queue: slots wait their turn and run one after the other
    assert not _overlapping(_intervals("overlap-queue"))
    assert len(_intervals("overlap-queue")) >= 2
    # overlap=allow: runs overlap
    assert _overlapping(_intervals("overlap-allow"))


def test_sigterm_lets_a_running_flow_finish(folder: Path) -> None:
    server = start_server("servedflows:slow", "--name", "finisher", cwd=folder)
    try:
        wait_for(lambda: server_ids("finisher"), timeout=30)
        assert (
            orch("deployments", "run", "finisher", "--param", "seconds=2.5", cwd=folder).returncode
            == 0
        )
        wait_for(lambda: [s for s in slots("finisher") if s["flow_run_id"]], timeout=30)
        server.send_signal(signal.SIGTERM)
        took = time.monotonic()
        assert server.wait(30) == 0
        assert time.monotonic() - took > 1.0  # it waited for the run
    finally:
        stop(server)
    (row,) = slots("finisher")
    assert row["state"] == "completed"
    from orch import history

    assert history.get_flow_run(row["flow_run_id"])["state"] == "Completed"  # type: ignore[index]


def test_kill_9_crashed_run_is_retried_by_the_surviving_server(folder: Path) -> None:
    marks = folder / "marks.txt"
    args = (
        "servedflows:marker",
        "--name",
        "fragile",
        "--retry-crashed",
        "1",
        "--param",
        f"path={marks}",
        "--param",
        "seconds=2",
    )
    first = start_server(*args, cwd=folder)
    second = None
    try:
        wait_for(lambda: server_ids("fragile"), timeout=30)
        assert orch("deployments", "run", "fragile", cwd=folder).returncode == 0
        wait_for(lambda: [s for s in slots("fragile") if s["flow_run_id"]], timeout=30)
        second = start_server(*args, cwd=folder)
        wait_for(lambda: len(server_ids("fragile")) == 2, timeout=30)
        first.kill()
        first.wait()  # reaped: its pid is gone
        reset_store_cache()
        wait_for(
            lambda: [
                s for s in slots("fragile") if s["attempt"] == 1 and s["state"] == "completed"
            ],
            timeout=40,
        )
    finally:
        stop(first)
        if second is not None:
            assert stop(second) == 0
    rows = {s["attempt"]: s for s in slots("fragile")}
    assert rows[0]["state"] == "crashed" and "died" in rows[0]["note"]
    assert rows[1]["state"] == "completed" and rows[1]["server_id"] != rows[0]["server_id"]
    pids = marks.read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]
    from orch import history

    crashed = history.get_flow_run(rows[0]["flow_run_id"])
    assert crashed is not None and crashed["state"] == "Crashed"
    retried = history.get_flow_run(rows[1]["flow_run_id"])
    assert retried is not None and retried["state"] == "Completed"
    assert retried["links"] == {"deployment": "fragile"}


def test_sigterm_gives_up_on_a_run_after_the_shutdown_timeout(folder: Path) -> None:
    server = start_server(
        "servedflows:slow", "--name", "stuck", "--shutdown-timeout", "1", cwd=folder
    )
    try:
        wait_for(lambda: server_ids("stuck"), timeout=30)
        assert (
            orch("deployments", "run", "stuck", "--param", "seconds=60", cwd=folder).returncode == 0
        )
        wait_for(lambda: [s for s in slots("stuck") if s["flow_run_id"]], timeout=30)
        server.send_signal(signal.SIGTERM)
        took = time.monotonic()
        server.wait(30)
        assert time.monotonic() - took < 15  # not the run's 60 s
    finally:
        stop(server)
    from orch import history

    (row,) = slots("stuck")
    run = history.get_flow_run(row["flow_run_id"])  # its process is gone: Crashed
    assert run is not None and run["state"] == "Crashed"
