"""`orch ui` as a new user gets it: `pip install 'orch-core[ui]'` from the wheel, in a fresh
venv; without the extra, the command says what to install."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.ui.support import get, running_ui


def test_the_wheel_with_the_ui_extra_serves_the_page(wheel_python: Callable[..., Path]) -> None:
    python = wheel_python("orch-core[ui]")
    with running_ui(python=str(python)) as base:
        page = get(base, "/")
        assert page.status_code == 200 and '<script src="/static/app.js"' in page.text
        assert get(base, "/static/app.js").status_code == 200
        assert get(base, "/api/runs").json() == {"runs": [], "next": None}


def test_without_the_extra_it_names_what_to_install(wheel_python: Callable[..., Path]) -> None:
    python = wheel_python("orch-core")
    done = subprocess.run(
        [str(python), "-m", "orch.cli.main", "ui", "--port", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "pip install 'orch-core[ui]'" in done.stderr
    assert "Traceback" not in done.stderr
