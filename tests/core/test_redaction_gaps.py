"""Redaction without gaps: secrets reach process-pool workers, escaped and long secrets,
run names built from a secret, and a user's exception printed by Python.

Each test checks what reaches the terminal (stderr) and what is stored in the run history.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from orch import flow, get_run_logger, history, task
from orch.secrets.redaction import MASK
from orch.secrets.types import SecretStr

from tests.core.runtime_support import flush_history, orch_cli, run_python, write_script

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]

# A PEM key (newlines) and a password holding both quotes and a backslash: their stored and
# %r forms are escaped. Each has a run of plain characters that every escaped form keeps,
# so looking for it finds the secret however it was escaped.
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "q9Xz0PlainRunOfBase64ForTheTest+/Zz0123456789abcdef\n"
    "-----END PRIVATE KEY-----\n"
)
PEM_MARKERS = ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", "PlainRunOfBase64")
QUOTED = "Qx7\"kL\\m9'zR\tunique-tail-8842"
QUOTED_MARKERS = ("unique-tail-8842", "m9%27zR")


def _stored_text(flow_run_id: str) -> str:
    """Everything the history holds about a flow run: the run, its task runs, its logs."""
    shown = history.get_flow_run(flow_run_id)
    assert shown is not None
    logs = history.get_logs(flow_run_id)
    # ensure_ascii=False: the stored text as it is, not escaped again.
    return json.dumps(shown, ensure_ascii=False) + "\n".join(r["message"] for r in logs)


def _assert_absent(text: str, markers: tuple[str, ...], where: str) -> None:
    for marker in markers:
        assert marker not in text, f"{marker!r} found in {where}: {text}"


def _store_files_clean(markers: tuple[str, ...]) -> None:
    for f in Path(os.environ["ORCH_HOME"]).rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for marker in markers:
                assert marker.encode() not in data, f


# --- process pool ---------------------------------------------------------------------------
POOL_TASKS = """
from orch import get_run_logger, task
from orch.secrets.types import SecretStr

@task
def leak(token: str) -> str:
    get_run_logger().info("worker got %s and %r", token, {"token": token})
    return "ok"

@task
def fail_with(token: str) -> None:
    raise PermissionError(f"login refused for {token}")

@task
def reveal_own() -> None:
    own = SecretStr("worker-own-secret-5151").get_secret_value()
    raise PermissionError(f"worker secret {own} refused")
"""

POOL_FLOW = """
import sys
from orch import ProcessPoolTaskRunner, flow, get_run_context, history
from orch.secrets.types import SecretStr
from pool_tasks import fail_with, leak, reveal_own

@flow(name="pool-secrets", task_runner=ProcessPoolTaskRunner(max_workers=1))
def main() -> None:
    print(get_run_context().flow_run.id, flush=True)
    first = SecretStr("first-parent-secret-4242").get_secret_value()
    assert leak.submit(first).result() == "ok"   # the worker process is running now
    # Revealed after the worker started: it must still learn it.
    later = SecretStr("later-parent-secret-7373").get_secret_value()
    assert leak.submit(later).result() == "ok"
    assert fail_with.submit(later).wait() is None
    reveal_own.submit().result()

if __name__ == "__main__":
    state = main(return_state=True)
    history.flush()
    print(state.name)
