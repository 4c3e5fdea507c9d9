"""The `orch ui` page in headless Chromium: list, filter, a run's timeline and logs, blocks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from orch import flow, history, task
from playwright.sync_api import expect

from tests.ui.support import SECRET, get, running_ui
from tests.ui.test_ui_api import _fill


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], errors  # no script error on any page the test opened


def test_runs_list_filter_run_timeline_logs_and_a_masked_block(page: Any, tmp_path: Path) -> None:
    _fill()
    with running_ui() as base:
        page.goto(base + "/")
        page.wait_for_selector("#runs tbody tr")
        assert page.locator("#runs tbody tr").count() == 4

        page.select_option("select[name=state]", "Failed")
        page.click("button[type=submit]")
        expect(page.locator("#runs tbody tr")).to_have_count(1)
        assert "failing" in page.locator("#runs tbody tr").inner_text()

        page.select_option("select[name=state]", "")
        page.fill("input[name=tag]", "prod")
        page.click("button[type=submit]")
        expect(page.locator("#runs tbody tr")).to_have_count(1)
        page.click("#runs tbody tr a")
        page.wait_for_selector("#timeline")
        assert page.locator("#timeline rect.bar").count() == 3
        assert page.locator("#timeline rect.bar.Failed.retried").count() == 1
        expect(page.locator("#logs")).to_contain_text("loading 3 rows")
        shot = tmp_path / "orch-ui-run.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the run page: {shot}")
        assert shot.stat().st_size > 10_000

        page.click("#nav-blocks")
        page.wait_for_selector("#blocks tbody tr a")
        page.click("text=api-token")
        page.wait_for_selector("#fields")
        assert "**********" in page.locator("#fields").inner_text()
        assert SECRET not in page.content()


def test_a_running_flow_s_logs_tail_live(page: Any, tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            from orch import flow, get_run_logger

            @flow(name="slow")
            def slow() -> None:
                for i in range(40):
                    get_run_logger().info("tick %d", i)
                    time.sleep(0.25)

            slow()
            """
        )
    )
    env = {**os.environ, "ORCH_HISTORY_FLUSH_SECONDS": "0.1"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.DEVNULL)
    try:
        with running_ui() as base:
            deadline = time.monotonic() + 20
            runs: list[dict[str, Any]] = []
            while not runs and time.monotonic() < deadline:
                runs = get(base, "/api/runs?flow=slow").json()["runs"]
                time.sleep(0.1)
            assert runs and runs[0]["state"] == "Running"
            page.goto(f"{base}/#/run/{runs[0]['id']}")
            page.wait_for_selector("#logs")
            seen = page.locator("#logs").inner_text()
            last = max(int(w) for w in seen.split() if w.isdigit() and len(w) < 3)
            # New lines arrive in the open page, with no reload.
            expect(page.locator("#logs")).to_contain_text(f"tick {last + 4}", timeout=15_000)
    finally:
        proc.kill()
        proc.wait()


def test_a_run_of_10000_task_runs_draws_every_bar(page: Any) -> None:
    @task
    def tiny(i: int) -> int:
        return i

    @flow(name="wide")
    def wide() -> None:
        tiny.map(range(10_000)).wait()

    wide()
    history.flush()
    with running_ui() as base:
        run_id = get(base, "/api/runs?flow=wide").json()["runs"][0]["id"]
        started = time.perf_counter()
        page.goto(f"{base}/#/run/{run_id}")
        page.wait_for_selector("#timeline")
        elapsed = time.perf_counter() - started
        assert page.locator("#timeline rect.bar").count() == 10_000
        print(f"10,000-task timeline rendered in {elapsed:.2f} s")
