"""The GCS emulator (pip ``gcp-storage-emulator``): Cloud Storage's JSON API on loopback.

One in-memory server per test session, on a free port; tests isolate themselves with
unique bucket names. Clients reach it with anonymous credentials and
``client_options={"api_endpoint": URL}`` (``GcpCredentials(anonymous=True,
endpoints={"storage": URL})``). It ignores ``page_size`` (one page).
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open, require_executable


def _executable() -> str:
    # The tests may run as .venv/bin/pytest without the venv on PATH.
    local = Path(sys.executable).parent / "gcp-storage-emulator"
    if local.exists():
        return str(local)
    return require_executable(
        "gcp-storage-emulator", "add `gcp-storage-emulator` to orch-gcp's test dependency group"
    )


def _answers(port: int) -> bool:
    if not port_open(port):
        return False
    url = f"http://127.0.0.1:{port}/storage/v1/b?project=test"
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


# session fixture → the service it starts (its log is shown when a test using it fails)
SERVICE_OF_FIXTURE = {"gcs_server": "gcs-emulator"}


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a GCS emulator for this session (anonymous access)."""
    port = free_port()
    service = Service(
        name="gcs-emulator",
        command=[
            _executable(),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
        ],
        ready=lambda: _answers(port),
        log_path=tmp_path_factory.mktemp("gcs") / "gcs-emulator.log",
    ).start()
    STARTED.append(service)
    yield f"http://127.0.0.1:{port}"
    service.stop()