"""

POOL_SECRETS = ("first-parent-secret-4242", "later-parent-secret-7373", "worker-own-secret-5151")


def test_process_pool_workers_mask_the_secrets_the_parent_revealed(tmp_path: Path) -> None:
    write_script(tmp_path, "pool_tasks.py", POOL_TASKS)
    script = write_script(tmp_path, "pool_flow.py", POOL_FLOW)
    proc = run_python(script, timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_id, final = proc.stdout.split()
    assert final == "Failed"
    _assert_absent(proc.stderr, POOL_SECRETS, "the process's stderr")
    assert f"worker got {MASK} and {{'token': '{MASK}'}}" in proc.stderr
    assert f"PermissionError: login refused for {MASK}" in proc.stderr
    # The secret the worker revealed itself is masked in the parent too (its flow error).
    assert f"PermissionError: worker secret {MASK} refused" in proc.stderr
    stored = _stored_text(run_id)
    _assert_absent(stored, POOL_SECRETS, "the run history")
    assert stored.count(f"worker got {MASK}") == 2
    shown = history.get_flow_run(run_id)
    assert shown is not None
    assert shown["error"] == f"PermissionError: worker secret {MASK} refused"
    errors = sorted(t["error"] for t in shown["task_runs"] if t["error"])
    assert errors == [
        f"PermissionError: login refused for {MASK}",
        f"PermissionError: worker secret {MASK} refused",
    ]
    cli = orch_cli("runs", "logs", run_id)
    assert cli.returncode == 0 and f"worker got {MASK}" in cli.stdout
    _assert_absent(cli.stdout, POOL_SECRETS, "orch runs logs")
    _store_files_clean(POOL_SECRETS)


# --- escaped forms --------------------------------------------------------------------------
@task
def log_reprs(pem: str, password: str) -> None:
    logger = get_run_logger()
    logger.info("key %r", pem)
    logger.info("password %r in %r", password, {"password": password, "key": pem})
    logger.info("as json: %s", json.dumps({"key": pem, "password": password}))
    logger.info("as bytes: %r", pem.encode())
    logger.info("dsn postgresql://app:%s@db/prod", quote_plus(password))
    raise ValueError(f"bad credentials {password!r} / {pem!r}")


@flow(name="escaped-secrets")
def escaped_flow(pem: str, password: str, options: dict[str, Any]) -> None:
    log_reprs(pem, password)


def test_escaped_forms_of_a_secret_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    pem = SecretStr(PEM).get_secret_value()
    password = SecretStr(QUOTED).get_secret_value()
    state = escaped_flow(pem, password, {"nested": [password, pem]}, return_state=True)
    assert state.is_failed()
    err = capsys.readouterr().err
    markers = PEM_MARKERS + QUOTED_MARKERS
    _assert_absent(err, markers, "stderr")
    assert f"key '{MASK}'" in err and f"password '{MASK}' in {{'password'" in err
    assert f'as json: {{"key": "{MASK}", "password": "{MASK}"}}' in err
    assert f"as bytes: b'{MASK}'" in err
    assert f"dsn postgresql://app:{MASK}@db/prod" in err
    run_id = history.list_flow_runs(flow="escaped-secrets", limit=1)[0]["id"]
    stored = _stored_text(run_id)
    _assert_absent(stored, markers, "the run history")
    shown = history.get_flow_run(run_id)
    assert shown is not None
    assert shown["parameters"] == {
        "pem": f"'{MASK}'",
        "password": f"'{MASK}'",
        "options": f"{{'nested': ['{MASK}', '{MASK}']}}",
    }
    assert shown["error"] == f"ValueError: bad credentials '{MASK}' / '{MASK}'"
    _store_files_clean(markers)


# --- long secrets ---------------------------------------------------------------------------
def _fragments(secret: str, size: int = 12) -> tuple[str, ...]:
    return tuple(secret[i : i + size] for i in range(0, len(secret) - size + 1))


def test_long_secrets_are_masked_before_truncation() -> None:
    long_secret = SecretStr(secrets.token_hex(150)).get_secret_value()  # 300 characters
    assert len(long_secret) == 300

    class Holder:
        def __repr__(self) -> str:
            return f"Holder(token={long_secret!r}, padding={'p' * 300!r})"

    @flow(name="long-secret")
    def long_flow(token: str, wrapped: str, rows: list[str], holder: Any) -> None:
        raise RuntimeError(f"denied: {token}")

    wrapped = "x" * 150 + long_secret + "y" * 150  # the secret straddles the cut
    state = long_flow(long_secret, wrapped, ["a", long_secret], Holder(), return_state=True)
    assert state.is_failed()
    run_id = history.list_flow_runs(flow="long-secret", limit=1)[0]["id"]
    stored = _stored_text(run_id)
    _assert_absent(stored, _fragments(long_secret), "the run history")
    shown = history.get_flow_run(run_id)
    assert shown is not None
    params = shown["parameters"]
    assert params["token"] == f"'{MASK}'" and params["rows"] == f"['a', '{MASK}']"
    # masked, then cut: what is kept of it is the text around the secret
    assert params["wrapped"].startswith("'xxxx") and params["wrapped"].endswith("yyyy'")
    assert len(params["wrapped"]) <= 200 and len(params["holder"]) <= 200
    assert params["holder"].startswith(f"Holder(token='{MASK}'")
    assert shown["error"] == f"RuntimeError: denied: {MASK}"


# --- run names ------------------------------------------------------------------------------
@task(task_run_name="fetch-{token}")
def named_task(token: str) -> int:
    return len(token)


@task(task_run_name=lambda: "call-" + SecretStr("callable-name-secret-66").get_secret_value())
def callable_named_task() -> int:
    return 1


@flow(name="named-by-secret", flow_run_name="login-{token}")
def named_flow(token: str) -> int:
    return named_task(token) + callable_named_task()


def test_run_names_built_from_a_secret_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    token = SecretStr("name-secret-9191").get_secret_value()
    assert named_flow(token) == len(token) + 1
    err = capsys.readouterr().err
    names = ("name-secret-9191", "callable-name-secret-66")
    _assert_absent(err, names, "stderr")
    assert f"Flow run 'login-{MASK}' - Beginning flow run 'login-{MASK}'" in err
    run_id = history.list_flow_runs(flow="named-by-secret", limit=1)[0]["id"]
    shown = history.get_flow_run(run_id)
    assert shown is not None
    assert shown["name"] == f"login-{MASK}"
    assert sorted(t["name"] for t in shown["task_runs"]) == [f"call-{MASK}", f"fetch-{MASK}"]


def test_a_failing_task_named_by_a_secret_has_a_masked_label(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @task(task_run_name="job-{token}")
    def failing(token: str) -> None:
        raise RuntimeError("nope")

    @flow
    def f(token: str) -> None:
        failing(token)

    token = SecretStr("label-secret-3030").get_secret_value()
    assert f(token, return_state=True).is_failed()
    err = capsys.readouterr().err
    assert "label-secret-3030" not in err
    assert f"Task run 'job-{MASK}' - Finished in state Failed: RuntimeError: nope" in err


# --- a user's exception printed by Python -----------------------------------------------------
UNCAUGHT = """
import sys, threading
from orch import flow, task
from orch.secrets.types import SecretStr

