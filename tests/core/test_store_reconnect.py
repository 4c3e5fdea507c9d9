"""The PostgreSQL store outlives dropped connections: a process whose connections are
terminated (``pg_terminate_backend``, as a server restart or failover does) reconnects,
writes every run it made and loads blocks afterwards; when the store stays away, it says
so (naming the store, never its password) instead of dropping records silently."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from orch.errors import StoreError
from orch.store.base import Row, Tx

from tests.core.runtime_support import ROOT, flush_history, write_script

__all__ = ["flush_history"]

FLOWS = """
import sys, time
from orch import flow, task
from orch.system_blocks import Secret

@task
def step(i: int) -> int:
    return 2 * i

@flow(name="reconnect", flow_run_name="run-{i}")
def run(i: int) -> int:
    time.sleep(0.1)
    return step(i)

Secret(value="kept-across-the-kill").save("token")
for i in range(16):
    run(i)
    print(f"done {i}", flush=True)
    if sys.argv[1] == "pause" and i == int(sys.argv[2]):
        sys.stdin.readline()  # the test drops the store's connections (or the store) now
print(Secret.load("token").value.get_secret_value() if sys.argv[3] == "load" else "end")
"""

TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _start(tmp_path: Path, url: str, *args: str, retry: str = "30") -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ORCH_STORE_URL": url,
        "ORCH_STORE_RETRY_SECONDS": retry,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, str(write_script(tmp_path, "flows.py", FLOWS)), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_line(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    for got in proc.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"no {line!r} from the process: {proc.communicate()[1]}")


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        flows = conn.execute(
            "SELECT COUNT(*) FROM orch_flow_runs WHERE flow_name = 'reconnect' "
            "AND state = 'Completed'"
        ).fetchone()
        tasks = conn.execute(
            "SELECT COUNT(*) FROM orch_task_runs WHERE task_name = 'step' AND state = 'Completed'"
        ).fetchone()
    assert flows is not None and tasks is not None
    return int(flows[0]), int(tasks[0])


def _recorded_at_least(url: str, n: int) -> None:
    deadline = time.monotonic() + 20
    while _counts(url)[0] < n:
        assert time.monotonic() < deadline, "the first runs were never written"
        time.sleep(0.05)


def _terminate_all(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return len(conn.execute(TERMINATE).fetchall())


def test_terminated_connections_lose_no_run_and_blocks_still_load(
    pg_database: str, tmp_path: Path
) -> None:
    url = pg_database + "?application_name=orch-reconnect-test"
    proc = _start(tmp_path, url, "pause", "5", "load")
    _wait_for_line(proc, "done 5")
    _recorded_at_least(pg_database, 6)  # the writer thread's connection is in use
    assert _terminate_all(pg_database) >= 2  # the main thread's and the writer's
    out, err = proc.communicate("go\n", timeout=120)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "kept-across-the-kill", out + err
    assert _counts(pg_database) == (16, 16), err
    assert "not recorded" not in err and "AdminShutdown" not in err, err


def test_connections_terminated_while_runs_are_written(pg_database: str, tmp_path: Path) -> None:
    # No pause: the kills land while flows run and batches are being written.
    proc = _start(tmp_path, pg_database, "run", "-1", "load")
    _wait_for_line(proc, "done 2")
    for _ in range(4):
        _terminate_all(pg_database)
        time.sleep(0.15)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "kept-across-the-kill", out + err
    assert _counts(pg_database) == (16, 16), err


def test_a_store_that_stays_away_is_reported_with_the_count_of_lost_records(
    pg_server: str, tmp_path: Path
) -> None:
    name = f"orch_gone_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, hostpart = pg_server.partition("@")
    url = f"{base}:hunter2secret@{hostpart}/{name}"  # trust auth: the password is unused
    proc = _start(tmp_path, url, "pause", "13", "no-load", retry="2")
    _wait_for_line(proc, "done 13")
    deadline = time.monotonic() + 20
    while _counts(f"{pg_server}/{name}")[0] < 14:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    out, err = proc.communicate("go\n", timeout=120)
    # A library does not change its caller's exit status; it says what was lost.
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "end"
    assert "2 flow runs, 2 task runs" in err and "were not recorded" in err, err
    assert "postgres:***@" in err and "hunter2secret" not in err, err


def test_store_error_after_the_retry_time_names_the_store_not_its_password(
    pg_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch.store import open_store

    name = f"orch_gone_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, hostpart = pg_server.partition("@")
    store = open_store(f"{base}:hunter2secret@{hostpart}/{name}")
    monkeypatch.setenv("ORCH_STORE_RETRY_SECONDS", "1.5")
    with store.transaction() as tx:
        assert tx.execute("SELECT 1").fetchone() == (1,)
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    started = time.monotonic()
    with pytest.raises(StoreError) as info, store.transaction() as tx:
        tx.execute("SELECT 1")
    assert 1.0 < time.monotonic() - started < 15
    message = str(info.value)
    assert f"postgres:***@{hostpart}/{name}" in message and "hunter2secret" not in message
    assert "ORCH_STORE_RETRY_SECONDS" in message and "does not exist" in message, message
    store.close()


# A COMMIT that waits (a deferred trigger sleeps, the first time only: sequences are not
# rolled back) is a COMMIT the test can cut short: the client then cannot know whether the
# server applied it.
SLOW_COMMIT = [
    "CREATE SEQUENCE IF NOT EXISTS slow_once",
    """CREATE OR REPLACE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF nextval('slow_once') = 1 THEN PERFORM pg_sleep(30); END IF;
        RETURN NULL;
    END $$""",
]


def _slow_commits_on(url: str, table: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in SLOW_COMMIT:
            conn.execute(statement)
        conn.execute("ALTER SEQUENCE slow_once RESTART")
        conn.execute(
            f"CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON {table} DEFERRABLE INITIALLY "
            "DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"
        )


def _kill_the_commit(url: str) -> threading.Thread:
    """Terminate the session whose COMMIT sleeps, as soon as it sleeps."""

    def kill() -> None:
        deadline = time.monotonic() + 20
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND wait_event = 'PgSleep'"
                ).fetchall()
                if killed:
                    return
                time.sleep(0.02)

    thread = threading.Thread(target=kill)
    thread.start()
    return thread


def test_a_write_whose_commit_dropped_runs_again_only_when_idempotent(pg_database: str) -> None:
    from orch.store import open_store
    from orch.store.base import ConnectionLost

    store = open_store(pg_database)
    with store.transaction() as tx:
        tx.execute("CREATE TABLE counted (x INTEGER)")
    _slow_commits_on(pg_database, "counted")

    def insert(tx: Tx) -> None:
        tx.execute("INSERT INTO counted VALUES (1)")

    def count(tx: Tx) -> Row | None:
        return tx.execute("SELECT COUNT(*) FROM counted").fetchone()

    killer = _kill_the_commit(pg_database)
    with pytest.raises(ConnectionLost) as info:
        store.retrying(insert)
    killer.join()
    assert info.value.in_doubt and "during COMMIT" in str(info.value)
    # not applied (the server ended the session before committing), and the store works
    assert store.retrying(count, write=False) == (0,)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("ALTER SEQUENCE slow_once RESTART")
    killer = _kill_the_commit(pg_database)
    store.retrying(insert, idempotent=True)
    killer.join()
    assert store.retrying(count, write=False) == (1,)
    store.close()


@pytest.mark.usefixtures("flush_history")
def test_history_batch_whose_commit_dropped_is_written_once(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch import history
    from orch.history.writer import _unwritten
    from orch.store import get_store

    monkeypatch.setenv("ORCH_STORE_URL", pg_database)
    store = get_store()
    store.ensure_schema("runs", history.SCHEMA)
    _slow_commits_on(pg_database, "orch_run_logs")
    now = time.time()
    history.record_log("flow-x", None, now, "INFO", "test", "first line")
    history.record_log("flow-x", None, now + 0.001, "INFO", "test", "second line")
    killer = _kill_the_commit(pg_database)
    history.flush()  # the COMMIT is cut short, the batch is written again: once
    killer.join()
    assert [r["message"] for r in history.get_logs("flow-x")] == ["first line", "second line"]
    # Had the cut COMMIT been applied, the lines on record are not written twice.
    rows = [("flow-x", None, now, "INFO", "test", "first line")]
    rows.append(("flow-x", None, now + 1, "INFO", "test", "third line"))
    kept = store.retrying(lambda tx: _unwritten(tx, rows), write=False)
    assert [r[5] for r in kept] == ["third line"]


def test_a_retry_time_that_is_not_a_number_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orch.errors import OrchError
    from orch.settings import store_retry_seconds

    assert store_retry_seconds() == 30.0
    monkeypatch.setenv("ORCH_STORE_RETRY_SECONDS", "soon")
    with pytest.raises(OrchError, match="ORCH_STORE_RETRY_SECONDS must be a number"):
        store_retry_seconds()
