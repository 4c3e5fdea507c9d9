"""Azurite (Azure Storage's emulator) serving Blob Storage on loopback.

Azurite 3.35 comes from npm through ``tests/package.json`` (3.37 needs Node 22): scripts/test
runs ``npm ci`` there, and this fixture does it too when ``tests/node_modules`` is missing
(a focused run in a fresh clone). One in-memory server per test session; tests isolate
themselves with unique container names. ``--skipApiVersionCheck``: azure-storage-blob
12.31 speaks a newer API version than Azurite 3.35 knows.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open, require_executable

TESTS = Path(__file__).resolve().parents[1]
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key (public, in Azure's documentation).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def connection_string(blob_url: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={blob_url};"
    )


def ensure_azurite() -> Path:
    """The ``azurite-blob`` launcher of tests/node_modules, installed with ``npm ci`` from
    tests/package-lock.json when missing."""
    launcher = TESTS / "node_modules" / ".bin" / "azurite-blob"
    if not launcher.exists():
        npm = require_executable("npm", "install Node.js 20 and npm (Debian: nodejs, npm)")
        started = time.monotonic()
        out = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TESTS,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0 or not launcher.exists():
            pytest.fail(
                f"npm ci in {TESTS} failed (azurite for the Azure Blob tests):\n"
                f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}",
                pytrace=False,
            )
        print(f"azurite installed with npm ci in {time.monotonic() - started:.1f} s")
    require_executable("node", "install Node.js 20 (Debian: nodejs)")
    return launcher


SERVICE_OF_FIXTURE = {"azurite_blob": "azurite"}


@pytest.fixture(scope="session")
def azurite_blob(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Blob endpoint of an Azurite server for this session:
    ``http://127.0.0.1:PORT/devstoreaccount1``."""
    launcher = ensure_azurite()
    base = tmp_path_factory.mktemp("azurite")
    port = free_port()
    service = Service(
        name="azurite",
        command=[
            str(launcher),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ],
        ready=lambda: port_open(port),
        log_path=base / "azurite.log",
        cwd=base,
    ).start()
    STARTED.append(service)
    yield f"http://127.0.0.1:{port}/{ACCOUNT}"
    service.stop()
    shutil.rmtree(base, ignore_errors=True)
