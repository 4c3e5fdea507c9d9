"""`orch ui` figures: the runs list over 100,000 runs in SQLite, a 10,000-task timeline in
Chromium, and the server's memory.

- First byte of the page and of ``/api/runs`` (first page, a state filter, a page deep in
  the keyset), median of 20 requests over keep-alive. Target: <= 100 ms.
- A run with 10,000 task runs: from navigation to the drawn timeline in headless Chromium
  (Debian's, driven by Playwright). Target: <= 1 s.
- The server's RSS after those requests. Prefect's API server, which its UI needs, was
  324 MB here (issue 20); orch's page needs no server beyond this one process.

The 100,000 flow runs are written straight into the history tables in one transaction (a
bench fixture: running 100,000 flows would take minutes and measure something else); the
10,000 task runs come from a real ``.map``.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, record

RUNS = 100_000
TASKS = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill(home: Path) -> str:
    """100,000 flow runs, and one real run of 10,000 tasks (its id is returned)."""
    os.environ["ORCH_HOME"] = str(home)
    from orch import flow, history, task

    @task
    def tiny(i: int) -> int:
        return i

    @flow(name="wide")
    def wide() -> None:
        tiny.map(range(TASKS)).wait()

    wide()
    history.flush()
    states = ["Completed"] * 8 + ["Failed", "Crashed"]
    now = time.time() - RUNS
    rows = [
        (uuid.uuid4().hex, f"run-{i}", f"flow-{i % 25}", None, None, states[i % 10], 1,
         json.dumps({"day": str(i)}), now + i, now + i + 0.5, None, 1, "bench", now + i,
         json.dumps(["nightly"] if i % 3 == 0 else []))
        for i in range(RUNS)
    ]  # fmt: skip
    with sqlite3.connect(home / "orch.db") as conn:
        conn.executemany(
            "INSERT INTO orch_flow_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    (run,) = history.list_flow_runs(flow="wide", limit=1)
    return str(run["id"])


def first_byte_ms(url: str, n: int = 20) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            response.read(1)
            samples.append((time.perf_counter() - start) * 1000)
            response.read()
    return statistics.median(samples)


def timeline_ms(base: str, run_id: str) -> float:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    samples = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page()
        for _ in range(5):
            page.goto("about:blank")
            start = time.perf_counter()
            page.goto(f"{base}/#/run/{run_id}")
            page.wait_for_selector("#timeline")
            samples.append((time.perf_counter() - start) * 1000)
            assert page.locator("#timeline rect.bar").count() == TASKS
        browser.close()
    return statistics.median(samples)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser(__doc__ or "").parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        run_id = fill(home)
        print(f"store filled: {RUNS:,} flow runs + one of {TASKS:,} task runs "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        port = _free_port()
        env = {**os.environ, "ORCH_HOME": str(home)}
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
            deep = json.loads(urllib.request.urlopen(f"{base}/api/runs?limit=500").read())
            cursor = deep["next"]
            for _ in range(100):  # 50,000 runs down
                page = json.loads(
                    urllib.request.urlopen(f"{base}/api/runs?limit=500&before={cursor}").read()
                )
                cursor = page["next"]
            figures = [
                ("page (/)", first_byte_ms(base + "/")),
                ("/api/runs first page (50)", first_byte_ms(base + "/api/runs")),
                ("/api/runs?state=Failed", first_byte_ms(base + "/api/runs?state=Failed")),
                ("/api/runs?flow=flow-7&tag=nightly",
                 first_byte_ms(base + "/api/runs?flow=flow-7&tag=nightly")),
                ("/api/runs 50,000 runs down (keyset)",
                 first_byte_ms(f"{base}/api/runs?before={cursor}")),
                ("/api/flows (25 names)", first_byte_ms(base + "/api/flows")),
                (f"/api/runs/<id> with {TASKS:,} task runs",
                 first_byte_ms(f"{base}/api/runs/{run_id}", n=5)),
            ]  # fmt: skip
            print(f"\nfirst byte, {RUNS:,} runs in SQLite, median of 20 (target <= 100 ms)")
            print(f"{'request':44} {'ms':>8}")
            for name, ms in figures:
                print(f"{name:44} {ms:8.1f}")
                record("first_byte " + name, f"first byte: {name}", "ms", ms, target=100)
            render = timeline_ms(base, run_id)
            print(f"\n{TASKS:,}-task timeline drawn in Chromium: {render:.0f} ms "
                  "(median of 5; target <= 1000 ms)")  # fmt: skip
            rss = rss_mb(server.pid)
            print(f"server RSS after the requests: {rss:.0f} MB "
                  "(Prefect 3's API server: 324 MB, issue 20)")  # fmt: skip
            record("timeline", f"{TASKS:,}-task timeline drawn in Chromium", "ms", render,
                   target=1000)  # fmt: skip
            record(
                "server_rss",
                "UI server RSS after the requests",
                "MB",
                rss,
                note="Prefect 3's API server: 324 MB (issue 20), not measured here",
            )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
