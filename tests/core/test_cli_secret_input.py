"""Secrets given to ``orch block create`` stay out of argv; ``inspect`` works without the key."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from pathlib import Path

from orch import Block
from orch.store.crypto import encode_key, new_key

from tests.core.test_cli import orch

PW = "pw-Secret-4711-xyz"
PW2 = "second-Secret-0815"


def _load(name: str) -> Block:
    return Block.load(name)


def _password(name: str) -> str:
    value = _load(name).password  # type: ignore[attr-defined]
    return str(value.get_secret_value())


def _assert_not_shown(result: object, *secrets: str) -> None:
    out = result.stdout + result.stderr  # type: ignore[attr-defined]
    for secret in secrets:
        assert secret not in out


# --- reading secret fields from stdin ------------------------------------------------


def test_set_secret_reads_one_line_from_stdin() -> None:
    created = orch(
        *("block", "create", "database-credentials", "prod"),
        *("--set", "driver=postgresql", "--set", "host=db", "--set-secret", "password"),
        stdin=f"{PW}\n",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "saved database-credentials/prod"
    assert created.stderr == ""  # no warning: the secret never was on the command line
    _assert_not_shown(created, PW)
    assert _password("database-credentials/prod") == PW
    assert _load("database-credentials/prod").host == "db"  # type: ignore[attr-defined]


def test_set_field_dash_reads_stdin() -> None:
    created = orch(
        *("block", "create", "database-credentials", "dash"),
        *("--set", "driver=sqlite", "--set", "password=-"),
        stdin=f"{PW}\r\n",
    )
    assert created.returncode == 0, created.stderr
    assert created.stderr == ""
    _assert_not_shown(created, PW)
    assert _password("database-credentials/dash") == PW


def test_several_set_secret_read_one_line_each_in_order() -> None:
    created = orch(
        *("block", "create", "aws-credentials", "keys"),
        *("--set-secret", "aws_secret_access_key", "--set-secret", "aws_access_key_id"),
        stdin=f"{PW}\n{PW2}\n",
    )
    assert created.returncode == 0, created.stderr
    _assert_not_shown(created, PW, PW2)
    block = _load("aws-credentials/keys")
    assert block.aws_secret_access_key.get_secret_value() == PW  # type: ignore[attr-defined]
    assert block.aws_access_key_id.get_secret_value() == PW2  # type: ignore[attr-defined]


def test_missing_or_empty_stdin_line_is_a_clear_error() -> None:
    short = orch(
        *("block", "create", "aws-credentials", "short"),
        *("--set-secret", "aws_access_key_id", "--set-secret", "aws_secret_access_key"),
        stdin=f"{PW}\n",
    )
    assert short.returncode == 1
    assert short.stderr == (
        "error: --set-secret aws_secret_access_key: no line left on stdin "
        "(one line per secret field, in the order given)\n"
    )
    _assert_not_shown(short, PW)
    empty = orch(
        *("block", "create", "database-credentials", "empty"),
        *("--set", "driver=sqlite", "--set-secret", "password"),
        stdin="\n",
    )
    assert empty.returncode == 1
    assert empty.stderr == "error: --set-secret password: the line read from stdin is empty\n"
    assert json.loads(orch("block", "ls", "--json").stdout) == []


def test_set_secret_on_a_field_that_is_not_secret_is_refused() -> None:
    refused = orch(
        *("block", "create", "database-credentials", "x"),
        *("--set", "driver=sqlite", "--set-secret", "host"),
        stdin="db\n",
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: --set-secret host: database-credentials field 'host' is not a secret field "
        "(secret fields: password, url)\n"
    )
    twice = orch(
        *("block", "create", "database-credentials", "x"),
        *("--set", "driver=sqlite", "--set", f"password={PW}", "--set-secret", "password"),
        stdin=f"{PW}\n",
    )
    assert twice.returncode == 1
    assert twice.stderr == "error: field 'password' is given more than once\n"


# --- a literal secret on the command line still works, with a warning ----------------


def test_literal_secret_in_argv_warns_without_echoing_it() -> None:
    created = orch(
        *("block", "create", "database-credentials", "lit"),
        *("--set", "driver=postgresql", "--set", f"password={PW}"),
    )
    assert created.returncode == 0, created.stderr
    assert created.stderr == (
        "warning: --set password=… puts a secret on the command line, where shell history "
        "and the process list can show it; use --set-secret password to type it at a hidden "
        "prompt or pipe it on stdin (or --ref password=SCHEME://… for a reference)\n"
    )
    _assert_not_shown(created, PW)
    assert _password("database-credentials/lit") == PW


def test_references_on_the_command_line_need_no_warning() -> None:
    by_ref = orch(
        *("block", "create", "database-credentials", "r1"),
        *("--set", "driver=postgresql", "--ref", "password=env://DB_PW"),
    )
    by_set = orch(
        *("block", "create", "database-credentials", "r2"),
        *("--set", "driver=postgresql", "--set", "password=env://DB_PW"),
    )
    for result in (by_ref, by_set):
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    for name in ("database-credentials/r1", "database-credentials/r2"):
        password = _load(name).password  # type: ignore[attr-defined]
        assert str(password.reference) == "env://DB_PW"


def test_set_secret_prompts_with_hidden_input_on_a_terminal(orch_home: Path) -> None:
    argv = [sys.executable, "-m", "orch.cli.main", "block", "create", "database-credentials"]
    argv += ["tty", "--set", "driver=sqlite", "--set-secret", "password"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: orch on a terminal
        os.execve(argv[0], argv, {**os.environ, "ORCH_HOME": str(orch_home)})
    seen = _read_until(fd, b"password: ")
    os.write(fd, f"{PW}\n".encode())
    seen += _read_until(fd, None)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"saved database-credentials/tty" in seen
    assert PW.encode() not in seen  # not echoed by the terminal, not printed
    assert _password("database-credentials/tty") == PW


def _read_until(fd: int, marker: bytes | None, timeout: float = 30) -> bytes:
    """Read the terminal until ``marker`` shows (or until it closes, for ``None``)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if marker is not None and marker in seen:
            return seen
    assert marker is None, f"no {marker!r} on the terminal: {seen!r}"
    return seen


