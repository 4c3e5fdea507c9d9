"""With a shared PostgreSQL store, workers write their task runs straight to it
(``history="auto"`` picks ``"worker"``): the same history as through the driver."""

from __future__ import annotations

import pytest
from orch import flow, get_run_context, history

from tests.dask import tasks_mod as t

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("flush_history")]


def test_workers_write_their_runs_to_a_shared_postgres_store(
    dask_runner: object, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_STORE_URL", pg_database)

    @flow(task_runner=dask_runner)  # type: ignore[arg-type]
    def f() -> tuple[str, bool]:
        assert t.logs.map(range(50)).result() == list(range(50))
        t.fails.submit(3).wait()
        ctx = get_run_context()
        return ctx.flow_run.id, ctx.task_runner._to_driver  # type: ignore[union-attr]

    run_id, to_driver = f()
    assert to_driver is False
    history.flush()
    shown = history.get_flow_run(run_id)
    assert shown is not None
    runs = shown["task_runs"]
    assert len(runs) == 51
    assert sorted(r["state"] for r in runs).count("Completed") == 50
    messages = [line["message"] for line in history.get_logs(run_id)]
    assert sum(m.startswith("line from the worker") for m in messages) == 50
    assert any("ValueError: bad 3" in m for m in messages)
