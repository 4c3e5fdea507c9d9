"""The quick start of docs/integrations/mlflow.md runs as written, in a fresh process (in
the workspace, and in a fresh venv where only the wheel was installed), with only
MLFLOW_URL pointing it at the session's MLflow server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends.mlflow import MlflowServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "mlflow.md"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str, wheel_python: Callable[..., Path], mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    # "fresh-wheel-venv": only `pip install --find-links dist orch-mlflow` was run there.
    python = sys.executable if where == "workspace" else str(wheel_python("orch-mlflow"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "ORCH_"))}
    env.update(ORCH_HOME=str(tmp_path / "home"), MLFLOW_URL=mlflow_server.url)
    out = subprocess.run(
        [python, "-c", code.group(1)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if not line.startswith(("🏃", "🧪"))]
    assert lines == ["3", "0.125 sweep"]
