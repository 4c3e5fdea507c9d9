"""orch-dask on real Dask clusters: the session's LocalCluster (2 worker processes), a
temporary cluster of the runner's own, and a scheduler + worker started as separate
processes. History from workers, settings and secrets, blocks by name, pickling errors,
code missing on workers, get_dask_client, and no leak on a shared scheduler."""

from __future__ import annotations

import os
import pickle
import sys
import threading
from pathlib import Path

import pytest
from orch import flow, get_run_context, history, task
from orch.errors import SerializationError
from orch.secrets.redaction import MASK
from orch.secrets.types import SecretStr
from orch.system_blocks import Secret
from orch_dask import DaskCodeMissingError, DaskConnectError, DaskTaskRunner, get_dask_client

from tests.backends.dask import DaskCluster
from tests.dask import tasks_mod as t

pytestmark = pytest.mark.usefixtures("flush_history")


def _flow_run(run_id: str) -> dict:
    history.flush()
    found = history.get_flow_run(run_id)
    assert found is not None
    return found


def test_tasks_run_in_the_worker_processes(dask_runner: DaskTaskRunner) -> None:
    @flow(task_runner=dask_runner)
    def f() -> set[int]:
        return {pid for pid, _ in t.where.map(range(8)).result()}

    pids = f()
    assert os.getpid() not in pids and len(pids) >= 1


@pytest.mark.timeout(600)
def test_every_run_of_a_10000_task_map_is_in_the_history(dask_runner: DaskTaskRunner) -> None:
    @flow(task_runner=dask_runner)
    def f() -> str:
        assert t.noop.map(range(10_000)).result() == list(range(10_000))
        return get_run_context().flow_run.id

    runs = _flow_run(f())["task_runs"]
    assert len(runs) == 10_000
    assert {r["state"] for r in runs} == {"Completed"}
    assert {r["attempts"] for r in runs} == {1}


def test_states_attempts_logs_and_errors_come_back_from_workers(
    dask_runner: DaskTaskRunner, tmp_path: Path
) -> None:
    @flow(task_runner=dask_runner)
    def f() -> str:
        t.logs.submit(41).result()
        t.fails.submit(2).wait()
        t.flaky.submit(str(tmp_path / "m")).result()
        return get_run_context().flow_run.id

    run_id = f()
    runs = {r["task_name"]: r for r in _flow_run(run_id)["task_runs"]}
    assert runs["logs"]["state"] == "Completed"
    assert (runs["fails"]["state"], runs["fails"]["error"]) == ("Failed", "ValueError: bad 2")
    assert (runs["flaky"]["state"], runs["flaky"]["attempts"]) == ("Completed", 3)
    messages = [line["message"] for line in history.get_logs(run_id)]
    assert "line from the worker 41" in messages
    assert any("attempt 1 failed with RuntimeError" in m for m in messages)


def test_workers_get_the_drivers_orch_settings_but_not_the_key(
    dask_runner: DaskTaskRunner, monkeypatch: pytest.MonkeyPatch, orch_home: Path
) -> None:
    monkeypatch.setenv("ORCH_TEST_MARKER", "from-the-driver")
    monkeypatch.setenv("ORCH_SECRET_KEY", "a" * 43 + "=")

    @flow(task_runner=dask_runner)
    def f() -> list[str | None]:
        names = ["ORCH_TEST_MARKER", "ORCH_HOME", "ORCH_SECRET_KEY"]
        return [t.setting.submit(n).result() for n in names]

    # The workers were started with no ORCH_* setting at all (tests/backends/dask.py).
    assert f() == ["from-the-driver", str(orch_home), None]
    # The next flow run's driver has no such setting: the workers drop it.
    monkeypatch.delenv("ORCH_TEST_MARKER")
    assert f() == [None, str(orch_home), None]


def test_secrets_revealed_on_the_driver_are_masked_in_worker_logs_and_errors(
    dask_runner: DaskTaskRunner,
) -> None:
    secret = "dask-driver-secret-8642"

    @flow(task_runner=dask_runner)
    def f() -> str:
        value = SecretStr(secret).get_secret_value()
        t.leak.submit(value).wait()
        return get_run_context().flow_run.id

    run_id = f()
    shown = _flow_run(run_id)
    (run,) = shown["task_runs"]
    assert run["error"] == f"PermissionError: refused for {MASK}"
    messages = [line["message"] for line in history.get_logs(run_id)]
    assert f"worker got {MASK}" in messages
    assert secret not in repr(shown) + repr(messages)


def test_a_saved_block_travels_by_name_and_loads_on_the_worker(
    dask_runner: DaskTaskRunner,
) -> None:
    Secret(value="block-secret-value-31").save("dask-block")
    block = Secret.load("dask-block")
    assert b"block-secret-value-31" not in pickle.dumps(block)

    @flow(task_runner=dask_runner)
    def f() -> int:
        return t.block_secret_length.submit(block).result()

    assert f() == len("block-secret-value-31")


def test_an_argument_that_cannot_be_pickled_fails_submit_naming_it(
    dask_runner: DaskTaskRunner,
) -> None:
    @flow(task_runner=dask_runner)
    def f() -> None:
        t.noop.submit(threading.Lock())  # type: ignore[arg-type]

    with pytest.raises(SerializationError, match=r"task 'noop': its arguments \(argument 'x'\)"):
        f()


def test_an_argument_that_cannot_be_pickled_next_to_a_future_fails_its_run(
    dask_runner: DaskTaskRunner,
) -> None:
    @flow(task_runner=dask_runner)
    def f() -> None:
        bad = t.add.submit(t.square.submit(2), threading.Lock())  # type: ignore[arg-type]
        with pytest.raises(SerializationError, match=r"task 'add'.*\(argument 'y'\)"):
            bad.result(timeout=60)

    f()


