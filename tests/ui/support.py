"""Start `orch ui` as a user would (the CLI, in its own process) and fill a store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.backends.service import free_port, port_open

SECRET = "hunter2-Very-Secret-0042"


@contextmanager
def running_ui(
    *args: str, env: dict[str, str] | None = None, host: str = "127.0.0.1", python: str = ""
) -> Iterator[str]:
    """The base URL of an `orch ui` serving the current ORCH_HOME (stopped afterwards)."""
    port = free_port()
    log = Path(os.environ["ORCH_HOME"]).parent / f"ui-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "orch.cli.main", "ui",
             "--host", host, "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"orch ui did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get(base: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(base + path, timeout=10, **kwargs)  # type: ignore[arg-type]
