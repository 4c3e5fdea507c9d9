"""The README's first command runs docs/examples/quickstart.py: it must work as written."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("tok-XYZ-123", "not-in-plain-text")


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "docs/examples/quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_quickstart_runs_the_etl_flow_and_never_prints_or_stores_a_secret(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "ORCH_HOME": str(home), "REPORTS_TOKEN": "tok-XYZ-123"}
    env.pop("ORCH_STORE_URL", None)
    out = _run(env)
    assert out.returncode == 0, out.stderr
    assert "loaded Secret(value=SecretStr(ref='env://REPORTS_TOKEN'))" in out.stdout
    assert "loaded Secret(value=SecretStr('**********'))" in out.stdout
    assert "token resolved from the environment: 11 characters" in out.stdout
    assert f"database: sqlite:///{home}/quickstart.sqlite" in out.stdout
    assert "loaded 10 orders; rejected 1007, 1011" in out.stdout
    summary = re.findall(r"^(US|FR|GB|DE) +(\d+) +(\d+) +([\d.]+)$", out.stdout, re.M)
    assert summary == [
        ("US", "3", "32", "348.00"),
        ("FR", "3", "16", "176.90"),
        ("GB", "2", "5", "96.60"),
        ("DE", "2", "8", "50.20"),
    ]
    run_id = re.search(r"^flow run id: ([0-9a-f]{32})$", out.stdout, re.M)
    assert run_id, out.stdout
    # The rows really are in the SQLite file the saved connector points at.
    with sqlite3.connect(home / "quickstart.sqlite") as conn:
        assert conn.execute("SELECT count(*), sum(quantity) FROM orders").fetchone() == (10, 61)
    for secret in SECRETS:
        assert secret not in out.stdout + out.stderr
        for f in home.iterdir():
            assert secret.encode() not in f.read_bytes(), f

    # Re-running works (blocks overwritten, table rebuilt) and is another flow run.
    again = _run(env)
    assert again.returncode == 0, again.stderr
    assert "loaded 10 orders" in again.stdout
    second = re.search(r"^flow run id: ([0-9a-f]{32})$", again.stdout, re.M)
    assert second and second.group(1) != run_id.group(1)
