"""Each distribution builds a wheel that installs into a fresh venv, as a user installs it:
``pip install --find-links dist orch-<x>``; its module imports and its block types list."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = [
    ROOT / "shared",
    *sorted(p for p in (ROOT / "packages").glob("*") if (p / "pyproject.toml").exists()),
]


def _project(member: Path) -> dict:
    return tomllib.loads((member / "pyproject.toml").read_text())["project"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: _project(m)["name"])
def test_wheel_installs_in_a_fresh_venv(
    member: Path, wheel_python: Callable[..., Path], tmp_path: Path
) -> None:
    project = _project(member)
    dist = project["name"]
    module = "orch" if dist == "orch-core" else dist.replace("-", "_")
    py = wheel_python(dist)  # a fresh venv: `pip install --find-links WHEELHOUSE <dist>`
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home")}
    env.pop("ORCH_STORE_URL", None)
    imported = subprocess.run(
        [str(py), "-c", f"import {module}"], env=env, check=False, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr
    types = subprocess.run(
        [str(py.parent / "orch"), "block", "types", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert types.returncode == 0, types.stderr
    listed = {row["slug"] for row in json.loads(types.stdout)}
    declared = set(project.get("entry-points", {}).get("orch.blocks", {}))
    assert declared <= listed
    saved = subprocess.run(
        [
            str(py),
            "-c",
            "from orch import SecretRef; from orch.system_blocks import Secret;"
            "Secret(value='wheel-secret').save('w');"
            "print(Secret.load('w').value.get_secret_value())",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert saved.stdout.strip() == "wheel-secret", saved.stderr
