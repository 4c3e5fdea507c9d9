"""The quick start of docs/integrations/azure.md runs as written, in a fresh process, with
only AZURE_STORAGE_CONNECTION_STRING pointing it at the Azurite server; once in the
workspace, once in a fresh venv where only `pip install --find-links dist orch-azure` ran."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends.azurite import connection_string

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "azure.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str, wheel_python: Callable[..., Path], azurite_blob: str, tmp_path: Path
) -> None:
    python = sys.executable if where == "workspace" else str(wheel_python("orch-azure"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        AZURE_STORAGE_CONNECTION_STRING=connection_string(azurite_blob),
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "['2024/06/orders.csv']"
    assert lines[-1] == "ok"
    assert "Request URL" not in out.stderr  # the SDK's HTTP lines stay quiet
