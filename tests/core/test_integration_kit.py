"""The integration kit (``orch.integration``) on a small real connector: a SQLite database.

``SqliteDb`` is what a package's connector looks like on the kit: a ``Connector`` whose
client is a real ``sqlite3`` connection, implementing the ``SqlDatabase`` role, with a
secret field (so that pickling and masking have something to leak).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import pty
import select
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from orch import Block, ProcessPoolTaskRunner, SecretStr, flow, history, task
from orch.integration import (
    AuthError,
    ConnectError,
    Connector,
    NotFoundError,
    ObjectStore,
    Progress,
    QueryError,
    ServiceError,
    SqlDatabase,
    block_label,
    first_line,
)
from orch.system_blocks import Secret
from orch.testing import ConnectorContract, check_fork_makes_its_own_client
from pydantic import Field

from tests.core.runtime_support import flush_history, orch_cli

__all__ = ["flush_history"]

TOKEN = "kit-Token-Secret-77"
made: list[str] = []  # paths of the clients SqliteDb._new_client made, in this process


class SqliteDb(Connector[sqlite3.Connection], SqlDatabase):
    """A SQLite database file, as a package's connector would own it.

    Example:
        SqliteDb(path="/data/app.db", token="...").fetch_all("SELECT 1")
    """

    path: str = Field(description="Path of the database file.")
    token: SecretStr = Field(description="A token (to show it never leaks).")

    def _new_client(self) -> sqlite3.Connection:
        made.append(self.path)
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.execute("SELECT 1")
        except sqlite3.Error as exc:
            raise ConnectError(f"cannot open {self.path} ({block_label(self)})") from exc
        return conn

    def execute(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> None:
        with self.get_client() as conn:
            conn.execute(operation, parameters or ())

    def execute_many(
        self,
        operation: str,
        seq_of_parameters: Sequence[Mapping[str, Any] | Sequence[Any]],
        **execution_options: Any,
    ) -> None:
        with self.get_client() as conn:
            conn.executemany(operation, seq_of_parameters)

    def fetch_one(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = (
            self.get_client().execute(operation, parameters or ()).fetchone()
        )
        return row

    def fetch_many(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        size: int | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        cursor = self.get_client().execute(operation, parameters or ())
        return list(cursor.fetchmany(size or 100))

    def fetch_all(
        self,
        operation: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        **execution_options: Any,
    ) -> list[Sequence[Any]]:
        return list(self.get_client().execute(operation, parameters or ()).fetchall())


def _db(tmp_path: Path, name: str = "kit.db") -> SqliteDb:
    return SqliteDb(path=str(tmp_path / name), token=TOKEN)


def _is_closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


# --- the contract, as a package runs it ------------------------------------------------------
class TestSqliteDbContract(ConnectorContract):
    block_type = SqliteDb

    @pytest.fixture
    def block(self, tmp_path: Path) -> SqliteDb:
        return _db(tmp_path)

    def probe(self, client: sqlite3.Connection) -> None:
        assert client.execute("SELECT 41 + 1").fetchone() == (42,)


# --- client life cycle -----------------------------------------------------------------------
def test_the_client_is_made_on_first_use_and_shared_by_equal_blocks(tmp_path: Path) -> None:
    made.clear()
    db = _db(tmp_path)
    assert made == []  # building the block made nothing
    conn = db.get_client()
    assert db.get_client() is conn and _db(tmp_path).get_client() is conn
    assert db.model_copy(deep=True).get_client() is conn
    other = _db(tmp_path, "other.db")
    assert other.get_client() is not conn
    assert made == [db.path, other.path]
    db.path = other.path  # a changed field switches clients
    assert db.get_client() is other.get_client()
    SqliteDb._clients.close_all()


def test_threads_racing_for_one_client_make_exactly_one(tmp_path: Path) -> None:
    made.clear()
    blocks = [_db(tmp_path) for _ in range(16)]
    barrier = threading.Barrier(8)

    def get(block: SqliteDb) -> int:
        barrier.wait()
        return id(block.get_client())

    threads_ids: list[int] = []
    workers = [threading.Thread(target=lambda b=b: threads_ids.append(get(b))) for b in blocks[:8]]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(set(threads_ids)) == 1 and made == [blocks[0].path]
    assert SqliteDb._clients.holders(blocks[0]._fingerprint()) == 8
    SqliteDb._clients.close_all()


def test_close_closes_only_this_blocks_hold(tmp_path: Path) -> None:
    # Snowflake's bug: closing one block logged out sessions other threads were using.
    first, second = _db(tmp_path), _db(tmp_path)
    conn = first.get_client()
    assert second.get_client() is conn
    first.close()
    assert not _is_closed(conn)
    assert second.fetch_one("SELECT 1") == (1,)
    first.close()  # twice: still only its own (already released) hold
    assert not _is_closed(conn)
    with second:
        pass
    assert _is_closed(conn)  # the last holder let go
    assert first.get_client() is not conn and first.fetch_one("SELECT 2") == (2,)
    first.close()


def test_a_copy_has_its_own_hold_and_a_changed_copy_its_own_client(tmp_path: Path) -> None:
    # pydantic's shallow copies share private attributes: a copy shared the slot, so a
    # model_copy(update=...) got the original's client, and closing a copy closed it.
    db = _db(tmp_path)
    conn = db.get_client()
    moved = db.model_copy(update={"path": str(tmp_path / "moved.db")})
    assert moved.get_client() is not conn
    assert moved.fetch_one("PRAGMA database_list")[2].endswith("moved.db")  # type: ignore[index]
    for copied in (copy.copy(db), db.model_copy()):
        assert copied.get_client() is conn
        copied.close()
        assert not _is_closed(conn) and db.get_client() is conn
    db.close()
    moved.close()
    assert _is_closed(conn)


def test_a_forked_child_makes_its_own_client_and_the_parents_keeps_working(
    tmp_path: Path,
) -> None:
    db = _db(tmp_path)
    db.execute("CREATE TABLE t (pid INTEGER)")
    check_fork_makes_its_own_client(
        db,
        lambda conn: conn.execute("INSERT INTO t VALUES (?)", (os.getpid(),)).connection.commit(),
    )
    pids = {row[0] for row in db.fetch_all("SELECT pid FROM t")}
    assert os.getpid() in pids and len(pids) == 2  # the child wrote through its own client
    db.close()


def test_clients_are_closed_at_interpreter_exit(tmp_path: Path) -> None:
    code = f"""
