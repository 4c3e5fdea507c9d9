"""docs/examples/nightly_etl.py (the schedules page's example) as a new user runs it: in a
fresh venv with `pip install orch-sqlalchemy` from the wheels, served by
`python nightly_etl.py`, run now from another shell, and stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs/examples/nightly_etl.py"


def test_the_nightly_etl_example_serves_and_runs_on_request(
    wheel_python: Callable[..., Path], orch_home: Path, tmp_path: Path
) -> None:
    py = wheel_python("orch-sqlalchemy")
    orch = py.parent / "orch"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.update(ORCH_HOME=str(orch_home), ORCH_SERVE_POLL_SECONDS="0.2")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(py), str(EXAMPLE)], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "serving nightly-etl" not in log.read_text():
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        listed = subprocess.run(
            [str(orch), "deployments", "ls", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        (deployment,) = json.loads(listed.stdout)
        assert deployment["schedule"] == {"cron": "0 2 * * *", "timezone": "Europe/Paris"}
        assert deployment["catch_up"] == 1 and len(deployment["servers"]) == 1
        for _ in range(2):  # twice: the upserts make a re-run harmless
            ran = subprocess.run(
                [
                    str(orch),
                    "deployments",
                    "run",
                    "nightly-etl",
                    "--param",
                    "day=2026-11-29",
                    "--wait",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert ran.returncode == 0, ran.stderr + log.read_text()
            assert "completed" in ran.stdout
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "loaded 2026-11-29: sales for 3 countries" in log.read_text()
    with sqlite3.connect(orch_home / "warehouse.db") as db:
        rows = db.execute("SELECT country, COUNT(*) FROM daily_sales GROUP BY country").fetchall()
    assert sorted(rows) == [("DE", 1), ("FR", 1), ("IT", 1)]
    runs = subprocess.run(
        [str(orch), "runs", "ls", "--deployment", "nightly-etl", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert runs.stdout.count('"deployment": "nightly-etl"') == 2
