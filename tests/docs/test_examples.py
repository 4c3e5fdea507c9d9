"""The README's first command runs docs/examples/quickstart.py: it must work as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_and_never_prints_or_stores_a_secret(tmp_path: Path) -> None:
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home"), "REPORTS_TOKEN": "tok-XYZ-123"}
    env.pop("ORCH_STORE_URL", None)
    out = subprocess.run(
        [sys.executable, str(ROOT / "docs/examples/quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "token=SecretStr(ref='env://REPORTS_TOKEN')" in out.stdout
    assert "token resolved from the environment: 11 characters" in out.stdout
    for secret in ("tok-XYZ-123", "not-in-plain-text"):
        assert secret not in out.stdout + out.stderr
        for f in (tmp_path / "home").iterdir():
            assert secret.encode() not in f.read_bytes(), f
