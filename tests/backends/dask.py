"""Dask: a ``distributed.LocalCluster`` (2 worker processes, 1 thread each) for the
session, and a scheduler and a worker started as separate processes (``dask scheduler``,
``dask worker``), reached by address like a real deployment.

The workers run with no ``ORCH_*`` setting of their own: what they know of the store and
history comes from the driver with each call. They import the tests' task modules from
the repository root (on their ``sys.path``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open

ROOT = Path(__file__).resolve().parents[2]

SERVICE_OF_FIXTURE = {"dask_processes": "dask"}


@dataclass(frozen=True)
class DaskCluster:
    """A running cluster: the scheduler's address."""

    address: str


def _no_orch_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[DaskCluster]:
    """A LocalCluster of 2 worker processes for this session."""
    from distributed import LocalCluster

    saved = dict(os.environ)
    # The worker processes inherit the environment: none of this session's ORCH_* values.
    for key in [k for k in os.environ if k.startswith("ORCH_")]:
        del os.environ[key]
    try:
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
        )
    except Exception as exc:
        pytest.fail(f"distributed.LocalCluster could not start: {exc}", pytrace=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield DaskCluster(cluster.scheduler_address)
    cluster.close()


def _dask_cli() -> str:
    local = Path(sys.executable).parent / "dask"
    return str(local) if local.exists() else "dask"


@pytest.fixture(scope="session")
def dask_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """``dask scheduler`` and one ``dask worker`` (2 threads), as separate processes."""
    base = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**_no_orch_env(), "PYTHONPATH": str(ROOT)}
    scheduler = Service(
        name="dask",
        command=[
            _dask_cli(),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            ":0",
            "--scheduler-file",
            str(base / "scheduler.json"),
        ],
        ready=lambda: port_open(port),
        log_path=base / "scheduler.log",
        env=env,
        cwd=base,
    )
    _start_clean(scheduler, env)
    STARTED.append(scheduler)
    worker = Service(
        name="dask",
        command=[
            _dask_cli(),
            "worker",
            address,
            "--nthreads",
            "2",
            "--nworkers",
            "1",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
            "--local-directory",
            str(base / "w"),
        ],
        ready=lambda: _workers(base / "scheduler.json") >= 1,
        log_path=base / "worker.log",
        env=env,
        cwd=ROOT,
    )
    _start_clean(worker, env)
    yield DaskCluster(address)
    worker.stop()
    scheduler.stop()


def _start_clean(service: Service, env: dict[str, str]) -> None:
    """Start ``service`` with exactly ``env`` (Service.start adds os.environ's ORCH_*)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        service.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _workers(scheduler_file: Path) -> int:
    from distributed import Client

    info = json.loads(scheduler_file.read_text())
    with Client(info["address"], timeout=5, set_as_default=False) as client:
        return len(client.scheduler_info()["workers"])
