"""The quick start of docs/integrations/dask.md runs as written, as a script, in a fresh
process (in the workspace, and in a fresh venv where only the wheel was installed): it
starts its own LocalCluster and stops it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "dask.md"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(where: str, wheel_python: Callable[..., Path], tmp_path: Path) -> None:
    python = sys.executable if where == "workspace" else str(wheel_python("orch-dask"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    script = tmp_path / "squares.py"
    script.write_text(code.group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.pop("PYTHONPATH", None)
    env["ORCH_HOME"] = str(tmp_path / "home")
    out = subprocess.run(
        [python, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "285"