@task
def connect(password: str) -> None:
    raise PermissionError(f"login refused for password {password}")

@flow(name="uncaught")
def main() -> None:
    connect(SecretStr("uncaught-secret-2468").get_secret_value())

if sys.argv[1] == "thread":
    def in_thread() -> None:
        raise KeyError(SecretStr("thread-secret-1357").get_secret_value())
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    sys.exit(0)
main()
"""


def test_an_uncaught_exception_holding_a_secret_is_masked_on_the_terminal(
    tmp_path: Path,
) -> None:
    script = write_script(tmp_path, "uncaught.py", UNCAUGHT)
    proc = run_python(script, "flow")
    assert proc.returncode == 1
    assert "uncaught-secret-2468" not in proc.stderr, proc.stderr
    # orch's own lines and Python's traceback, both masked.
    assert f"Finished in state Failed: PermissionError: login refused for password {MASK}" in (
        proc.stderr
    )
    assert "Traceback (most recent call last):" in proc.stderr
    assert proc.stderr.rstrip().endswith(f"PermissionError: login refused for password {MASK}"), (
        proc.stderr
    )
    assert re.search(r'File ".*uncaught\.py", line \d+, in connect', proc.stderr)

    proc = run_python(script, "thread")
    assert proc.returncode == 0
    assert "thread-secret-1357" not in proc.stderr, proc.stderr
    assert f"KeyError: '{MASK}'" in proc.stderr


def test_the_exception_object_itself_is_left_as_raised() -> None:
    """Masking is for output: code that catches the error still gets its own message."""
    token = SecretStr("caught-secret-8080").get_secret_value()

    @flow
    def f() -> None:
        raise PermissionError(f"refused {token}")

    with pytest.raises(PermissionError) as caught:
        f()
    assert str(caught.value) == f"refused {token}"


def test_redact_is_unchanged_without_secrets() -> None:
    from orch.secrets import redaction

    text = "a line with 'quotes' and \\ backslashes\n" * 3
    assert redaction.redact(text) is text
    assert not redaction.revealed()


def test_a_flow_parameter_typed_dict_of_any_is_accepted() -> None:
    """``dict[str, Any]`` parameters used to raise TypeError (isinstance(x, Any))."""

    @flow
    def f(options: dict[str, Any]) -> int:
        return len(options)

    assert f({"a": 1, "b": [2]}) == 2
