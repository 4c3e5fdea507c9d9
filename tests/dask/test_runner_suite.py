"""The same task-runner behaviour on the thread pool and on Dask: submit, map, futures
as arguments, wait_for, failures, retries, timeouts, caching, concurrency limits, async
tasks, run names. Each test runs once per runner (the ``runner`` fixture)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from orch import flow, get_run_context, history, unmapped
from orch.engine.task_runners import TaskRunner

from tests.dask import tasks_mod as t

pytestmark = pytest.mark.usefixtures("flush_history")


def _task_runs(flow_run_id: str) -> list[dict]:
    history.flush()
    found = history.get_flow_run(flow_run_id)
    assert found is not None
    return list(found["task_runs"])


def test_submit_and_futures_as_arguments(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> int:
        a = t.square.submit(3)
        b = t.add.submit(a, t.square.submit(2))  # futures as arguments
        return b.result()

    assert f() == 13


def test_map_zips_iterables_and_passes_unmapped(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> list[int]:
        return t.add.map([1, 2, 3], unmapped(10)).result()

    assert f() == [11, 12, 13]


def test_map_over_futures(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> list[int]:
        squares = t.square.map([1, 2, 3])
        return t.add.map(squares, unmapped(1)).result()

    assert f() == [2, 5, 10]


def test_wait_for_runs_after_the_upstream(runner: TaskRunner, tmp_path: Path) -> None:
    marker = tmp_path / "m"

    @flow(task_runner=runner)
    def f() -> int:
        first = t.flaky.submit(str(marker))  # 3 attempts: takes a while
        return t.noop.submit(1, wait_for=[first]).result()

    assert f() == 1
    assert marker.read_text() == "xxx"


def test_a_failure_raises_and_its_downstream_fails(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> tuple[str, str]:
        bad = t.fails.submit(7)
        after = t.add.submit(bad, 1)
        with pytest.raises(ValueError, match="bad 7"):
            bad.result()
        with pytest.raises(ValueError, match="bad 7"):
            after.result()
        return bad.state.name, after.state.name

    assert f() == ("Failed", "Failed")


def test_retries_until_it_succeeds_and_records_attempts(runner: TaskRunner, tmp_path: Path) -> None:
    marker = tmp_path / "m"

    @flow(task_runner=runner)
    def f() -> tuple[int, str]:
        return t.flaky.submit(str(marker)).result(), get_run_context().flow_run.id

    value, run_id = f()
    assert value == 3
    (run,) = _task_runs(run_id)
    assert (run["state"], run["attempts"]) == ("Completed", 3)


def test_timeout_fails_the_run(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> str:
        future = t.slow.submit(5.0)
        with pytest.raises(TimeoutError, match=r"timed out after 0\.5 s"):
            future.result()
        return future.state.name

    assert f() == "Failed"


def test_cached_runs_do_not_run_again(runner: TaskRunner, tmp_path: Path) -> None:
    marker = tmp_path / "m"

    @flow(task_runner=runner)
    def f() -> list[str]:
        first = t.cached.submit(4, str(marker))
        assert first.result() == 40
        second = t.cached.submit(4, str(marker))
        assert second.result() == 40
        return [first.state.name, second.state.name]

    assert f() == ["Completed", "Cached"]
    assert marker.read_text() == "x"


def test_a_named_concurrency_limit_holds_across_workers(runner: TaskRunner, tmp_path: Path) -> None:
    @flow(task_runner=runner)
    def f() -> list[tuple[float, float]]:
        return t.exclusive.map(str(tmp_path), [1, 2, 3]).result()

    spans = sorted(f())
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01  # one at a time


def test_async_tasks(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> list[int]:
        return t.async_double.map([1, 2]).result()

    assert f() == [2, 4]


def test_task_run_names_reach_the_history(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> str:
        t.named_square.submit(5).result()
        return get_run_context().flow_run.id

    (run,) = _task_runs(f())
    assert run["name"] == "sq-5"


def test_the_futures_of_a_map_as_one_argument(runner: TaskRunner) -> None:
    @flow(task_runner=runner)
    def f() -> int:
        return t.total.submit(t.square.map([1, 2, 3])).result()

    assert f() == 14