def test_a_task_that_is_not_importable_fails_submit(dask_runner: DaskTaskRunner) -> None:
    @task
    def local(x: int) -> int:
        return x

    @flow(task_runner=dask_runner)
    def f() -> None:
        local.submit(1)

    with pytest.raises(SerializationError, match=r"task 'local'.*module level"):
        f()


def test_code_missing_on_the_workers_is_a_clear_error(
    dask_runner: DaskTaskRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module only the driver can import (#16419: code missing on workers).
    (tmp_path / "driver_only_tasks.py").write_text(
        "from orch import task\n\n@task\ndef only_here(x: int) -> int:\n    return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from driver_only_tasks import only_here  # type: ignore[import-not-found]

    @flow(task_runner=dask_runner)
    def f() -> None:
        only_here.submit(1).result()

    try:
        with pytest.raises(DaskCodeMissingError, match=r"task 'only_here'.*every worker"):
            f()
    finally:
        sys.modules.pop("driver_only_tasks", None)


def test_get_dask_client_inside_a_task_and_in_the_flow(dask_runner: DaskTaskRunner) -> None:
    @flow(task_runner=dask_runner)
    def f() -> tuple[int, int]:
        with get_dask_client() as client:
            in_flow = client.submit(abs, -5).result()
        return t.uses_client.submit(4).result(), in_flow

    assert f() == (10, 5)


def test_get_dask_client_outside_dask_is_a_clear_error() -> None:
    from orch.errors import OrchError

    with pytest.raises(OrchError, match="needs a Dask cluster"), get_dask_client():
        pass


def test_a_temporary_cluster_is_started_and_closed() -> None:
    runner = DaskTaskRunner(
        cluster_kwargs={"n_workers": 1, "processes": False, "dashboard_address": ":0"},
        adapt_kwargs={"minimum": 1, "maximum": 1},
    )
    seen: list[object] = []

    @flow(task_runner=runner)
    def f() -> list[int]:
        ctx = get_run_context()
        seen.append(ctx.task_runner)  # type: ignore[union-attr]
        return t.square.map([1, 2, 3]).result()

    assert f() == [1, 4, 9]
    (used,) = seen
    assert isinstance(used, DaskTaskRunner) and used is not runner
    assert used._cluster is None and used._client is None  # closed with the flow run
    assert runner._client is None  # the flow's template never starts


def test_a_scheduler_that_cannot_be_reached_is_a_clear_error() -> None:
    from tests.backends.service import free_port

    runner = DaskTaskRunner(
        address=f"tcp://127.0.0.1:{free_port()}", client_kwargs={"timeout": "1s"}
    )

    @flow(task_runner=runner)
    def f() -> None:
        t.noop.submit(1)

    with pytest.raises(DaskConnectError, match=r"Dask scheduler 'tcp://127\.0\.0\.1:\d+'"):
        f()


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="either address"):
        DaskTaskRunner(address="tcp://x:8786", cluster_kwargs={"n_workers": 1})
    with pytest.raises(ValueError, match="history must be"):
        DaskTaskRunner(history="nowhere")  # type: ignore[arg-type]


def test_a_scheduler_and_worker_started_as_processes(
    dask_processes: DaskCluster, tmp_path: Path
) -> None:
    @flow(task_runner=DaskTaskRunner(address=dask_processes.address))
    def f() -> tuple[list[int], str | None, str]:
        values = t.add.map([1, 2, 3], 10).result()
        home = t.setting.submit("ORCH_HOME").result()
        t.flaky.submit(str(tmp_path / "m")).result()
        return values, home, get_run_context().flow_run.id

    values, home, run_id = f()
    assert values == [11, 12, 13]
    assert home == os.environ["ORCH_HOME"]
    runs = _flow_run(run_id)["task_runs"]
    assert len(runs) == 5 and {r["state"] for r in runs} == {"Completed"}


def test_twenty_flow_runs_leave_the_scheduler_flat(dask_cluster: DaskCluster) -> None:
    from distributed import Client

    def scheduler_state(dask_scheduler) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        import psutil

        return len(dask_scheduler.tasks), psutil.Process().memory_info().rss

    @flow(task_runner=DaskTaskRunner(address=dask_cluster.address))
    def f() -> None:
        t.square.map(range(200)).result()

    with Client(dask_cluster.address, set_as_default=False) as probe:
        rss = []
        for _ in range(20):
            f()
            tasks, memory = probe.run_on_scheduler(scheduler_state)
            assert tasks == 0  # nothing of a finished flow run stays on the scheduler
            rss.append(memory)
    growth = rss[-1] - rss[4]
    assert growth < 25 * 2**20, f"scheduler memory grew {growth / 2**20:.1f} MiB: {rss}"


def test_a_worker_that_dies_leaves_its_run_crashed() -> None:
    import dask
    from orch_dask import DaskWorkerLostError

    # A cluster of this test's own: the dying task must not take the session's workers.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        runner = DaskTaskRunner(
            cluster_kwargs={
                "n_workers": 1,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": ":0",
            }
        )

        @flow(task_runner=runner)
        def f() -> tuple[str, str]:
            future = t.dies.submit(1)
            with pytest.raises(DaskWorkerLostError, match=r"task run 'dies-\w+'.*died"):
                future.result()
            return future.state.name, get_run_context().flow_run.id

        state, run_id = f()
    assert state == "Crashed"
    (run,) = _flow_run(run_id)["task_runs"]
    assert run["state"] == "Crashed"
