"""Wheels as a user installs them: every distribution built once per session into a
wheelhouse, and fresh venvs made with ``pip install --find-links WHEELHOUSE <requirement>``.

The fixtures are registered in tests/conftest.py, so any package's tests can run their
docs example in the interpreter a new user would have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the wheel of every distribution of the workspace."""
    out = tmp_path_factory.mktemp("dist")
    uv = ROOT / ".tools" / "bin" / "uv"
    uv_cmd = str(uv) if uv.exists() else shutil.which("uv")
    assert uv_cmd, "uv is needed to build wheels: run scripts/test, which installs it"
    subprocess.run(
        [uv_cmd, "build", "--quiet", "--all-packages", "--wheel", "--out-dir", str(out)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    return out


@pytest.fixture(scope="session")
def wheel_python(
    tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path
) -> Callable[..., Path]:
    """``wheel_python("orch-aws")``: the python of a fresh venv where those requirements
    were installed from the wheelhouse (one venv per set of requirements per session)."""
    made: dict[tuple[str, ...], Path] = {}

    def make(*requirements: str) -> Path:
        if requirements not in made:
            venv = tmp_path_factory.mktemp("wheel-venv")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            py = venv / "bin" / "python"
            install = subprocess.run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--find-links",
                    str(wheelhouse),
                    *requirements,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            assert install.returncode == 0, f"pip install {requirements}:\n{install.stderr[-3000:]}"
            made[requirements] = py
        return made[requirements]

    return make
