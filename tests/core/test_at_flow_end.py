"""``at_flow_end``: what a task acquires for the rest of its flow run is released when that
run ends, however it ends."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from orch import flow, get_run_context, history, task
from orch.integration import at_flow_end


@task
def acquire(name: str, events: list[str], hold: float = 0.0) -> str:
    assert at_flow_end(lambda: events.append(f"release {name}"))
    time.sleep(hold)
    events.append(f"acquired {name}")
    return name


def test_callbacks_run_last_first_after_every_task_and_before_the_hooks() -> None:
    events: list[str] = []

    @flow(on_completion=[lambda f, r, s: events.append(f"hook {s.name}")])
    def job() -> str:
        slow = acquire.submit("a", events, 0.2)  # still running when the body returns
        acquire("b", events)
        return slow  # type: ignore[return-value]

    assert job() == "a"
    assert events[-3:] == ["release b", "release a", "hook Completed"]
    assert events.index("acquired a") < events.index("release b")


def test_callbacks_run_when_the_flow_fails_and_the_run_stays_failed() -> None:
    events: list[str] = []

    @flow
    def job() -> None:
        acquire("db", events)
        raise ValueError("boom")

    state = job(return_state=True)
    assert state.name == "Failed"
    assert events == ["acquired db", "release db"]


def test_callbacks_run_when_the_flow_crashes() -> None:
    events: list[str] = []

    @flow
    def job() -> None:
        acquire("db", events)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        job()
    assert events == ["acquired db", "release db"]


@pytest.mark.usefixtures("orch_home")
def test_a_failing_callback_is_a_warning_and_the_others_still_run() -> None:
    events: list[str] = []

    def broken() -> None:
        raise RuntimeError("cannot release")

    @flow
    def job() -> str:
        at_flow_end(lambda: events.append("first registered"))
        at_flow_end(broken)
        return get_run_context().flow_run.id

    run_id = job()
    assert events == ["first registered"]
    assert history.get_flow_run(run_id)["state"] == "Completed"
    warnings = [r for r in history.get_logs(run_id) if "at_flow_end" in r["message"]]
    assert [r["level"] for r in warnings] == ["WARNING"]
    assert (
        "'test_a_failing_callback_is_a_warning_and_the_others_still_run.<locals>.broken'"
        in (warnings[0]["message"])
    )
    assert warnings[0]["message"].endswith("raised RuntimeError: cannot release")


def test_a_subflow_releases_at_its_own_end_in_its_own_run_context() -> None:
    events: list[str] = []

    def release() -> None:
        events.append(f"release in {get_run_context().flow_run.flow_name}")

    @flow
    def child() -> None:
        at_flow_end(release)

    @flow
    def parent() -> None:
        child()
        events.append("child returned")

    parent()
    assert events == ["release in child", "child returned"]


def test_async_flow() -> None:
    events: list[str] = []

    @task
    async def lease() -> None:
        at_flow_end(lambda: events.append("released"))

    @flow
    async def job() -> None:
        await lease()
        events.append("body done")

    asyncio.run(job())
    assert events == ["body done", "released"]


def test_outside_a_flow_run_nothing_is_registered() -> None:
    registered: list[bool] = []

    @task
    def alone() -> None:
        registered.append(at_flow_end(lambda: None))

    alone()
    assert registered == [False]
    assert at_flow_end(lambda: None) is False


def test_a_callback_registered_after_the_run_ended_is_refused() -> None:
    late: list[bool] = []
    go, done = threading.Event(), threading.Event()

    @flow
    def job() -> None:
        # a thread that outlives the run, in the run's context
        ctx = get_run_context()

        def straggler() -> None:
            from orch.engine.context import flow_run_ctx

            flow_run_ctx.set(ctx)  # type: ignore[arg-type]
            go.wait(5)
            late.append(at_flow_end(lambda: None))
            done.set()

        threading.Thread(target=straggler).start()

    job()
    go.set()
    assert done.wait(5)
    assert late == [False]
