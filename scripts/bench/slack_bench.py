"""orch-slack figures, side by side with raw slack-sdk in the same run, against the local
fake Slack Web API (tests/backends/slack.py, run in its own process).

- 1,000 messages: µs per message of slack-sdk's ``WebClient.chat_postMessage`` alone,
  ``slack_post_message.fn`` (the task's body: block client + error mapping) and
  ``slack_post_message`` called as a task inside a flow; the overhead per message over
  slack-sdk. The fake answers on loopback, so the HTTP round trip is most of each figure.
- ``import orch_slack`` vs ``import slack_sdk``, in ms over bare Python. Target: <= 80 ms.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, record

ROOT = Path(__file__).resolve().parents[2]
SERVE = (
    "import sys, time; from tests.backends.slack import serve_slack; "
    "fake, _ = serve_slack(); print(fake.port, flush=True); time.sleep(1e9)"
)


def start_fake() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    return proc, f"http://127.0.0.1:{port}/api/"


def per_message_us(fn, count: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall and client-CPU µs per message (CPU: what this process spent, the figure that
    the loaded machine and the fake's scheduling disturb least)."""
    start, cpu = time.perf_counter(), time.process_time()
    fn(count)
    return (
        (time.perf_counter() - start) / count * 1e6,
        (time.process_time() - cpu) / count * 1e6,
    )


def import_ms(module: str, runs: int = 7) -> float:
    """Median time of ``import module`` in a fresh interpreter, in ms (what it adds to
    bare Python's start)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        * 1000
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    os.environ["ORCH_HOME"] = tempfile.mkdtemp(prefix="orch-slack-bench-")
    sys.path.insert(0, str(ROOT))
    from orch import flow
    from orch_slack import SlackCredentials, slack_post_message
    from slack_sdk import WebClient

    from tests.backends.slack import TOKEN

    proc, api_url = start_fake()
    try:
        raw = WebClient(token=TOKEN, base_url=api_url)
        creds = SlackCredentials(token=TOKEN, base_url=api_url)

        def sdk(n: int) -> None:
            for i in range(n):
                raw.chat_postMessage(channel="C0ALERTS", text=f"message {i}")

        def task_fn(n: int) -> None:
            for i in range(n):
                slack_post_message.fn(creds, "C0ALERTS", f"message {i}")

        @flow(name="slack-bench")
        def in_flow(n: int) -> None:
            for i in range(n):
                slack_post_message(creds, "C0ALERTS", f"message {i}")

        sdk(50)
        task_fn(50)
        in_flow(50)
        figures: dict[str, list[float]] = {}
        order = [("sdk", sdk), ("fn", task_fn), ("flow", in_flow)]
        for run in range(args.runs):  # the order turns each run: the machine drifts
            for name, fn in order[run % 3 :] + order[: run % 3]:
                wall, cpu = per_message_us(fn, args.messages)
                figures.setdefault(name, []).append(wall)
                figures.setdefault(name + "_cpu", []).append(cpu)
        med = {k: statistics.median(v) for k, v in figures.items()}
    finally:
        proc.terminate()
        proc.wait()

    ours = import_ms("orch_slack")
    sdk_import = import_ms("slack_sdk.web")
    n = args.messages
    print(f"{n:,} messages to the local fake (median of {args.runs} runs), µs per message:")
    print(f"  slack-sdk chat_postMessage alone      {med['sdk']:8.0f}")
    print(
        f"  slack_post_message.fn                 {med['fn']:8.0f}"
        f"   overhead {med['fn'] - med['sdk']:+6.0f} µs ({med['fn'] / med['sdk']:.2f}x)"
    )
    print(
        f"  slack_post_message task in a flow     {med['flow']:8.0f}"
        f"   overhead {med['flow'] - med['sdk']:+6.0f} µs ({med['flow'] / med['sdk']:.2f}x)"
    )
    print(
        f"client CPU per message: slack-sdk {med['sdk_cpu']:.0f} µs, .fn {med['fn_cpu']:.0f} µs "
        f"({med['fn_cpu'] - med['sdk_cpu']:+.0f}), task in a flow {med['flow_cpu']:.0f} µs "
        f"({med['flow_cpu'] - med['sdk_cpu']:+.0f})"
    )
    print(f"import orch_slack over bare Python: {ours:.1f} ms (target <= 80 ms)")
    print(f"import slack_sdk.web over bare Python: {sdk_import:.1f} ms")
    sdk = "slack-sdk chat_postMessage"
    record("post_message_fn", "slack_post_message.fn, per message", "µs", med["fn"],
           raw=med["sdk"], raw_label=sdk)  # fmt: skip
    record("post_message_flow", "slack_post_message task in a flow, per message", "µs",
           med["flow"], raw=med["sdk"], raw_label=sdk)  # fmt: skip
    record("import", "import orch_slack / slack_sdk.web (over bare Python)", "ms", ours,
           raw=sdk_import, raw_label="slack-sdk", target=80)  # fmt: skip


if __name__ == "__main__":
    main()
