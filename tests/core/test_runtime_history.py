"""Run history on SQLite and PostgreSQL: recorded off the hot path, read by `orch runs`,
crash detection, redaction of resolved secrets."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from orch import ProcessPoolTaskRunner, flow, get_run_logger, history, task
from orch.errors import ParameterValidationError
from orch.secrets.types import SecretStr

from tests.core.runtime_support import (
    flush_history,
    orch_cli,
    popen_python,
    write_script,
)

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]

SECRET = "s3cr3t-Value-0042"


@task(task_run_name="double-{x}")
def double(x: int) -> int:
    return 2 * x


@task(retries=1, retry_delay_seconds=0)
def explode() -> None:
    raise RuntimeError("kaboom")


@flow(name="history-demo", flow_run_name="demo-{n}")
def demo(n: int) -> list[int]:
    get_run_logger().info("doubling %d numbers", n)
    values = double.map(range(n)).result()
    explode.submit().wait()
    return values


def test_flow_and_task_runs_are_recorded_and_listed(any_store: str) -> None:
    from orch.system_blocks import Secret

    Secret(value="x" * 8).save("key-maker")  # parameter digests are keyed: the store has a key
    assert demo(3) == [0, 2, 4]
    history.flush()
    runs = history.list_flow_runs(flow="history-demo")
    assert len(runs) == 1
    run = runs[0]
    assert run["name"] == "demo-3" and run["state"] == "Completed"
    assert run["parameters"] == {"n": "3"} and run["task_runs"] == 4
    assert run["pid"] == os.getpid() and run["ended"] >= run["started"]

    shown = history.get_flow_run(run["id"][:10])
    assert shown is not None
    tasks = {t["name"]: t for t in shown["task_runs"]}
    assert {"double-0", "double-1", "double-2"} <= set(tasks)
    failed = next(t for t in shown["task_runs"] if t["task_name"] == "explode")
    assert failed["state"] == "Failed" and failed["attempts"] == 2
    assert failed["error"] == "RuntimeError: kaboom"
    assert tasks["double-1"]["parameters_digest"] != tasks["double-2"]["parameters_digest"]
    messages = [r["message"] for r in history.get_logs(run["id"])]
    assert "doubling 3 numbers" in messages
    assert any("Finished in state Completed" in m for m in messages)

    # As in Prefect: arguments that fail validation are a Failed run, on record...
    failing = demo.with_options(name="history-failing")
    with pytest.raises(ParameterValidationError, match="parameter 'n'"):
        failing("x")  # type: ignore[arg-type]
    state = failing("y", return_state=True)  # type: ignore[arg-type]
    assert state.is_failed() and isinstance(state.exception, ParameterValidationError)
    recorded = history.list_flow_runs(flow="history-failing")
    assert [r["state"] for r in recorded] == ["Failed", "Failed"]
    assert all("parameter 'n'" in r["error"] for r in recorded)
    assert {r["parameters"]["n"] for r in recorded} == {"'x'", "'y'"}
    assert all(r["task_runs"] == 0 for r in recorded)
    # ...while arguments that do not fit the signature raise before any run starts.
    with pytest.raises(TypeError, match="history-missing"):
        demo.with_options(name="history-missing")()  # type: ignore[call-arg]
    assert history.list_flow_runs(flow="history-missing") == []


def test_a_task_called_outside_a_flow_is_recorded() -> None:
    assert double(21) == 42
    history.flush()
    from orch.store import get_store

    with get_store().transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT name, state, flow_run_id FROM orch_task_runs WHERE task_name = 'double'"
        ).fetchall()
    assert rows == [("double-21", "Completed", None)]


def test_orch_runs_cli_ls_show_logs_prune_json(any_store: str) -> None:
    demo(2)

    @flow(name="history-broken")
    def broken() -> None:
        raise ValueError("broken flow")

    broken(return_state=True)
    history.flush()
    listed = orch_cli("runs", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [r["flow_name"] for r in runs] == ["history-broken", "history-demo"]
    only_failed = json.loads(orch_cli("runs", "ls", "--state", "failed", "--json").stdout)
    assert [r["error"] for r in only_failed] == ["ValueError: broken flow"]
    by_flow = json.loads(orch_cli("runs", "ls", "--flow", "history-demo", "--json").stdout)
    assert len(by_flow) == 1
    assert len(json.loads(orch_cli("runs", "ls", "--limit", "1", "--json").stdout)) == 1
    table = orch_cli("runs", "ls")
    assert table.returncode == 0 and "history-broken" in table.stdout

    demo_id = by_flow[0]["id"]
    shown = json.loads(orch_cli("runs", "show", demo_id, "--json").stdout)
    assert shown["name"] == "demo-2" and len(shown["task_runs"]) == 3
    text = orch_cli("runs", "show", demo_id[:8])
    assert text.returncode == 0 and "demo-2" in text.stdout and "double-1" in text.stdout
    logs = json.loads(orch_cli("runs", "logs", demo_id, "--json").stdout)
    assert any(r["message"] == "doubling 2 numbers" for r in logs)
    assert "doubling 2 numbers" in orch_cli("runs", "logs", demo_id).stdout

    # a task run id works too, for `show` and `logs`
    double_1 = next(t for t in shown["task_runs"] if t["name"] == "double-1")
    task_shown = json.loads(orch_cli("runs", "show", double_1["id"], "--json").stdout)
    assert task_shown["kind"] == "task_run" and task_shown["name"] == "double-1"
    assert task_shown["flow_run_id"] == demo_id and task_shown["flow_run_name"] == "demo-2"
    assert task_shown["state"] == "Completed" and task_shown["attempts"] == 1
    failed_id = next(t["id"] for t in shown["task_runs"] if t["task_name"] == "explode")
    task_text = orch_cli("runs", "show", failed_id[:10])
    assert task_text.returncode == 0, task_text.stderr
    assert "RuntimeError: kaboom" in task_text.stdout and "demo-2" in task_text.stdout
    task_logs = json.loads(orch_cli("runs", "logs", failed_id, "--json").stdout)
    assert task_logs and {r["task_run_id"] for r in task_logs} == {failed_id}
    assert any("retry 1/1" in r["message"] for r in task_logs)
    assert "Task run 'explode-" in orch_cli("runs", "logs", failed_id).stdout

    missing = orch_cli("runs", "show", "ffffffffffff")
    assert missing.returncode == 1
    assert "no flow run or task run with id 'ffffffffffff'" in missing.stderr
    assert orch_cli("runs", "logs", "ffffffffffff").returncode == 1
    bad_age = orch_cli("runs", "prune", "--older-than", "soon")
    assert bad_age.returncode != 0 and "not an age" in bad_age.stderr

    kept = json.loads(orch_cli("runs", "prune", "--older-than", "30d", "--json").stdout)
    assert kept == {"flow_runs": 0, "task_runs": 0, "logs": 0, "cached_results": 0}
    time.sleep(0.05)
    pruned = json.loads(orch_cli("runs", "prune", "--older-than", "0s", "--json").stdout)
    assert pruned["flow_runs"] == 2 and pruned["task_runs"] == 3 and pruned["logs"] > 0
    assert json.loads(orch_cli("runs", "ls", "--json").stdout) == []


def test_resolved_secret_is_redacted_from_logs_errors_and_history(
    any_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    password = SecretStr(SECRET)

    @task
    def leaky(token: str) -> None:
        get_run_logger().info("connecting with %s", token)
        print(f"printed {token}")
        raise PermissionError(f"login refused for password {token}")

    @flow(log_prints=True)
    def uses_secret() -> None:
        leaky(password.get_secret_value())

    state = uses_secret(return_state=True)
    assert state.is_failed()
    history.flush()
    err = capsys.readouterr().err
    assert "connecting with **********" in err and "printed **********" in err
    assert SECRET not in err
    run = history.list_flow_runs(limit=1)[0]
    shown = history.get_flow_run(run["id"])
    assert shown is not None
    dumped = json.dumps(shown) + json.dumps(history.get_logs(run["id"]))
    assert SECRET not in dumped
    assert "login refused for password **********" in shown["error"]
    assert (
        shown["task_runs"][0]["error"]
    ) == "PermissionError: login refused for password **********"
    cli = orch_cli("runs", "logs", run["id"])
    assert "connecting with **********" in cli.stdout and SECRET not in cli.stdout
    if any_store == "sqlite":
        for f in Path(os.environ["ORCH_HOME"]).iterdir():
            if f.is_file():
                assert SECRET.encode() not in f.read_bytes(), f


SLEEPER = """
import sys, time
from orch import flow, get_run_context, task

