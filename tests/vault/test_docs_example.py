"""The quick start of docs/integrations/vault.md runs as written, in a fresh process,
with only VAULT_ADDR and VAULT_TOKEN pointing it at the OpenBao server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.backends.vault import VaultServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "vault.md"


def test_quick_start_runs(vault_server: VaultServer, tmp_path: Path) -> None:
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
        [sys.executable, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines() == ["['db']", "s3cr3t", "ok"]
