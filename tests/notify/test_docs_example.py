"""The quick start of docs/integrations/notify.md runs as written, in a fresh process (in
the workspace, and in a fresh venv where only the wheel was installed), against aiosmtpd
and the fakes of Teams, PagerDuty and a webhook receiver."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.backends._http import Recorder
from tests.backends.pagerduty import ROUTING_KEY
from tests.backends.smtp import PASSWORD, USER, SmtpServer
from tests.backends.teams import workflow_url

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "notify.md"


@pytest.mark.parametrize("where", ["workspace", "fresh-wheel-venv"])
def test_quick_start_runs(
    where: str,
    wheel_python: Callable[..., Path],
    smtp: SmtpServer,
    teams: Recorder,
    pagerduty: tuple[Recorder, dict[str, Any]],
    receiver: Recorder,
    tmp_path: Path,
) -> None:
    python = sys.executable if where == "workspace" else str(wheel_python("orch-notify"))
    section = DOC.read_text().split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    pd_fake, incidents = pagerduty
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(tmp_path / "home"),
        SMTP_HOST=smtp.host,
        SMTP_PORT=str(smtp.starttls_port),
        SMTP_USER=USER,
        SMTP_PASSWORD=PASSWORD,
        SMTP_CA_FILE=smtp.ca_file,
        TEAMS_WORKFLOW_URL=workflow_url(teams),
        PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
        PAGERDUTY_EVENTS_URL=f"{pd_fake.url}/v2/enqueue",
        ALERT_WEBHOOK_URL=f"{receiver.url}/alerts",
        ALLOW_PRIVATE_TARGETS="1",
    )
    out = subprocess.run(
        [python, "-c", code.group(1)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines() == [
        "['team@example.com']",
        "202",
        "disk/db1",
        "200",
        "Failed",
        "ok",
    ]
    assert len(smtp.messages) == 2  # the report and the alert
    assert smtp.messages[1].message["Subject"].startswith("[ERROR] billing: flow run ")
    assert len(teams.requests) == 2
    assert [r.json["event_action"] for r in pd_fake.requests] == [
        "trigger",
        "resolve",
        "trigger",
        "resolve",
    ]
    assert incidents == {}
    assert receiver.requests[-1].json["level"] == "error"
