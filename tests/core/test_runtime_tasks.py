"""The flow/task runtime: calls, futures, map, retries, states, hooks, names, timeouts,
logging, parameter validation, child flows, async, task runners."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from typing import Any

import pytest
from orch import (
    ProcessPoolTaskRunner,
    ThreadPoolTaskRunner,
    flow,
    get_run_context,
    get_run_logger,
    task,
    unmapped,
)
from orch.engine.context import TaskRun
from orch.engine.runs import retry_delay
from orch.errors import MissingContextError, ParameterValidationError, SerializationError
from orch.states import State
from orch.tasks import Task, exponential_backoff

from tests.core.runtime_support import flush_history

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]


@task
def add(x: int, y: int = 0) -> int:
    return x + y


def test_task_call_inside_and_outside_a_flow_returns_the_value() -> None:
    @flow
    def f() -> int:
        return add(1, 2)

    assert f() == 3
    assert add(4, y=5) == 9  # outside a flow: still runs
    assert add.fn(1, 1) == 2  # the plain function
    assert isinstance(add, Task) and add.name == "add"


def test_submit_returns_futures_and_futures_as_arguments_are_waited_for() -> None:
    order: list[str] = []

    @task
    def slow(x: int) -> int:
        time.sleep(0.05)
        order.append("slow")
        return x

    @task
    def after(x: int) -> int:
        order.append("after")
        return x + 1

    @flow
    def f() -> tuple[int, str, str]:
        first = slow.submit(1)
        assert first.state.name in {"Pending", "Running"}
        second = after.submit(first)  # waits for `first`
        nested = add.submit(x=second, y=10)
        value = nested.result(timeout=5)
        nested.wait()
        return value, first.state.name, nested.state.name

    assert f() == (12, "Completed", "Completed")
    assert order == ["slow", "after"]


def test_submitted_tasks_run_concurrently_on_the_thread_pool() -> None:
    @task
    def sleepy(_: int) -> int:
        time.sleep(0.2)
        return threading.get_ident()

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=5))
    def f() -> list[int]:
        return [fut.result() for fut in [sleepy.submit(i) for i in range(5)]]

    start = time.perf_counter()
    idents = f()
    assert time.perf_counter() - start < 0.6  # 5 x 0.2 s sequentially would be 1 s
    assert len(set(idents)) == 5


def test_map_with_unmapped_and_static_values_and_kwargs() -> None:
    @task
    def combine(x: int, y: int, label: str, scale: list[int]) -> str:
        return f"{label}{x * scale[0] + y}"

    @flow
    def f() -> list[str]:
        return combine.map([1, 2, 3], y=[10, 20, 30], label="n", scale=unmapped([2])).result()

    assert f() == ["n12", "n24", "n36"]
    with pytest.raises(ValueError, match="different lengths"):
        combine.map([1, 2], [1], "n", unmapped([1]))
    with pytest.raises(ValueError, match="at least one iterable"):
        add.map(1, 2)


def test_wait_for_and_a_failed_upstream_fails_the_downstream() -> None:
    @task
    def boom() -> int:
        raise RuntimeError("upstream broke")

    @flow
    def f() -> tuple[str, str]:
        bad = boom.submit()
        downstream = add.submit(bad, 1)
        waits = add.submit(1, 1, wait_for=[bad])
        downstream.wait()
        waits.wait()
        return downstream.state.name, waits.state.name

    assert f() == ("Failed", "Failed")


def test_task_exception_is_raised_in_the_flow_and_fails_it() -> None:
    @task
    def bad() -> None:
        raise KeyError("missing")

    @flow
    def f() -> None:
        bad()

    with pytest.raises(KeyError, match="missing"):
        f()
    state = f(return_state=True)
    assert isinstance(state, State) and state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), KeyError)


def test_retries_with_fixed_list_and_callable_delays_really_wait() -> None:
    calls: list[float] = []

    def flaky_body() -> str:
        calls.append(time.perf_counter())
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "ok"

    fixed = task(retries=2, retry_delay_seconds=0.1)(flaky_body)
    assert fixed() == "ok"
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(0.09 <= g < 0.5 for g in gaps), gaps

    calls.clear()
    listed = task(retries=2, retry_delay_seconds=[0.05, 0.2])(flaky_body)
    state = listed(return_state=True)
    assert state.result() == "ok"
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert 0.04 <= gaps[0] < 0.15 and 0.19 <= gaps[1] < 0.5, gaps

    calls.clear()
    seen: list[int] = []

    def backoff(attempt: int) -> float:
        seen.append(attempt)
        return 0.01 * attempt

    assert task(retries=2, retry_delay_seconds=backoff)(flaky_body)() == "ok"
    assert seen == [1, 2]
    assert exponential_backoff(backoff_factor=0.5)(3) == 2.0


def test_retries_exhausted_raise_the_last_error_and_count_attempts() -> None:
    attempts: list[int] = []

    @task(retries=2, retry_delay_seconds=0)
    def always() -> None:
        attempts.append(get_run_context().task_run.attempt)  # type: ignore[union-attr]
        raise ValueError(f"attempt {len(attempts)}")

    with pytest.raises(ValueError, match="attempt 3"):
        always()
    assert attempts == [1, 2, 3]


def test_jitter_varies_the_delay_within_bounds() -> None:
    t = task(retries=1, retry_delay_seconds=1.0, retry_jitter_factor=0.5)(lambda: None)
    delays = {retry_delay(t.retry_delay_seconds, 1, t.retry_jitter_factor) for _ in range(50)}
    assert len(delays) > 10 and all(0.5 <= d <= 1.5 for d in delays)
    with pytest.raises(ValueError, match="retry_jitter_factor"):
        task(retry_jitter_factor=-1)(lambda: None)


def test_retry_on_and_retry_condition_fn_decide_what_is_retried() -> None:
    count = {"n": 0}

    @task(retries=3, retry_delay_seconds=0, retry_on=(ConnectionError,))
    def only_connection_errors(kind: str) -> None:
        count["n"] += 1
        raise (ConnectionError if kind == "conn" else ValueError)("x")

    with pytest.raises(ValueError):
        only_connection_errors("value")
    assert count["n"] == 1
    count["n"] = 0
    with pytest.raises(ConnectionError):
        only_connection_errors("conn")
    assert count["n"] == 4

    seen: list[tuple[str, int, str]] = []

    def retry_if_transient(t: Task[Any, Any], run: TaskRun, state: State[Any]) -> bool:
        seen.append((t.name, run.attempt, type(state.exception).__name__))
        return "transient" in str(state.exception)

    count["n"] = 0

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=retry_if_transient)
    def sometimes() -> str:
        count["n"] += 1
        if count["n"] == 1:
            raise RuntimeError("transient glitch")
        if count["n"] == 2:
            raise RuntimeError("permanent")
        return "never"

    with pytest.raises(RuntimeError, match="permanent"):
        sometimes()
    assert seen == [("sometimes", 1, "RuntimeError"), ("sometimes", 2, "RuntimeError")]


def test_hooks_get_task_run_and_state_and_hook_errors_do_not_break_the_run() -> None:
    events: list[tuple[str, str, str]] = []

    def on_ok(t: Task[Any, Any], run: TaskRun, state: State[Any]) -> None:
        events.append(("ok", run.name, state.name))

    def on_bad(t: Task[Any, Any], run: TaskRun, state: State[Any]) -> None:
        events.append(("bad", run.name, state.name))
        raise RuntimeError("hook itself fails")

    @task(on_completion=[on_ok], on_failure=[on_bad], task_run_name="job-{n}")
    def job(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n

    assert job(1) == 1
    with pytest.raises(ValueError):
        job(-1)
    assert events == [("ok", "job-1", "Completed"), ("bad", "job--1", "Failed")]

    flow_events: list[str] = []

    @flow(on_completion=[lambda f, r, s: flow_events.append(f"{f.name}:{s.name}")])
    def f() -> None:
        pass

    f()
    assert flow_events == ["f:Completed"]


def test_task_run_name_template_callable_and_flow_run_name() -> None:
    names: list[str] = []

    @task(task_run_name="process-{item}-{suffix}")
    def process(item: str, suffix: str = "x") -> None:
        names.append(get_run_context().task_run.name)  # type: ignore[union-attr]

    @task(task_run_name=lambda: "from-callable")
    def other() -> None:
        names.append(get_run_context().task_run.name)  # type: ignore[union-attr]

    @flow(flow_run_name="nightly-{day}")
    def f(day: str) -> str:
        process("a")
        process.submit("b", suffix="y").wait()
        other()
        return get_run_context().flow_run.name  # type: ignore[union-attr]

    assert f("mon") == "nightly-mon"
    assert names == ["process-a-x", "process-b-y", "from-callable"]

    @task(task_run_name="bad-{missing}")
    def broken() -> None: ...

    with pytest.raises(ValueError, match="task_run_name"):
        broken()


def test_timeouts_fail_the_run_quickly_and_can_be_retried() -> None:
    attempts: list[int] = []

    @task(timeout_seconds=0.1, retries=1, retry_delay_seconds=0)
    def hangs() -> None:
        attempts.append(1)
        time.sleep(2)

    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"timed out after 0\.1 s"):
        hangs()
    assert time.perf_counter() - start < 1.0
    assert len(attempts) == 2

    @flow(timeout_seconds=0.1)
    def slow_flow() -> None:
        time.sleep(2)

    state = slow_flow(return_state=True)
    assert state.is_failed() and isinstance(state.exception, TimeoutError)

    @task(timeout_seconds=1)
    def quick() -> int:
        return 7

    assert quick() == 7


def test_flow_retries_rerun_the_flow() -> None:
    runs: list[int] = []

    @flow(retries=2, retry_delay_seconds=0.01)
    def f() -> int:
        runs.append(get_run_context().flow_run.attempt)
        if len(runs) < 3:
            raise RuntimeError("again")
        return len(runs)

    assert f() == 3 and runs == [1, 2, 3]


def test_run_logger_and_log_prints_carry_the_run_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @task(log_prints=False)
    def quiet() -> None:
        print("plain print from task")

    @task
    def loud() -> None:
        print("captured from task")
        get_run_logger().warning("task warning %d", 7)

    @flow(log_prints=True, flow_run_name="logging-run")
    def f() -> None:
        print("captured from flow")
        loud()
        quiet()
        get_run_logger().info("flow info")

    f()
    out, err = capsys.readouterr()
    assert "plain print from task" in out
    assert "captured from flow" not in out
    assert "Flow run 'logging-run' - captured from flow" in err
    assert "Task run 'loud-" in err and "captured from task" in err
    assert "WARNING | Task run 'loud-" in err and "task warning 7" in err
    with pytest.raises(MissingContextError, match="outside a flow or task run"):
        get_run_logger()
    with pytest.raises(MissingContextError):
        get_run_context()
    print("after the flow")  # print is untouched outside runs
    assert capsys.readouterr().out == "after the flow\n"
    assert logging.getLogger("orch.runs").propagate is False


def test_validate_parameters_coerces_and_names_the_bad_parameter() -> None:
    @flow
    def f(n: int, ratio: float, tags: list[str]) -> tuple[Any, Any, Any]:
        return n, ratio, tags

    assert f("3", 1, ("a", "b")) == (3, 1.0, ["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(ParameterValidationError, match="parameter 'n'") as info:
        f("three", 1.0, [])  # type: ignore[arg-type]
    assert "flow 'f'" in str(info.value) and "three" not in str(info.value)

    @flow(validate_parameters=False)
    def g(n: int) -> Any:
        return n

    assert g("3") == "3"  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="flow 'g'"):
        g(1, 2)  # type: ignore[call-arg]


def test_child_flows_are_child_runs() -> None:
    seen: dict[str, Any] = {}

    @flow
    def child(x: int) -> int:
        run = get_run_context().flow_run
        seen["child"] = run.id
        seen["parent_of_child"] = run.parent_flow_run_id
        return add(x, 1)

    @flow
    def parent() -> int:
        seen["parent"] = get_run_context().flow_run.id
        return child(1) + child(2)

    assert parent() == 5
    assert seen["parent_of_child"] == seen["parent"] != seen["child"]


def test_async_tasks_and_flows() -> None:
    @task
    async def fetch(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * 2

    @task(retries=1, retry_delay_seconds=0, timeout_seconds=1)
    async def flaky_async(box: list[int]) -> int:
        box.append(1)
        if len(box) == 1:
            raise ConnectionError("once")
        return len(box)

    @flow
    async def aflow() -> list[int]:
        values = await asyncio.gather(fetch(1), fetch(2))
        submitted = fetch.submit(5)
        return [*values, submitted.result(), await flaky_async([])]

    assert asyncio.run(aflow()) == [2, 4, 10, 2]

    @task(timeout_seconds=0.05)
    async def hangs() -> None:
        await asyncio.sleep(1)

    with pytest.raises(TimeoutError, match="timed out"):
        asyncio.run(hangs())

    @flow
    def sync_flow() -> int:
        return fetch.submit(21).result()

    assert sync_flow() == 42


def test_submit_outside_a_flow_and_map_outside_a_flow() -> None:
    assert add.submit(2, 3).result() == 5
    assert add.map([1, 2], unmapped(1)).result() == [2, 3]


def test_with_options_and_bad_options() -> None:
    renamed = add.with_options(name="adder", retries=1)
    assert renamed.name == "adder" and renamed.retries == 1 and renamed(1, 1) == 2
    with pytest.raises(TypeError, match="unknown option"):
        add.with_options(bogus=1)
    with pytest.raises(ValueError, match="retries"):
        task(retries=-1)(lambda: None)


def test_process_pool_runs_tasks_in_other_processes() -> None:
    import os

    from tests.core.runtime_tasks_mod import fails_in_worker, pid_and_square

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def f() -> list[tuple[int, int]]:
        futures = pid_and_square.map([1, 2, 3])
        failing = fails_in_worker.submit(1)
        with pytest.raises(ValueError, match="bad 1"):
            failing.result()
        return futures.result()

    results = f()
    assert [sq for _, sq in results] == [1, 4, 9]
    assert all(pid != os.getpid() for pid, _ in results)


def test_process_pool_explains_what_cannot_be_pickled() -> None:
    @task
    def local_task(x: int) -> int:
        return x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f() -> None:
        local_task.submit(1)

    with pytest.raises(SerializationError, match=r"task 'local_task'.*module level"):
        f()

    from tests.core.runtime_tasks_mod import pid_and_square

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def g() -> None:
        pid_and_square.submit(threading.Lock()).result()  # type: ignore[arg-type]

    with pytest.raises(SerializationError, match="task 'pid_and_square': its arguments"):
        g()


def test_thread_pool_starts_threads_on_demand_up_to_max_workers_and_cancels_on_interrupt() -> None:
    from orch.engine.task_runners import _ThreadPool

    pool = _ThreadPool(3, "t")
    import contextvars

    gate = threading.Event()
    futures = [pool.submit(contextvars.copy_context(), gate.wait) for _ in range(6)]
    time.sleep(0.2)
    assert len(pool._threads) == 3  # never more than max_workers, however many are queued
    pool.shutdown(wait=False, cancel_futures=True)  # an interrupted flow: queued ones never run
    gate.set()
    assert sum(f.cancelled() for f in futures) == 3
    assert all(f.result(timeout=5) is True for f in futures if not f.cancelled())
    for thread in pool._threads:
        thread.join(timeout=5)
        assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(contextvars.copy_context(), gate.wait)


def test_a_submit_outside_a_flow_finishes_before_the_process_exits(tmp_path: Any) -> None:
    from tests.core.runtime_support import run_python, write_script

    out = tmp_path / "done.txt"
    script = write_script(
        tmp_path,
        "late.py",
        f"""
        import time
        from orch import task

        @task
        def slow() -> None:
            time.sleep(0.5)
            open({str(out)!r}, "w").write("done")

        slow.submit()  # never waited for: the interpreter waits for it at exit
        """,
    )
    result = run_python(script, env={"ORCH_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "done"