# --- inspect without the key ------------------------------------------------------------


def _save_keys_block() -> None:
    created = orch(
        *("block", "create", "aws-credentials", "mixed"),
        *("--ref", "aws_access_key_id=env://AK_ID", "--set-secret", "aws_secret_access_key"),
        *("--set", "region_name=eu-west-1"),
        stdin=f"{PW}\n",
    )
    assert created.returncode == 0, created.stderr


def test_inspect_without_any_key_shows_the_masked_document(orch_home: Path) -> None:
    _save_keys_block()
    (orch_home / "secret.key").unlink()
    shown = orch("block", "inspect", "aws-credentials/mixed", "--json")
    assert shown.returncode == 0, shown.stderr
    _assert_not_shown(shown, PW)
    data = json.loads(shown.stdout)
    assert data["name"] == "aws-credentials/mixed"
    assert data["revision"] == 1
    assert data["integrity"] == "not verified (no key)"
    assert data["fields"]["aws_secret_access_key"] == "**********"
    assert data["fields"]["aws_access_key_id"] == "<reference env://AK_ID>"
    assert data["fields"]["region_name"] == "eu-west-1"
    table = orch("block", "inspect", "mixed")
    assert table.returncode == 0, table.stderr
    _assert_not_shown(table, PW)
    assert "integrity: not verified (no key)" in table.stdout
    assert "<reference env://AK_ID>" in table.stdout and "**********" in table.stdout


def test_inspect_with_a_wrong_key_shows_the_masked_document() -> None:
    _save_keys_block()
    wrong = {"ORCH_SECRET_KEY": encode_key(new_key())}
    shown = orch("block", "inspect", "aws-credentials/mixed", "--json", env=wrong)
    assert shown.returncode == 0, shown.stderr
    _assert_not_shown(shown, PW)
    data = json.loads(shown.stdout)
    assert data["integrity"] == "not verified (wrong key)"
    assert data["fields"]["aws_secret_access_key"] == "**********"


def test_inspect_with_the_key_says_verified() -> None:
    _save_keys_block()
    data = json.loads(orch("block", "inspect", "aws-credentials/mixed", "--json").stdout)
    assert data["integrity"] == "verified"
    assert data["fields"]["aws_secret_access_key"] == "**********"
    assert data["fields"]["aws_access_key_id"] == "<reference env://AK_ID>"


def test_inspect_without_key_shows_nested_blocks_as_names(orch_home: Path) -> None:
    assert (
        orch(
            *("block", "create", "database-credentials", "wh"),
            *("--set", "driver=postgresql", "--set-secret", "password"),
            stdin=f"{PW}\n",
        ).returncode
        == 0
    )
    connector = orch(
        *("block", "create", "sqlalchemy-connector", "etl"),
        *("--set", "credentials=wh", "--set", "pool_size=3"),
    )
    assert connector.returncode == 0, connector.stderr
    (orch_home / "secret.key").unlink()
    shown = orch("block", "inspect", "sqlalchemy-connector/etl", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["fields"]["credentials"] == "<block database-credentials/wh>"
    assert data["fields"]["pool_size"] == 3
    _assert_not_shown(shown, PW)


def test_inspect_with_another_key_changes_nothing(orch_home: Path) -> None:
    from orch.blocks.block_store import open_block_store
    from orch.store.meta import get_meta

    created = orch("block", "create", "secret", "gh", "--ref", "value=env://GH_TOKEN")
    assert created.returncode == 0, created.stderr
    # Every saved row is signed, so even a block holding only a reference fixes the key.
    recorded = get_meta(open_block_store(), "key_id")
    key_file = (orch_home / "secret.key").read_text()
    some_key = {"ORCH_SECRET_KEY": encode_key(new_key())}
    shown = orch("block", "inspect", "secret/gh", "--json", env=some_key)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["fields"]["value"] == "<reference env://GH_TOKEN>"
    assert data["integrity"] == "not verified (wrong key)"
    # read-only: the store's key and its key file are as they were
    assert recorded is not None and get_meta(open_block_store(), "key_id") == recorded
    assert (orch_home / "secret.key").read_text() == key_file


def test_inspect_without_key_on_either_store(any_store: str, orch_home: Path) -> None:
    _save_keys_block()
    (orch_home / "secret.key").unlink()
    shown = orch("block", "inspect", "aws-credentials/mixed", "--json")
    assert shown.returncode == 0, shown.stderr
    _assert_not_shown(shown, PW)
    data = json.loads(shown.stdout)
    assert data["integrity"] == "not verified (no key)"
    assert data["fields"]["aws_secret_access_key"] == "**********"
    missing = orch("block", "inspect", "aws-credentials/nope")
    assert missing.returncode == 1
    assert missing.stderr == "error: no aws-credentials block named 'nope' is saved\n"
