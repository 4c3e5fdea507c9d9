"""Concurrency limits: per task, named across processes sharing a store, expiring leases."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import orch
import pytest
from orch import ThreadPoolTaskRunner, flow, task
from orch.errors import ConcurrencyError

from tests.core.runtime_support import flush_history, popen_python, run_python, write_script

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    # exits sort before enters at the same instant: a slot handed over is not an overlap
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def test_named_limit_holds_across_processes(any_store: str, tmp_path: Path) -> None:
    log = tmp_path / "intervals.txt"
    script = write_script(
        tmp_path,
        "holder.py",
        f"""
        import time
        import orch
        from orch import flow, task

        @task
        def hold(i: int) -> None:
            with orch.concurrency("warehouse", limit=2):
                start = time.time()
                time.sleep(0.15)
                end = time.time()
            with open({str(log)!r}, "a") as f:
                f.write(f"{{start}} {{end}}\\n")

        @flow
        def many() -> None:
            hold.map(range(4)).wait()

        many()
        """,
    )
    procs = [popen_python(script) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    intervals = [
        (float(a), float(b)) for a, b in (line.split() for line in log.read_text().splitlines())
    ]
    assert len(intervals) == 12
    assert max_overlap(intervals) == 2


def test_task_concurrency_limit() -> None:
    intervals: list[tuple[float, float]] = []

    @task(concurrency_limit=2)
    def limited(i: int) -> int:
        start = time.time()
        time.sleep(0.1)
        intervals.append((start, time.time()))
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=6))
    def f() -> list[int]:
        return limited.map(range(6)).result()

    assert f() == list(range(6))
    assert max_overlap(intervals) == 2


def test_lease_of_a_killed_holder_is_freed(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "hog.py",
        """
        import time
        import orch
        with orch.concurrency("solo", limit=1):
            print("held", flush=True)
            time.sleep(60)
        """,
    )
    proc = popen_python(script)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(ConcurrencyError, match=r"'solo': no slot free within 0\.3 s"):
            with orch.concurrency("solo", limit=1, timeout_seconds=0.3):
                pass
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    start = time.monotonic()
    with orch.concurrency("solo", timeout_seconds=5):  # the stored limit (1) is reused
        pass
    assert time.monotonic() - start < 2


def test_expired_lease_from_another_host_is_reclaimed() -> None:
    from orch.engine.limits import SCHEMA
    from orch.store import get_store

    store = get_store()
    store.ensure_schema("concurrency", SCHEMA)
    now = time.time()
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO orch_concurrency_leases (id, name, pid, host, acquired, expires) "
            "VALUES ('l1', 'remote', 1, 'elsewhere', ?, ?)",
            (now - 100, now + 60),
        )
    with pytest.raises(ConcurrencyError):
        with orch.concurrency("remote", limit=1, timeout_seconds=0.2):
            pass
    with store.transaction() as tx:
        tx.execute("UPDATE orch_concurrency_leases SET expires = ? WHERE id = 'l1'", (now - 1,))
    with orch.concurrency("remote", limit=1, timeout_seconds=1):
        pass


def test_undefined_limit_and_bad_limit_are_clear_errors() -> None:
    with pytest.raises(ConcurrencyError, match="'nowhere' is not defined: pass limit=N"):
        with orch.concurrency("nowhere"):
            pass
    with pytest.raises(ConcurrencyError, match="limit must be >= 1"):
        with orch.concurrency("zero", limit=0):
            pass
    with pytest.raises(ValueError, match="concurrency_limit"):
        task(concurrency_limit=0)(lambda: None)


def test_concurrency_script_usable_from_a_plain_process(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "plain.py",
        """
        import orch
        with orch.concurrency("plain", limit=3):
            print("inside")
        """,
    )
    done = run_python(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "inside"
