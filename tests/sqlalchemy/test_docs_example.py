"""The docs page's quick example runs as written (the issue asks for it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "integrations" / "sqlalchemy.md"


def test_quick_example_of_the_docs_page_runs(tmp_path: Path) -> None:
    section = PAGE.read_text().split("## Quick example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the Quick example section has no python block"
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home")}
    env.pop("ORCH_STORE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[('DE', 12.0), ('FR', 27.75)]"


def test_wheel_installs_in_a_fresh_venv_and_runs_the_example(tmp_path: Path) -> None:
    import shutil

    uv = ROOT / ".tools" / "bin" / "uv"
    uv_cmd = str(uv) if uv.exists() else shutil.which("uv")
    assert uv_cmd, "uv is needed to build wheels: run scripts/test, which installs it"
    dist = tmp_path / "dist"
    build_env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    for package in ("orch-core", "orch-sqlalchemy"):
        subprocess.run(
            [uv_cmd, "build", "--quiet", "--wheel", "--package", package, "--out-dir", str(dist)],
            cwd=ROOT,
            check=True,
            env=build_env,
        )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--find-links",
            str(dist),
            "orch-sqlalchemy",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    section = PAGE.read_text().split("## Quick example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home")}
    env.pop("ORCH_STORE_URL", None)
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code.group(1)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[('DE', 12.0), ('FR', 27.75)]"
