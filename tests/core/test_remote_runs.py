"""The kit's hooks for runners whose workers are other processes (orch-dask uses them):
history captured in a worker and replayed in the parent, pickling errors that name the
argument, and what the process pool gained from them (wait_for, run names, async tasks)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from orch import ProcessPoolTaskRunner, flow, get_run_context, history
from orch.engine.context import TaskRun
from orch.errors import SerializationError
from orch.integration import finish_remote, prepare_remote, run_remote, waits_for_upstream

from tests.core import runtime_tasks_mod as m
from tests.core.runtime_support import flush_history

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]


def test_capture_diverts_records_and_replay_writes_them() -> None:
    run = TaskRun(m.pid_and_square, None, (3,), {})
    with history.capture() as records:
        history.record_task(run)
        run.state_name, run.attempt, run.end_time = "Completed", 1, time.time()
        history.record_task(run)
        history.record_log(None, run.id, time.time(), "INFO", "orch.runs", "hello")
    sent = history.captured_records(records)
    assert [r[0] for r in sent] == ["t", "l"]  # one row per run, in its last state
    assert sent[0][1].args == () and sent[0][1].state_name == "Completed"
    assert history.get_task_run(run.id) is None  # nothing was written
    history.replay(sent, {run.id: run})
    history.flush()
    stored = history.get_task_run(run.id)
    assert stored is not None and stored["state"] == "Completed"


def test_run_remote_sends_history_back_and_finish_remote_records_it() -> None:
    run = TaskRun(m.fails_in_worker, "f" * 32, (5,), {})
    payload = prepare_remote(m.fails_in_worker, run, history_to_parent=True)
    assert isinstance(payload, tuple)
    outcome = run_remote(*payload)  # here, as a worker would
    history.flush()
    assert history.get_task_run(run.id) is None  # the "worker" wrote nothing
    state = finish_remote(m.fails_in_worker, run, outcome)
    assert state.name == "Failed" and run.attempt == 2
    history.flush()
    stored = history.get_task_run(run.id)
    assert stored is not None
    assert (stored["state"], stored["attempts"], stored["error"]) == (
        "Failed",
        2,
        "ValueError: bad 5",
    )


def test_prepare_remote_names_the_argument_that_cannot_be_pickled() -> None:
    run = TaskRun(m.pid_and_square, None, (), {"x": threading.Lock()})
    assert not waits_for_upstream(run)
    with pytest.raises(
        SerializationError, match=r"task 'pid_and_square': its arguments \(argument 'x'\)"
    ):
        prepare_remote(m.pid_and_square, run)


def test_finish_remote_records_a_crashed_worker() -> None:
    run = TaskRun(m.pid_and_square, None, (1,), {})
    state = finish_remote(m.pid_and_square, run, error=RuntimeError("gone"), crashed=True)
    assert state.name == "Crashed"
    history.flush()
    stored = history.get_task_run(run.id)
    assert stored is not None and stored["state"] == "Crashed"


def test_process_pool_honours_wait_for_run_names_and_async_tasks(tmp_path: Path) -> None:
    marker = tmp_path / "order"

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def f() -> tuple[list[str], int, str]:
        first = m.append_after.submit(str(marker), "first", 0.5)
        second = m.append_after.submit(str(marker), "second", 0.0, wait_for=[first])
        second.result()
        named = m.named_cube.submit(2).result()
        doubled = m.async_double.submit(4).result()
        assert doubled == 8
        return marker.read_text().split(), named, get_run_context().flow_run.id

    order, named, run_id = f()
    assert order == ["first", "second"]
    assert named == 8
    history.flush()
    shown = history.get_flow_run(run_id)
    assert shown is not None
    assert "cube-2" in {t["name"] for t in shown["task_runs"]}


def test_a_list_of_futures_and_a_map_as_arguments_are_resolved() -> None:
    from orch import task

    @task
    def one(x: int) -> int:
        return x

    @task
    def total(values: list[int], extra: dict[str, int]) -> int:
        return sum(values) + sum(extra.values())

    @flow
    def f() -> tuple[int, int]:
        listed = total.submit([one.submit(1), one.submit(2)], {"a": one.submit(3)})
        mapped = total.submit(one.map([4, 5]), extra={"b": one.submit(6)})
        return listed.result(), mapped.result()

    assert f() == (6, 15)
