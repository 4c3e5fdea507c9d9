"""The real-service harness of tests/backends/: a service that cannot start fails loudly
with its log, a failing test shows the logs of the services started for it, and the
session stops every service it started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.backends.service import STARTED, Service, port_open

ROOT = Path(__file__).resolve().parents[2]


def test_a_service_that_exits_fails_loudly_with_its_log(tmp_path: Path) -> None:
    service = Service(
        name="Broken",
        command=["sh", "-c", "echo 'cannot bind: boom-in-the-log'; exit 3"],
        ready=lambda: False,
        log_path=tmp_path / "broken.log",
    )
    with pytest.raises(pytest.fail.Exception) as info:
        service.start()
    message = str(info.value)
    assert "Broken exited with code 3 before it was ready" in message
    assert "cannot bind: boom-in-the-log" in message


def test_a_service_never_ready_is_stopped_and_fails(tmp_path: Path) -> None:
    service = Service(
        name="Sleepy",
        command=["sh", "-c", "echo 'still warming up'; exec sleep 60"],
        ready=lambda: False,
        log_path=tmp_path / "sleepy.log",
        startup_timeout=0.5,
    )
    with pytest.raises(pytest.fail.Exception, match=r"(?s)Sleepy was not ready.*warming up"):
        service.start()
    assert service.process is not None
    assert service.process.poll() is not None  # the process it started is gone
    assert service not in STARTED


def test_session_shows_logs_of_failing_tests_and_stops_what_it_started(tmp_path: Path) -> None:
    """A whole pytest session with throwaway PostgreSQL and MariaDB servers (forced even
    where servers already run): a failing test carries both logs, and both servers are
    stopped when the session ends, whichever was started first."""
    out = tmp_path / "urls.json"
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.backends.plugin"]\n')
    (tmp_path / "test_uses_servers.py").write_text(
        textwrap.dedent(
            f"""
            import json

            def test_fails_on_purpose(pg_server, mariadb_server):
                with open({str(out)!r}, "w") as f:
                    json.dump({{"pg": pg_server, "mariadb": mariadb_server}}, f)
                assert False, "failing on purpose"

            def test_only_pg_fails(pg_server):
                assert False, "failing with PostgreSQL only"
            """
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ORCH_TEST_PG_THROWAWAY": "1",
        "ORCH_TEST_MARIADB_THROWAWAY": "1",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 failed" in run.stdout, run.stdout
    first, _, second = run.stdout.partition("test_only_pg_fails ___")
    assert "PostgreSQL log" in first and "MariaDB log" in first, run.stdout
    # a test shows the logs of the services it used, not of every one running
    second = second.split("short test summary")[0]
    assert "PostgreSQL log" in second and "MariaDB log" not in second, run.stdout
    urls = json.loads(out.read_text())
    ports = {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}
    assert 5432 not in ports.values() and 3306 not in ports.values()  # throwaway ones
    still_up = [name for name, port in ports.items() if port_open(port)]
    assert still_up == [], f"the session left {still_up} running"
