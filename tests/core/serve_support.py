"""Helpers of the serving tests: `orch serve` processes, and reading what they recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLOWS = """
import os
import time
from orch import flow


@flow
def tick(n: int = 0) -> int:
    return n


@flow
def slow(seconds: float = 2.0) -> float:
    time.sleep(seconds)
    return seconds


@flow
def marker(path: str, seconds: float = 0.0) -> str:
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(seconds)
    return path
"""

# Fast servers for tests: heartbeats every second (a dead server is found within ~8 s),
# and requests/pauses seen within 0.2 s.
FAST = {"ORCH_HEARTBEAT_SECONDS": "1", "ORCH_SERVE_POLL_SECONDS": "0.2"}


def write_flows(folder: Path) -> None:
    (folder / "servedflows.py").write_text(FLOWS)


def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, **FAST, **extra}
    out.setdefault("PYTHONUNBUFFERED", "1")
    return out


def orch(
    *args: str, cwd: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orch.cli.main", *args],
        cwd=cwd,
        env=env(**(extra or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_server(
    *args: str, cwd: Path, extra: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[str]:
    out = open(log or cwd / f"server-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "orch.cli.main", "serve", *args],
        cwd=cwd,
        env=env(**(extra or {})),
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_script(
    code: str, *, cwd: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    out = open(cwd / f"script-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env(**(extra or {})),
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen[str], timeout: float = 40) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait_for(check: Callable[[], Any], timeout: float = 30, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {check}")
        time.sleep(every)


def reset_store_cache() -> None:
    from orch.store import _stores

    for store in _stores.values():
        store.close()
    _stores.clear()


def slots(name: str, limit: int = 10_000) -> list[dict[str, Any]]:
    from orch.deployments.store import list_slots

    return list_slots(name, limit)


def server_ids(name: str) -> list[str]:
    from orch.deployments.store import live_servers

    return [s["id"] for s in live_servers() if name in s["deployments"]]
