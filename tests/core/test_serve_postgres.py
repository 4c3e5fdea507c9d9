"""Two `orch serve` processes on one PostgreSQL store: each slot runs exactly once, and
when one is killed (-9) the other keeps taking the slots. The store is the only
coordinator."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from tests.core.serve_support import (
    reset_store_cache,
    server_ids,
    slots,
    start_server,
    stop,
    wait_for,
    write_flows,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def folder(tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCH_STORE_URL", pg_database)
    reset_store_cache()
    write_flows(tmp_path)
    return tmp_path


def _scheduled(name: str) -> list[dict[str, object]]:
    return sorted(
        (s for s in slots(name) if s["kind"] == "scheduled"), key=lambda s: float(s["slot"])
    )  # type: ignore[arg-type]


def _no_gaps(rows: list[dict[str, object]]) -> None:
    times = [float(r["slot"]) for r in rows]  # type: ignore[arg-type]
    assert [b - a for a, b in itertools.pairwise(times)] == [1.0] * (len(times) - 1)


def test_two_servers_race_for_60_slots_and_run_each_once(folder: Path) -> None:
    from orch import history

    # overlap=allow: a slot runs even if the last one is slow on a busy machine
    args = ("servedflows:tick", "--interval", "1", "--name", "raced", "--overlap", "allow")
    servers = [start_server(*args, cwd=folder), start_server(*args, cwd=folder)]
    try:
        wait_for(lambda: len(server_ids("raced")) == 2, timeout=60)
        first = len(_scheduled("raced"))
        wait_for(lambda: len(_scheduled("raced")) >= first + 60, timeout=120, every=1)
    finally:
        codes = [stop(s) for s in servers]
    assert codes == [0, 0]
    rows = _scheduled("raced")
    _no_gaps(rows)  # no slot was lost...
    assert Counter(r["slot_key"] for r in rows).most_common(1)[0][1] == 1
    assert {r["state"] for r in rows} == {"completed"}
    runs = history.list_flow_runs(deployment="raced", limit=10_000)
    # ...and none ran twice: one flow run per slot
    assert len(runs) == len(rows) >= 60
    assert {r["flow_run_id"] for r in rows} == {r["id"] for r in runs}
    # both servers took part
    assert len({r["server_id"] for r in rows}) == 2


def test_kill_9_of_one_server_the_other_takes_the_next_slots(folder: Path) -> None:
    args = ("servedflows:tick", "--interval", "1", "--name", "survivor", "--overlap", "allow")
    doomed, other = start_server(*args, cwd=folder), start_server(*args, cwd=folder)
    try:
        wait_for(lambda: len(server_ids("survivor")) == 2, timeout=60)
        wait_for(lambda: len(_scheduled("survivor")) >= 3, timeout=30)
        doomed.kill()
        doomed.wait()
        at_kill = len(_scheduled("survivor"))
        wait_for(lambda: len(_scheduled("survivor")) >= at_kill + 4, timeout=30)
        alive = server_ids("survivor")
    finally:
        stop(doomed)
        assert stop(other) == 0
    rows = _scheduled("survivor")
    _no_gaps(rows)
    after = rows[at_kill + 1 :]
    assert len(after) >= 3
    assert {r["server_id"] for r in after} == set(alive)
    assert {r["state"] for r in after} == {"completed"}