import sqlite3, sys
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from tests.core.test_integration_kit import SqliteDb, _is_closed
import atexit
conn = None
atexit.register(lambda: print("closed", conn is not None and _is_closed(conn)))
db = SqliteDb(path={str(tmp_path / "exit.db")!r}, token="t0ken-exit")
conn = db.get_client()  # registers the table's close_all, which runs before the print
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "closed True"


# --- pickling by name ------------------------------------------------------------------------
def test_every_saved_block_pickles_by_name_without_its_secret() -> None:
    # Before: only connectors pickled by name; a saved credentials block carried its secret.
    Secret(value=SecretStr(TOKEN)).save("plain")
    loaded = Secret.load("plain")
    data = pickle.dumps(loaded)
    assert TOKEN.encode() not in data and b"secret/plain" in data
    assert pickle.loads(data).value.get_secret_value() == TOKEN
    loaded.value = SecretStr("changed-Value-1")  # changed after loading: by value
    assert pickle.loads(pickle.dumps(loaded)).value.get_secret_value() == "changed-Value-1"


def _count_rows(db: SqliteDb) -> tuple[int, int]:
    row = db.fetch_one("SELECT count(*) FROM t")
    assert row is not None
    return os.getpid(), int(row[0])


@task
def count_rows(db: SqliteDb) -> tuple[int, int]:
    return _count_rows(db)


def test_a_saved_connector_reaches_a_process_pool_by_name(tmp_path: Path) -> None:
    db = _db(tmp_path)
    db.execute("CREATE TABLE t (x INTEGER)")
    db.execute_many("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)])
    db.save("pooled")
    loaded = SqliteDb.load("pooled")
    assert TOKEN.encode() not in pickle.dumps(loaded)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def pooled(block: SqliteDb) -> list[tuple[int, int]]:
        return [f.result() for f in [count_rows.submit(block) for _ in range(3)]]

    results = pooled(loaded)
    assert {n for _, n in results} == {3}
    assert all(pid != os.getpid() for pid, _ in results)
    db.close()


# --- Progress --------------------------------------------------------------------------------
@task
def load_rows(total: int) -> int:
    with Progress("load_rows into t", total=total, unit="rows", interval=0.0) as progress:
        for _ in range(4):
            progress.advance(total // 4)
    return total


@flow(name="kit-progress")
def progress_flow() -> int:
    return load_rows(40_000)


@pytest.mark.usefixtures("flush_history")
def test_progress_lines_reach_orch_runs_logs_off_a_terminal() -> None:
    assert progress_flow() == 40_000
    history.flush()
    runs = json.loads(orch_cli("runs", "ls", "--flow", "kit-progress", "--json").stdout)
    logs = orch_cli("runs", "logs", runs[0]["id"], "--json")
    assert logs.returncode == 0, logs.stderr
    messages = [r["message"] for r in json.loads(logs.stdout)]
    progress = [m for m in messages if m.startswith("load_rows into t: ")]
    assert "load_rows into t: 10,000 rows of 40,000 rows (25%) so far" in progress[0]
    assert len(progress) == 5  # one line per batch (interval 0), then the summary
    assert progress[-1].startswith("load_rows into t: 40,000 rows in ")
    assert progress[-1].endswith(" rows/s)")


def test_progress_outside_a_run_uses_the_package_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="orch_kit_test")

    def upload() -> None:
        with Progress(
            "s3_upload s3://b/k", total=8 * 1024 * 1024, logger="orch_kit_test"
        ) as progress:
            progress.advance(2 * 1024 * 1024)
            raise ValueError("network")

    with pytest.raises(ValueError, match="network"):
        upload()
    assert [r.getMessage() for r in caplog.records] == [
        "s3_upload s3://b/k: stopped (ValueError) after 2.0 MiB of 8.0 MiB in 0.0 s"
    ]


def test_progress_lines_are_spaced_by_the_interval_and_short_work_can_stay_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="orch_kit_test")
    with Progress("sql_load_rows", unit="rows", interval=3600, logger="orch_kit_test") as p:
        for _ in range(1000):
            p.advance(10)
    assert [r.getMessage().rsplit(" in ", 1)[0] for r in caplog.records] == [
        "sql_load_rows: 10,000 rows"  # no line within the interval: the summary only
    ]
    caplog.clear()
    with Progress("quick", unit="rows", min_seconds=60, logger="orch_kit_test") as p:
        p.advance(5)
    with Progress("off", unit="rows", enabled=False, logger="orch_kit_test") as p:
        p.advance(5)
    assert caplog.records == []
    assert p.done == 5  # still counted


