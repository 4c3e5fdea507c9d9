"""Make the screenshots of `orch ui` shown in docs/ui.md (docs/images/ui-*.png).

Runs a small demo pipeline into a throwaway store, serves it with `orch ui`, and has
headless Chromium (Debian's, through Playwright) take the pictures:

    .venv/bin/python scripts/ui_screenshots.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = """
import random, time
from orch import flow, task, get_run_logger

@task(retries=2, retry_delay_seconds=0)
def extract(day: int) -> list[int]:
    time.sleep(random.uniform(0.05, 0.3))
    if day == 3 and random.random() < 0.9:
        raise ConnectionError("source API answered 503")
    return list(range(day * 10))

@task
def transform(rows: list[int]) -> int:
    time.sleep(random.uniform(0.05, 0.2))
    return sum(rows)

@task
def load(total: int) -> None:
    time.sleep(0.1)
    get_run_logger().info("loaded total %d", total)

@flow(name="daily-sales", tags=["prod"])
def daily_sales(days: int = 6) -> None:
    get_run_logger().info("backfilling %d days", days)
    raw = extract.map(range(days))
    totals = transform.map(raw)
    load.map(totals).wait()
    report()

@flow(name="report")
def report() -> None:
    get_run_logger().info("report sent")

for _ in range(3):
    daily_sales()
"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ORCH_HOME": str(Path(tmp) / "home")}
        subprocess.run([sys.executable, "-c", DEMO], env=env, check=True, capture_output=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "orch.cli.main", "ui", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/api/health").read()
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                page = browser.new_page(viewport={"width": 1200, "height": 760})
                page.goto(base + "/")
                page.wait_for_selector("#runs tbody tr")
                page.screenshot(path=str(ROOT / "docs/images/ui-runs.png"))
                page.click("text=daily-sales >> xpath=../td[2]/a")
                page.wait_for_selector("#timeline")
                page.wait_for_timeout(500)
                page.screenshot(path=str(ROOT / "docs/images/ui-run.png"), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait()
    print("wrote docs/images/ui-runs.png and docs/images/ui-run.png")


if __name__ == "__main__":
    main()
