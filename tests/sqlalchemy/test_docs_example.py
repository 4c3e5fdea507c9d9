"""The docs page's quick example runs as written: in the workspace venv, and in a fresh
venv where only ``pip install --find-links dist orch-sqlalchemy`` was run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "integrations" / "sqlalchemy.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_example_of_the_docs_page_runs(
    where: str, wheel_python: Callable[..., Path], tmp_path: Path
) -> None:
    python = sys.executable if where == "workspace" else str(wheel_python("orch-sqlalchemy"))
    section = PAGE.read_text().split("## Quick example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the Quick example section has no python block"
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home")}
    env.pop("ORCH_STORE_URL", None)
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[('DE', 12.0), ('FR', 27.75)]"