def test_progress_draws_a_bar_on_a_terminal() -> None:
    code = """
import time
from orch.integration import Progress
with Progress("s3_download s3://b/big", total=4 * 1024 * 1024, interval=0.0) as p:
    for _ in range(4):
        p.advance(1024 * 1024)
        time.sleep(0.15)
print("done")
"""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=child,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
    )
    os.close(child)
    out = b""
    while True:
        ready, _, _ = select.select([main], [], [], 10)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        out += chunk
    stdout = proc.communicate(timeout=30)[0]
    os.close(main)
    assert proc.returncode == 0 and stdout.strip() == b"done"
    text = out.decode(errors="replace")
    assert "\x1b[" in text and "━" in text  # drawn with terminal codes
    assert "s3_download s3://b/big" in text and "MB" in text
    assert "so far" not in text  # a bar instead of progress lines


# --- roles, errors, helpers ------------------------------------------------------------------
def test_a_role_refuses_an_incomplete_implementation() -> None:
    class HalfBucket(Block, ObjectStore):
        """A bucket that only reads.

        Example:
            HalfBucket(name="b")
        """

        name: str = Field(description="Bucket name.")

        def read_path(self, path: str) -> bytes:
            return b""

    with pytest.raises(TypeError, match="abstract class HalfBucket") as info:
        HalfBucket(name="b")  # type: ignore[abstract]  # mypy refuses it too
    for missing in ("upload_from_path", "write_path", "list_objects"):
        assert missing in str(info.value)
    with pytest.raises(TypeError, match="abstract class HalfBucket"):
        HalfBucket.model_validate({"name": "b"})


def test_a_role_implementation_works_through_the_role(tmp_path: Path) -> None:
    database: SqlDatabase = _db(tmp_path)
    database.execute("CREATE TABLE t (id INTEGER, name TEXT)")
    database.execute_many("INSERT INTO t VALUES (:id, :name)", [{"id": 1, "name": "a"}])
    assert database.fetch_all("SELECT * FROM t") == [(1, "a")]
    assert database.fetch_many("SELECT * FROM t", size=1) == [(1, "a")]
    assert isinstance(database, SqlDatabase)


def test_the_shared_errors_name_the_block_and_keep_the_cause(tmp_path: Path) -> None:
    db = SqliteDb(path=str(tmp_path / "missing" / "x.db"), token=TOKEN)
    with pytest.raises(ConnectError) as info:
        db.get_client()
    assert "an unsaved SqliteDb" in str(info.value) and TOKEN not in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    db.save("broken")
    with pytest.raises(ConnectError, match="sqlite-db/broken"):
        SqliteDb.load("broken").get_client()
    denied = AuthError("denied (s3-bucket/prod)", code="AccessDenied")
    assert isinstance(denied, PermissionError | ServiceError)
    back = pickle.loads(pickle.dumps(denied))
    assert type(back) is AuthError and back.code == "AccessDenied" and str(back) == str(denied)
    assert issubclass(NotFoundError, LookupError) and issubclass(QueryError, ServiceError)


def test_block_label_and_first_line() -> None:
    assert block_label(Secret(value=SecretStr(TOKEN))) == "an unsaved Secret"
    assert block_label(Secret(value=SecretStr(TOKEN)), "for etl") == "an unsaved Secret (for etl)"
    Secret(value=SecretStr(TOKEN)).save("labelled")
    assert block_label(Secret.load("labelled")) == "secret/labelled"
    assert first_line("\n-- comment\n  SELECT 1\nFROM t") == "SELECT 1"
    assert first_line("x" * 200, limit=20) == "x" * 17 + "..."
    assert first_line("  \n") == "(empty statement)"


def test_the_kit_imports_no_pydantic_until_a_block_name_is_used() -> None:
    code = (
        "import sys; import orch.integration as kit; "
        "print('pydantic' in sys.modules, sorted(set(kit.__all__) - set(dir(kit))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False []"
