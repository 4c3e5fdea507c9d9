"""The quick start of docs/integrations/gcp.md runs as written, in a fresh process, with
only the emulators' URLs in the environment: in the workspace, and in a fresh venv where
only ``pip install --find-links dist 'orch-gcp[secret-manager]'`` was run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "gcp.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str,
    wheel_python: Callable[..., Path],
    gcs_server: str,
    gcp_secret_manager: Any,
    tmp_path: Path,
) -> None:
    python = (
        sys.executable if where == "workspace" else str(wheel_python("orch-gcp[secret-manager]"))
    )
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        STORAGE_EMULATOR_HOST=gcs_server,
        SECRET_MANAGER_EMULATOR_HOST=gcp_secret_manager.url,
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "['2024/06/orders.csv']"
    assert lines[-1] == "ok"
