"""SnowflakeConnector against the fakesnow server: one lazy session per process per
connector, shared by threads, reopened when closed, closed at exit; errors name the block
and never a secret."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa
from orch_snowflake import (
    SnowflakeAuthenticationError,
    SnowflakeConnectionError,
    SnowflakeConnector,
    SnowflakeQueryError,
    snowflake_query,
)

from .conftest import PASSWORD, credentials_for

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_package_loads_no_sdk() -> None:
    code = (
        "import sys, orch_snowflake\n"
        "from orch_snowflake import SnowflakeConnector, SnowflakeCredentials, snowflake_query\n"
        "SnowflakeConnector(credentials=SnowflakeCredentials(account='a', user='u', "
        "password='p'))\n"
        "print([m for m in ('snowflake', 'snowflake.connector', 'pandas', 'pyarrow') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_session_opens_on_first_use_and_is_shared(sf: SnowflakeConnector) -> None:
    assert sf._slot.value is None  # building the block opened nothing
    conn = sf.get_connection()
    assert sf.get_connection() is conn
    twin = SnowflakeConnector.model_validate(sf.model_dump(by_alias=False))
    twin.credentials = sf.credentials  # the dump masks the password; equal content
    assert twin.get_connection() is conn
    other = sf.model_copy(update={"fetch_size": 7})
    other._slot = type(sf._slot)()
    assert other.get_connection() is not conn  # other content, other session
    other.close()


def test_threads_share_the_session(sf: SnowflakeConnector) -> None:
    barrier = threading.Barrier(8)
    # fakesnow runs one statement at a time per session (real Snowflake runs them
    # concurrently), so the statements take turns; the first open still races.
    fakesnow_turns = threading.Lock()
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            conn = sf.get_connection()
            with fakesnow_turns:
                results[i] = (snowflake_query.fn(sf, "SELECT %s * 2", [i]), id(conn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert {i: r[0] for i, r in results.items()} == {i: [(i * 2,)] for i in range(8)}
    assert len({r[1] for r in results.values()}) == 1


def _drop_session(conn: Any) -> None:
    # What a session the server ended looks like to the connector: no REST channel.
    # (conn.close() can't get there against fakesnow: its logout call fails.)
    conn.rest.close()
    conn._rest = None


def _count_logouts(conn: Any) -> list[Any]:
    """A list that gets ``conn`` when it is closed (logged out); the close still runs.
    (Against fakesnow the logout call fails, so ``is_closed()`` can't tell.)"""
    closed: list[Any] = []
    real_close = conn.close

    def close(*args: Any, **kwargs: Any) -> Any:
        closed.append(conn)
        return real_close(*args, **kwargs)

    conn.close = close
    return closed


def test_a_closed_session_is_reopened(sf: SnowflakeConnector) -> None:
    first = sf.get_connection()
    _drop_session(first)
    assert first.is_closed()
    assert snowflake_query.fn(sf, "SELECT 1") == [(1,)]
    assert sf.get_connection() is not first
    assert not sf.get_connection().is_closed()


def test_with_block_and_close_end_the_session(sf: SnowflakeConnector) -> None:
    with sf:
        conn = sf.get_connection()
        logouts = _count_logouts(conn)
    assert logouts == [conn]  # this block was its only holder: logged out
    assert sf._slot.value is None
    assert snowflake_query.fn(sf, "SELECT 2") == [(2,)]  # usable again afterwards
    assert sf.get_connection() is not conn


def test_sessions_are_closed_at_exit(snowflake_server: dict[str, Any], tmp_path: Path) -> None:
    script = f"""
import atexit, json
from orch_snowflake import SnowflakeConnector, SnowflakeCredentials, snowflake_query
sf = SnowflakeConnector(credentials=SnowflakeCredentials(
    account="a", user="u", password="p", **{snowflake_server!r}))
assert snowflake_query.fn(sf, "SELECT 1") == [(1,)]
session = sf.get_client()
closed = []
real_close = session.conn.close
session.conn.close = lambda *a, **k: (closed.append(True), real_close(*a, **k))
# The connector registers its own exit hook too; without it, only orch's can close.
atexit.unregister(session.conn._close_at_exit)
atexit._run_exitfuncs()
print(json.dumps([closed, session.conn is None]))
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"ORCH_HOME": str(tmp_path), "PATH": ""},
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[True], True]


def test_key_pair_oauth_and_pat_logins(
    snowflake_server: dict[str, Any], snowflake_database: str
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    for auth in (
        {"private_key": pem.replace(b"\n", b"")},
        {"token": "oauth-token-xyz"},
        {"programmatic_access_token": "pat-token-xyz"},
    ):
        with SnowflakeConnector(
            credentials=credentials_for(snowflake_server, **auth), database=snowflake_database
        ) as sf:
            assert snowflake_query.fn(sf, "SELECT 40 + 2") == [(42,)]


@pytest.mark.parametrize(
    ("method", "said"),
    [
        ("password", "Incorrect username or password"),
        ("key_pair", "JWT token is invalid"),
        ("oauth", "Invalid OAuth access token"),
    ],
)
def test_a_refused_login_names_account_user_and_block_never_the_secret(
    snowflake_login_refused: dict[str, Any], method: str, said: str
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    secret = {"password": PASSWORD, "key_pair": pem, "oauth": "oauth-secret-token-5c1d"}[method]
    field = {"password": "password", "key_pair": "private_key", "oauth": "token"}[method]
    creds = credentials_for(snowflake_login_refused, **{field: secret})
    SnowflakeConnector(credentials=creds, login_timeout=10).save("prod")
    sf = SnowflakeConnector.load("prod")
    with pytest.raises(SnowflakeAuthenticationError) as err:
        snowflake_query.fn(sf, "SELECT 1")
    message = str(err.value)
    assert "account 'orchtest' as user 'ORCH_TESTER'" in message
    assert f"snowflake-connector/prod, auth method {method!r}" in message
    assert said in message  # Snowflake's own words
    body = pem.decode().splitlines()[1] if method == "key_pair" else str(secret)
    assert body not in message and body not in repr(err.value)
    assert getattr(err.value.__cause__, "errno", None) in (390100, 390144, 390303)


def test_an_unreachable_account_is_a_clear_error(snowflake_server: dict[str, Any]) -> None:
    from tests.backends.service import free_port

    creds = credentials_for({**snowflake_server, "port": free_port()})
    sf = SnowflakeConnector(credentials=creds, login_timeout=5)
    sf.save("unreachable")
    sf = SnowflakeConnector.load("unreachable")
    with pytest.raises(SnowflakeConnectionError) as err:
        snowflake_query.fn(sf, "SELECT 1")
    message = str(err.value)
    assert "'orchtest'" in message and "'ORCH_TESTER'" in message
    assert "snowflake-connector/unreachable" in message
    assert PASSWORD not in message
    assert err.value.__cause__ is not None


def test_a_failed_statement_names_block_and_statement(sf: SnowflakeConnector) -> None:
    sf.save("analytics")
    saved = SnowflakeConnector.load("analytics")
    with pytest.raises(SnowflakeQueryError) as err:
        snowflake_query.fn(saved, "SELECT * FROM missing_table\nWHERE x = %s", [PASSWORD])
    message = str(err.value)
    assert "snowflake_query failed on snowflake-connector/analytics" in message
    assert "'SELECT * FROM missing_table'" in message
    assert "MISSING_TABLE" in message  # Snowflake's own words
    assert PASSWORD not in message
    assert type(err.value.__cause__).__name__ == "ProgrammingError"


def test_an_unknown_database_names_the_block(sf: SnowflakeConnector) -> None:
    with pytest.raises(SnowflakeQueryError) as err:
        snowflake_query.fn(sf, "USE DATABASE NO_SUCH_DB")
    message = str(err.value)
    assert "an unsaved SnowflakeConnector (account 'orchtest' as user 'ORCH_TESTER')" in message
    assert "NO_SUCH_DB" in message


def test_pickles_by_name_when_saved_and_without_session_when_not(sf: SnowflakeConnector) -> None:
    sf.get_connection()
    clone = pickle.loads(pickle.dumps(sf))
    assert clone == sf and clone._slot.value is None
    sf.save("pickled")
    saved = SnowflakeConnector.load("pickled")
    data = pickle.dumps(saved)
    assert PASSWORD.encode() not in data
    assert pickle.loads(data).block_document_name == "snowflake-connector/pickled"


def _insert_then_fail(sf: SnowflakeConnector) -> None:
    with sf.transaction() as tx:
        assert tx.connection is not sf.get_connection()
        tx.execute("INSERT INTO t VALUES (1)").close()
        tx.execute("INSERT INTO nope VALUES (2)")


def test_transactions_use_a_session_of_their_own(sf: SnowflakeConnector) -> None:
    snowflake_query.fn(sf, "CREATE TABLE t (x INT)")
    with pytest.raises(SnowflakeQueryError):
        _insert_then_fail(sf)
    assert snowflake_query.fn(sf, "SELECT COUNT(*) FROM t") == [(0,)]
    with sf.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (%s)", [3]).close()
    assert snowflake_query.fn(sf, "SELECT x FROM t") == [(3,)]


@pytest.mark.parametrize(
    ("setting", "hint"),
    [
        # fakesnow creates an unknown database when a schema is given, so none is here.
        ({"database": "NO_SUCH_DB"}, "schema=None"),
        ({}, "database=None"),
    ],
)
def test_an_unknown_or_missing_database_points_at_the_block_field(
    snowflake_server: dict[str, Any], setting: dict[str, str], hint: str
) -> None:
    # Snowflake (and fakesnow) log in with an unknown database; the first statement that
    # needs it fails, and the error says which field of which block to look at.
    SnowflakeConnector(credentials=credentials_for(snowflake_server), **setting).save("wh")
    sf = SnowflakeConnector.load("wh")
    with pytest.raises(SnowflakeQueryError) as err:
        snowflake_query.fn(sf, "CREATE TABLE t (x INT)")
    message = str(err.value)
    assert "snowflake_query failed on snowflake-connector/wh" in message
    assert "This session does not have a current" in message  # Snowflake's own words
    assert f"(check {hint} of snowflake-connector/wh)" in message
    assert err.value.__cause__ is not None


def test_closing_one_block_leaves_an_equal_blocks_session_working(sf: SnowflakeConnector) -> None:
    # Two equal connector blocks (two loads of one saved block), each used on a thread of
    # its own: they share one session. Closing one must not log the other's out.
    sf.save("shared")
    first, second = SnowflakeConnector.load("shared"), SnowflakeConnector.load("shared")
    conns: dict[str, Any] = {}
    second_may_go_on = threading.Event()
    first_closed = threading.Event()
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def use_then_close() -> None:
        try:
            conns["first"] = first.get_connection()
            results["first"] = snowflake_query.fn(first, "SELECT 1")
            second_may_go_on.wait(10)
            first.close()
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_closed.set()

    def keep_using() -> None:
        try:
            conns["second"] = second.get_connection()
            conns["logouts"] = _count_logouts(conns["second"])
            second_may_go_on.set()
            first_closed.wait(10)
            results["second"] = snowflake_query.fn(second, "SELECT 2")
            conns["after"] = second.get_connection()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=use_then_close), threading.Thread(target=keep_using)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert conns["first"] is conns["second"]  # one session, shared
    assert results == {"first": [(1,)], "second": [(2,)]}
    # The same session, never logged out: the other thread's session state survives.
    assert conns["after"] is conns["second"] and conns["logouts"] == []
    second.close()  # the last holder: now it is logged out
    assert conns["logouts"] == [conns["second"]]


def test_errors_are_the_kits_classes(
    snowflake_login_refused: dict[str, Any], sf: SnowflakeConnector
) -> None:
    from orch.integration import AuthError, ConnectError, QueryError, ServiceError

    refused = SnowflakeConnector(credentials=credentials_for(snowflake_login_refused))
    with pytest.raises(AuthError) as auth:
        refused.get_client()
    assert isinstance(auth.value, SnowflakeAuthenticationError)
    assert isinstance(auth.value, ConnectError) and isinstance(auth.value, PermissionError)
    assert auth.value.code == "390100" and auth.value.__cause__ is not None
    with pytest.raises(QueryError) as query:
        sf.fetch_all("SELECT * FROM no_such_table")
    assert isinstance(query.value, SnowflakeQueryError) and isinstance(query.value, ServiceError)
    assert "fetch_all failed on an unsaved SnowflakeConnector" in str(query.value)


def test_the_sql_database_role(sf: SnowflakeConnector) -> None:
    from orch.integration import SqlDatabase

    assert isinstance(sf, SqlDatabase)
    sf.execute("CREATE TABLE customers (name VARCHAR, address VARCHAR)").close()
    sf.execute_many(
        "INSERT INTO customers (name, address) VALUES (%(name)s, %(address)s)",
        seq_of_parameters=[
            {"name": "Marvin", "address": "Highway 42"},
            {"name": "Ford", "address": "Highway 42"},
            {"name": "Unknown", "address": "Space"},
        ],
    )
    assert sf.fetch_one("SELECT name FROM customers WHERE address = %s", ["Space"]) == ("Unknown",)
    assert sf.fetch_one("SELECT name FROM customers WHERE address = 'Mars'") is None
    ordered = "SELECT name FROM customers ORDER BY name"
    assert sf.fetch_many(ordered, size=2) == [("Ford",), ("Marvin",)]
    sf.fetch_size = 1
    assert sf.fetch_many(ordered) == [("Ford",)]  # the block's batch size by default
    assert sf.fetch_all(
        "SELECT name FROM customers WHERE address = %(a)s ORDER BY name", {"a": "Highway 42"}
    ) == [("Ford",), ("Marvin",)]
    # execute_many is one transaction: a failing set leaves none of the others.
    with pytest.raises(SnowflakeQueryError, match="execute_many failed"):
        sf.execute_many(
            "DELETE FROM customers WHERE CAST(%s AS INT) > 0 AND name = %s",
            [("1", "Ford"), ("not a number", "Marvin")],
        )
    assert sf.fetch_all("SELECT COUNT(*) FROM customers") == [(3,)]  # Ford is still there
