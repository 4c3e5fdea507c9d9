"""bqemulator: BigQuery's REST API on loopback, backed by DuckDB.

Its sqlglot pin conflicts with fakesnow's, so it cannot live in the workspace's venv: the
first session that needs it makes its own venv under ``.cache/bqemulator-venv`` in the
clone with uv (``bqemulator`` + ``numpy``; about 20 s from a cold uv cache, instant
afterwards), and runs it through ``_bqemulator_launch.py``, which skips DuckDB's
``spatial`` extension (bqemulator would download it). One ephemeral server per session;
tests isolate themselves with unique dataset names. Clients use anonymous credentials and
``client_options={"api_endpoint": URL}``. Multipart uploads are refused (400): load
through resumable uploads; a CSV load drops its first row (the header, when
``skip_leading_rows=1``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "bqemulator-venv"
# What the venv holds; a change here makes the next session build it again.
REQUIREMENTS = ("bqemulator>=1.4,<1.5", "numpy>=1.26")
LAUNCHER = Path(__file__).with_name("_bqemulator_launch.py")
PROJECT = "bq-test"


def _uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    if local.exists():
        return str(local)
    found = shutil.which("uv")
    if not found:
        pytest.fail("uv is needed to make bqemulator's venv: run scripts/test", pytrace=False)
    return found


def bqemulator_python(log: Path) -> Path:
    """The python of bqemulator's own venv, made (once per clone) if need be."""
    python = VENV / "bin" / "python"
    marker = VENV / "orch-requirements.txt"
    wanted = "\n".join(REQUIREMENTS)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with (VENV.parent / "bqemulator-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions at once make it once
        if python.exists() and marker.exists() and marker.read_text() == wanted:
            return python
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        env.pop("UV_PROJECT_ENVIRONMENT", None)
        started = time.monotonic()
        with log.open("ab") as out:
            for command in (
                [_uv(), "venv", "--quiet", "--clear", "--python", sys.executable, str(VENV)],
                [_uv(), "pip", "install", "--quiet", "--python", str(python), *REQUIREMENTS],
            ):
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
                if done.returncode != 0:
                    pytest.fail(
                        f"making bqemulator's venv failed: {' '.join(command)}\n"
                        f"{log.read_text(errors='replace')[-3000:]}",
                        pytrace=False,
                    )
            out.write(f"bqemulator venv made in {time.monotonic() - started:.1f} s\n".encode())
        marker.write_text(wanted)
    return python


def _answers(port: int) -> bool:
    if not port_open(port):
        return False
    url = f"http://127.0.0.1:{port}/bigquery/v2/projects/{PROJECT}/datasets"
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


# session fixture → the service it starts (its log is shown when a test using it fails)
SERVICE_OF_FIXTURE = {"bigquery_server": "bqemulator"}


@pytest.fixture(scope="session")
def bigquery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a bqemulator for this session (any project; anonymous access)."""
    base = tmp_path_factory.mktemp("bqemulator")
    python = bqemulator_python(base / "bqemulator-venv.log")
    port = free_port()
    service = Service(
        name="bqemulator",
        command=[
            str(python),
            str(LAUNCHER),
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(port),
            "--grpc-port",
            "0",
            "--project",
            PROJECT,
            "--log-level",
            "warning",
        ],
        ready=lambda: _answers(port),
        log_path=base / "bqemulator.log",
        startup_timeout=120.0,
    ).start()
    STARTED.append(service)
    yield f"http://127.0.0.1:{port}"
    service.stop()