@task
def nap() -> None:
    ctx = get_run_context()
    print(ctx.flow_run.id, ctx.task_run.id, flush=True)
    time.sleep(60)

@task
def quick() -> int:
    return 1

@flow(name="sleeper")
def sleeper(submitted: bool) -> None:
    quick()
    if submitted:
        nap.submit().result()  # the flow waits in the main thread, the task in a worker
    else:
        nap()

sleeper(sys.argv[1] == "submit")
"""


def _start_sleeper(tmp_path: Path, how: str) -> tuple[object, str, str]:
    proc = popen_python(write_script(tmp_path, "sleeper.py", SLEEPER), how)
    assert proc.stdout is not None
    ids = proc.stdout.readline().split()
    assert len(ids) == 2, proc.stderr.read() if proc.stderr else ""
    flow_id, task_id = ids
    # Wait until the running task is on record (its start is queued, written by the next
    # batch), as a flow that runs long would be.
    deadline = time.monotonic() + 10
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        shown = orch_cli("runs", "show", flow_id, "--json")
        if shown.returncode == 0:
            states = {t["id"]: t["state"] for t in json.loads(shown.stdout)["task_runs"]}
            if task_id in states:
                break
        time.sleep(0.1)
    assert states.get(task_id) == "Running", states
    return proc, flow_id, task_id


def test_killed_flow_process_shows_as_crashed_with_its_running_task(
    any_store: str, tmp_path: Path
) -> None:
    proc, run_id, task_id = _start_sleeper(tmp_path, "call")
    try:
        listed = json.loads(orch_cli("runs", "ls", "--json").stdout)
        assert [r["state"] for r in listed if r["id"] == run_id] == ["Running"]
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        proc.wait()  # type: ignore[attr-defined]
    listed = json.loads(orch_cli("runs", "ls", "--json").stdout)
    crashed = next(r for r in listed if r["id"] == run_id)
    assert crashed["state"] == "Crashed"
    assert "process is gone" in crashed["error"]
    assert "Crashed" in orch_cli("runs", "ls").stdout
    shown = json.loads(orch_cli("runs", "show", run_id, "--json").stdout)
    states = {t["name"].split("-")[0]: t["state"] for t in shown["task_runs"]}
    assert states == {"quick": "Completed", "nap": "Crashed"}
    task_run = json.loads(orch_cli("runs", "show", task_id, "--json").stdout)
    assert task_run["state"] == "Crashed" and "process is gone" in task_run["error"]
    assert task_run["ended"] is not None


@pytest.mark.parametrize("how", ["call", "submit"])
def test_sigterm_marks_the_flow_run_and_its_running_task_crashed(
    any_store: str, tmp_path: Path, how: str
) -> None:
    proc, run_id, task_id = _start_sleeper(tmp_path, how)
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)  # type: ignore[attr-defined]
    # The process still ends by SIGTERM, at once (not after the 60 s task).
    assert proc.wait(timeout=20) == -signal.SIGTERM  # type: ignore[attr-defined]
    assert time.monotonic() - started < 15
    shown = json.loads(orch_cli("runs", "show", run_id, "--json").stdout)
    assert shown["state"] == "Crashed"
    assert shown["error"] == "TerminationSignal: the process received SIGTERM"
    states = {t["id"]: t["state"] for t in shown["task_runs"]}
    assert states[task_id] == "Crashed" and sorted(states.values()) == ["Completed", "Crashed"]
    logs = [r["message"] for r in json.loads(orch_cli("runs", "logs", run_id, "--json").stdout)]
    assert any("Finished in state Crashed" in m for m in logs)


def test_a_worker_process_that_dies_leaves_its_task_run_crashed(any_store: str) -> None:
    from tests.core.runtime_tasks_mod import dies_in_worker

    @flow(name="worker-dies", task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f() -> str:
        future = dies_in_worker.submit()
        future.wait()
        return future.state.name

    assert f() == "Crashed"
    run = history.list_flow_runs(flow="worker-dies")[0]
    shown = history.get_flow_run(run["id"])
    assert shown is not None
    [task_run] = shown["task_runs"]
    assert task_run["task_name"] == "dies_in_worker" and task_run["state"] == "Crashed"
    assert "terminated abruptly" in task_run["error"]


def test_stale_heartbeat_from_another_host_is_crashed(monkeypatch: pytest.MonkeyPatch) -> None:
    from orch.store import get_store

    store = get_store()
    store.ensure_schema("runs", history.SCHEMA)
    old = time.time() - 3600
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO orch_flow_runs (id, name, flow_name, state, attempts, started, pid, "
            "host, heartbeat) VALUES ('r-remote', 'x', 'remote', 'Running', 1, ?, 1, "
            "'another-host', ?)",
            (old, old),
        )
        tx.execute(
            "INSERT INTO orch_flow_runs (id, name, flow_name, state, attempts, started, pid, "
            "host, heartbeat) VALUES ('r-alive', 'y', 'remote', 'Running', 1, ?, 1, "
            "'another-host', ?)",
            (old, time.time()),
        )
    states = {r["id"]: r["state"] for r in history.list_flow_runs(flow="remote")}
    assert states == {"r-remote": "Crashed", "r-alive": "Running"}


def test_history_off_records_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "nohist.py",
        """
        from orch import flow
        @flow
        def quiet() -> int:
            return 1
        quiet()
        """,
    )
    from tests.core.runtime_support import run_python

    done = run_python(script, env={"ORCH_HISTORY": "0"})
    assert done.returncode == 0, done.stderr
    assert history.list_flow_runs(flow="quiet") == []
    done = run_python(script)
    assert done.returncode == 0, done.stderr
    assert [r["state"] for r in history.list_flow_runs(flow="quiet")] == ["Completed"]


def test_readme_hello_example_runs_and_is_recorded(tmp_path: Path) -> None:
    from tests.core.runtime_support import ROOT, run_python

    done = run_python(ROOT / "docs/examples/hello.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["HELLO, WORLD!", "HELLO, DATA ENGINEERS!"]
    assert "greeted 2 people" in done.stderr
    runs = json.loads(orch_cli("runs", "ls", "--flow", "hello", "--json").stdout)
    assert [(r["state"], r["task_runs"]) for r in runs] == [("Completed", 4)]


def test_a_script_that_exits_right_after_its_flow_has_its_runs_written(tmp_path: Path) -> None:
    # The flow's end wakes the writer thread and the process exits soon after. The exit
    # flush must wait for a write in progress, or the run is left Running (then shown
    # Crashed).
    script = write_script(
        tmp_path,
        "short.py",
        """
        import sys, time
        from orch import flow, get_run_logger, task

        @task
        def inc(x: int) -> int:
            return x + 1

        @flow(name="short-lived")
        def short() -> list[int]:
            logger = get_run_logger()
            for i in range(3000):  # a big last batch: its write takes a while
                logger.debug("line %d", i)
            return inc.map(range(20)).result()

        short()
        time.sleep(float(sys.argv[1]))  # exit while the writer is (or is not yet) busy
        """,
    )
    from tests.core.runtime_support import run_python

    for i, pause in enumerate(["0", "0.002", "0.005", "0.01", "0.02", "0.05"]):
        home = tmp_path / f"home-{i}"
        done = run_python(script, pause, env={"ORCH_HOME": str(home)})
        assert done.returncode == 0, done.stderr
        listed = orch_cli("runs", "ls", "--json", env={"ORCH_HOME": str(home)})
        runs = [(r["state"], r["task_runs"]) for r in json.loads(listed.stdout)]
        assert runs == [("Completed", 20)], f"pause {pause}: {runs}"


def test_async_flow_with_an_invalid_parameter_is_a_failed_run() -> None:
    import asyncio

    @flow(name="async-invalid")
    async def af(n: int) -> int:
        return n

    assert asyncio.run(af("3")) == 3  # type: ignore[arg-type]
    with pytest.raises(ParameterValidationError, match="parameter 'n'"):
        asyncio.run(af("x"))  # type: ignore[arg-type]
    states = [r["state"] for r in history.list_flow_runs(flow="async-invalid")]
    assert states == ["Failed", "Completed"]


def test_a_finished_top_level_flow_is_on_record_when_the_call_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The background writer waits an hour between batches here, so only the flow's own
    # end can have written the run another process reads.
    monkeypatch.setenv("ORCH_HISTORY_FLUSH_SECONDS", "3600")
    history.flush()
    time.sleep(0.7)  # the writer finishes its current short wait and starts the long one

    @flow(name="on-record-at-return")
    def outer() -> int:
        return inner()

    @flow(name="on-record-inner")
    def inner() -> int:
        return double(2)

    assert outer() == 4
    listed = orch_cli("runs", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    by_flow = {run["flow_name"]: run for run in json.loads(listed.stdout)}
    assert by_flow["on-record-at-return"]["state"] == "Completed"
    assert by_flow["on-record-inner"]["state"] == "Completed"


def test_a_package_links_a_flow_run_and_runs_show_prints_it(any_store: str) -> None:
    from orch.integration import link_run

    @task
    def submit_job() -> str:
        assert link_run("batch job", "job-42 https://jobs.internal/42")
        return "job-42"

    @flow(name="linked")
    def linked() -> str:
        assert link_run("dashboard", f"token={SECRET} first")
        link_run("dashboard", "https://dash.internal/d/1")  # the same name: replaced
        link_run("api", f"https://api.internal/?token={SECRET}")
        return submit_job()

    from orch.system_blocks import Secret

    Secret(value=SECRET).save("linked-secret")
    Secret.load("linked-secret").get()  # revealed here: redacted wherever it goes
    assert linked() == "job-42"
    assert link_run("outside", "x") is False
    history.flush()
    (run,) = history.list_flow_runs(flow="linked")
    full = history.get_flow_run(run["id"])
    assert full is not None
    assert full["links"] == {
        "api": "https://api.internal/?token=**********",
        "batch job": "job-42 https://jobs.internal/42",
        "dashboard": "https://dash.internal/d/1",
    }
    shown = orch_cli("runs", "show", run["id"])
    assert "batch job  job-42 https://jobs.internal/42" in shown.stdout
    assert SECRET not in shown.stdout
    assert history.prune(-1)["flow_runs"] == 1
    from orch.store import get_store

    left = get_store().retrying(
        lambda tx: tx.execute(
            "SELECT COUNT(*) FROM orch_run_links WHERE flow_run_id = ?", (run["id"],)
        ).fetchone(),
        write=False,
    )
    assert left[0] == 0


@task
def _inc(x: int) -> int:
    return x + 1


def test_ten_thousand_submits_and_maps_are_each_recorded_once_in_their_final_state() -> None:
    # Records are batched (a run queued as started is not queued again when it ends while
    # that entry waits): still one row per run, every one in its final state.
    @flow(name="many-submits")
    def many(n: int) -> int:
        futures = [_inc.submit(i) for i in range(n)]
        mapped = _inc.map(range(n))
        return sum(f.result() for f in futures) + sum(mapped.result())

    n = 10_000
    assert many(n) == 2 * sum(range(1, n + 1))
    history.flush()
    run = history.list_flow_runs(flow="many-submits")[0]
    assert run["task_runs"] == 2 * n
    shown = history.get_flow_run(run["id"])
    assert shown is not None
    states = {t["state"] for t in shown["task_runs"]}
    assert states == {"Completed"} and len({t["id"] for t in shown["task_runs"]}) == 2 * n


def test_a_run_whose_start_was_written_mid_run_is_rewritten_when_it_ends() -> None:
    # The writer takes the started entry (flush mid-run); the end must be queued again.
    @task
    def flushes_inside() -> str:
        history.flush()  # the writer takes this run's "started" entry now
        from orch import get_run_context

        ctx = get_run_context()
        assert history.get_task_run(ctx.task_run.id)["state"] == "Running"  # type: ignore[union-attr,index]
        return ctx.task_run.id  # type: ignore[union-attr]

    @flow(name="mid-run-flush")
    def f() -> str:
        return flushes_inside()

    run_id = f()
    history.flush()
    stored = history.get_task_run(run_id)
    assert stored is not None and stored["state"] == "Completed" and stored["ended"]
