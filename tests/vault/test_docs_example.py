"""The quick start of docs/integrations/vault.md runs as written, in a fresh process (in
the workspace, and in a fresh venv where only the wheel was installed), with only
VAULT_ADDR and VAULT_TOKEN pointing it at the OpenBao server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends.vault import VaultServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "vault.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str, wheel_python: Callable[..., Path], vault_server: VaultServer, tmp_path: Path
) -> None:
    # "fresh-wheel-venv": only `pip install --find-links dist orch-vault` was run there.
    python = sys.executable if where == "workspace" else str(wheel_python("orch-vault"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        VAULT_ADDR=vault_server.url,
        VAULT_TOKEN=vault_server.root_token,
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines() == ["['db']", "s3cr3t", "ok"]
