"""moto in server mode: S3, Secrets Manager, STS (and the rest of AWS's APIs) on loopback.

One server per test session; tests isolate themselves with unique bucket and secret
names. boto3 reaches it through ``endpoint_url``.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open, require_executable


def _moto_executable() -> str:
    # The tests may run as .venv/bin/pytest without the venv on PATH.
    local = Path(sys.executable).parent / "moto_server"
    if local.exists():
        return str(local)
    return require_executable("moto_server", "add `moto[server]` to the dev dependency group")


def _answers(port: int) -> bool:
    if not port_open(port):
        return False
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=2) as r:
        return bool(r.status == 200)


def _start(base: Path, name: str, env: dict[str, str] | None = None) -> tuple[Service, str]:
    port = free_port()
    service = Service(
        name=name,
        command=[_moto_executable(), "-H", "127.0.0.1", "-p", str(port)],
        ready=lambda: _answers(port),
        log_path=base / f"{name}.log",
        env=env,
    ).start()
    STARTED.append(service)
    return service, f"http://127.0.0.1:{port}"


# session fixture → the service it starts (its log is shown when a test using it fails)
SERVICE_OF_FIXTURE = {"moto_server": "moto", "moto_iam_server": "moto-iam"}


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Endpoint URL of a moto server for this session (no IAM checks: any key works)."""
    service, url = _start(tmp_path_factory.mktemp("moto"), "moto")
    yield url
    service.stop()


@pytest.fixture(scope="session")
def moto_iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second moto server that enforces IAM: the first 2 requests are free (to create a
    user and its keys), then every request is authenticated and authorised."""
    service, url = _start(
        tmp_path_factory.mktemp("moto-iam"), "moto-iam", env={"INITIAL_NO_AUTH_ACTION_COUNT": "2"}
    )
    yield url
    service.stop()
