"""The quick start of docs/integrations/aws.md runs as written, in a fresh process, with
only boto3's standard environment variables pointing it at the moto server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "aws.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str, wheel_python: Callable[..., Path], moto_server: str, tmp_path: Path
) -> None:
    # "fresh-wheel-venv": only `pip install --find-links dist orch-aws` was run there.
    python = sys.executable if where == "workspace" else str(wheel_python("orch-aws"))
    text = DOC.read_text()
    section = text.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        AWS_ENDPOINT_URL=moto_server,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "['2024/06/orders.csv']"
    assert lines[-1] == "ok"
