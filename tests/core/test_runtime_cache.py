"""Persistent task caching: keys, expiry, refresh, large values, errors, across processes."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from orch import flow, history, task
from orch.engine.context import TaskRunContext
from orch.errors import SerializationError
from orch.tasks import task_input_hash

from tests.core.runtime_support import flush_history, orch_cli, run_python, write_script

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]


def test_cache_hits_return_cached_state_without_running(any_store: str) -> None:
    calls: list[int] = []

    @task(cache_key_fn=task_input_hash)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    @flow
    def f() -> list[Any]:
        first = square(3, return_state=True)  # type: ignore[call-arg]
        second = square(3, return_state=True)  # type: ignore[call-arg]
        return [first.name, second.name, second.result(), square(4)]

    assert f() == ["Completed", "Cached", 9, 16]
    assert calls == [3, 4]
    history.flush()
    run = history.list_flow_runs(limit=1)[0]
    shown = history.get_flow_run(run["id"])
    assert shown is not None
    assert [t["state"] for t in shown["task_runs"]] == ["Completed", "Cached", "Completed"]


def test_custom_key_fn_expiration_and_refresh_cache() -> None:
    calls: list[str] = []
    seen: list[dict[str, Any]] = []

    def by_region(context: TaskRunContext, parameters: dict[str, Any]) -> str:
        seen.append(parameters)
        return f"{context.task.name}:{parameters['region']}"

    @task(cache_key_fn=by_region, cache_expiration=timedelta(seconds=0.3))
    def report(region: str, day: int = 1) -> str:
        calls.append(region)
        return f"{region}-{len(calls)}"

    assert report("eu") == "eu-1"
    assert report("eu", day=2) == "eu-1"  # the key ignores `day`
    assert seen[1] == {"region": "eu", "day": 2}
    time.sleep(0.35)
    assert report("eu") == "eu-2"  # expired
    refreshed = report.with_options(refresh_cache=True)
    assert refreshed("eu") == "eu-3"
    assert report("eu") == "eu-3"  # the refreshed value is what the cache now holds


def test_large_values_go_to_the_results_folder(orch_home: Path) -> None:
    @task(cache_key_fn=lambda ctx, params: "big-value")
    def big() -> bytes:
        return os.urandom(200_000)

    first = big()
    files = list((orch_home / "results").iterdir())
    assert len(files) == 1 and files[0].stat().st_size > 200_000
    assert big() == first


def test_unserialisable_result_is_a_clear_error_naming_the_task() -> None:
    @task(cache_key_fn=lambda ctx, params: "lock")
    def makes_lock() -> Any:
        return threading.Lock()

    with pytest.raises(SerializationError, match="task 'makes_lock' returned a lock"):
        makes_lock()


def test_key_fn_returning_none_or_raising_does_not_cache() -> None:
    calls: list[int] = []

    def broken_key(ctx: TaskRunContext, params: dict[str, Any]) -> str:
        raise RuntimeError("no key")

    @task(cache_key_fn=broken_key)
    def t1() -> int:
        calls.append(1)
        return 1

    @task(cache_key_fn=lambda ctx, params: None)
    def t2() -> int:
        calls.append(2)
        return 2

    assert [t1(), t1(), t2(), t2()] == [1, 1, 2, 2]
    assert calls == [1, 1, 2, 2]


def test_a_second_process_hits_the_cache(any_store: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    script = write_script(
        tmp_path,
        "cached_job.py",
        f"""
        from datetime import timedelta
        from orch import flow, task
        from orch.tasks import task_input_hash

        @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
        def expensive(x: int) -> dict:
            with open({str(marker)!r}, "a") as f:
                f.write("ran\\n")
            return {{"x": x, "rows": list(range(x))}}

        @flow
        def job() -> None:
            print(expensive(5))

        job()
        """,
    )
    outputs = []
    for _ in range(2):
        done = run_python(script)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs[0] == outputs[1] == "{'x': 5, 'rows': [0, 1, 2, 3, 4]}"
    assert marker.read_text() == "ran\n"  # the second process did not run the task


def test_expired_results_are_pruned_by_the_writing_process(
    orch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch.engine import cache

    @task(cache_key_fn=lambda ctx, params: "short-lived", cache_expiration=timedelta(seconds=0.2))
    def big() -> bytes:
        return os.urandom(200_000)

    @task(cache_key_fn=task_input_hash)
    def small(x: int) -> int:
        return x

    big()
    assert len(list((orch_home / "results").iterdir())) == 1
    time.sleep(0.25)
    monkeypatch.setattr(cache, "_last_prune", {})  # a process that has not pruned yet
    assert small(1) == 1  # this write prunes what expired: the row and its file
    assert list((orch_home / "results").iterdir()) == []
    assert cache.lookup("short-lived") == (False, None)
    from orch.store import get_store

    with get_store().transaction(write=False) as tx:
        keys = [k for (k,) in tx.execute("SELECT key FROM orch_task_cache").fetchall()]
    assert "short-lived" not in keys and len(keys) == 1


def test_orch_runs_prune_clears_expired_results(orch_home: Path) -> None:
    @task(cache_key_fn=lambda ctx, params: "gone-soon", cache_expiration=timedelta(seconds=0.1))
    def big() -> bytes:
        return os.urandom(200_000)

    big()
    time.sleep(0.15)
    pruned = orch_cli("runs", "prune", "--older-than", "30d", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["cached_results"] == 1
    assert list((orch_home / "results").iterdir()) == []
