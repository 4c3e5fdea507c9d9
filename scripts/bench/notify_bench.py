"""orch-notify figures, side by side with raw httpx in the same run, against the local
webhook receiver (tests/backends/webhook_receiver.py, run in its own process).

- 1,000 webhook calls: µs per call of ``httpx.Client.post`` alone (on the block's own
  client) and of
  ``webhook_send.fn`` (body template, SSRF check skipped by ``allow_private_targets``,
  retries armed), and the overhead per call.
- ``import orch_notify`` vs ``import httpx``, in ms over bare Python. Target: <= 80 ms.
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
    "import time; from tests.backends.webhook_receiver import serve_receiver; "
    "fake = serve_receiver(); print(fake.port, flush=True); time.sleep(1e9)"
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
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    os.environ["ORCH_HOME"] = tempfile.mkdtemp(prefix="orch-notify-bench-")
    import httpx
    from orch_notify import Webhook, webhook_send

    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = f"http://127.0.0.1:{proc.stdout.readline().strip()}/alerts"
    try:
        hook = Webhook(url=url, allow_private_targets=True)
        # httpx alone on the block's own client: the same pool and connection, so the
        # difference is orch's work only (two clients' connections to the threaded
        # receiver were seen to differ by 2x on this machine, whoever made them)
        client: httpx.Client = hook.get_client()

        def raw(n: int) -> None:
            for i in range(n):
                body = {"subject": f"s{i}", "body": "b", "severity": "info"}
                client.post(url, json=body).raise_for_status()

        def ours(n: int) -> None:
            for i in range(n):
                webhook_send.fn(hook, f"s{i}", "b")

        raw(50)
        ours(50)
        figures: dict[str, list[float]] = {"raw": [], "ours": [], "raw_cpu": [], "ours_cpu": []}
        for run in range(args.runs):
            order = (("raw", raw), ("ours", ours))
            for name, fn in order if run % 2 == 0 else order[::-1]:
                start, cpu = time.perf_counter(), time.process_time()
                fn(args.calls)
                figures[name].append((time.perf_counter() - start) / args.calls * 1e6)
                figures[name + "_cpu"].append((time.process_time() - cpu) / args.calls * 1e6)
        med = {k: statistics.median(v) for k, v in figures.items()}
    finally:
        proc.terminate()
        proc.wait()
    imp = import_ms("orch_notify")
    imp_httpx = import_ms("httpx")
    print(f"{args.calls:,} webhook calls to the local receiver (median of {args.runs} runs):")
    print(f"  httpx Client.post alone   {med['raw']:8.0f} µs")
    print(
        f"  webhook_send.fn           {med['ours']:8.0f} µs   overhead "
        f"{med['ours'] - med['raw']:+5.0f} µs ({med['ours'] / med['raw']:.2f}x)"
    )
    print(
        f"  client CPU per call: httpx {med['raw_cpu']:.0f} µs, webhook_send.fn "
        f"{med['ours_cpu']:.0f} µs (overhead {med['ours_cpu'] - med['raw_cpu']:+.0f} µs)"
    )
    print(f"import orch_notify over bare Python: {imp:.1f} ms (target <= 80 ms)")
    print(f"import httpx over bare Python: {imp_httpx:.1f} ms")
    record("webhook_send", "webhook_send.fn, one call to a local receiver", "µs", med["ours"],
           raw=med["raw"], raw_label="httpx Client.post")  # fmt: skip
    record("webhook_send_cpu", "webhook_send.fn: client CPU per call", "µs", med["ours_cpu"],
           raw=med["raw_cpu"], raw_label="httpx Client.post")  # fmt: skip
    record("import", "import orch_notify / httpx (over bare Python)", "ms", imp,
           raw=imp_httpx, raw_label="httpx", target=80)  # fmt: skip


if __name__ == "__main__":
    main()
