"""The quick start of docs/integrations/kafka.md runs as written, in a fresh process (in
the workspace, and in a fresh venv where only the wheel was installed), with only
KAFKA_BOOTSTRAP pointing it at the Tansu broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends.kafka import KafkaBroker

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "kafka.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str, wheel_python: Callable[..., Path], kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    # "fresh-wheel-venv": only `pip install --find-links dist orch-kafka` was run there.
    python = sys.executable if where == "workspace" else str(wheel_python("orch-kafka"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "ORCH_"))}
    env.update(ORCH_HOME=str(tmp_path / "home"), KAFKA_BOOTSTRAP=kafka_broker.bootstrap)
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines() == ["3", "[1, 2, 3]", "ok"]
