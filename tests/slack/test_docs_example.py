"""The quick start of docs/integrations/slack.md runs as written, in a fresh process (in
the workspace, and in a fresh venv where only the wheel was installed), pointed at the
fake Slack by SLACK_API_URL, SLACK_BOT_TOKEN and SLACK_WEBHOOK_URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends.slack import TOKEN, FakeSlack

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "slack.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str, wheel_python: Callable[..., Path], slack: FakeSlack, tmp_path: Path
) -> None:
    python = sys.executable if where == "workspace" else str(wheel_python("orch-slack"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        SLACK_API_URL=slack.api_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_WEBHOOK_URL=slack.webhook_url,
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines() == ["ok", "done", "Failed"]
    texts = [m["text"] for m in slack.messages]
    assert texts[:2] == ["nightly load: done", "50% done"]
    assert texts[2].startswith(":information_source: *nightly: flow run ")
    assert any(f["filename"] == "rows.csv" for f in slack.files.values())
    assert slack.webhook_messages[-1]["text"].startswith(
        ":x: *nightly failed: RuntimeError: 3 rows rejected*"
    )
    assert TOKEN not in str(slack.webhook_messages)
