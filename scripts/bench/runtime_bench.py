"""Runtime figures: per-task overhead with run history on, `.map` fan-out, the hello flow end
to end, and peak RSS of a 100,000-task map — beside Prefect 3 with --peers-python.

Targets: <= 30 us per sequential task call (history written, flush included), `.map` over
10,000 items <= 1.5 s, `python docs/examples/hello.py` <= 250 ms, 100,000 mapped tasks
<= 500 MB peak RSS. Prefect runs fewer calls (it takes milliseconds per task); its figures
are per call / scaled to the same count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_wall_ms, parser, record, table

ROOT = Path(__file__).resolve().parents[2]

ORCH_SEQ = """
import json, sys, time
from orch import flow, history, task

@task
def inc(x: int) -> int:
    return x + 1

@flow
def seq(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        inc(i)
    return start

@flow
def fan(n: int) -> None:
    inc.map(range(n)).result()

n = int(sys.argv[1])
seq(100)                      # warm-up
history.flush()
start = seq(n)
history.flush()               # history written: its cost is part of the figure
seq_us = (time.perf_counter() - start) / n * 1e6
t = time.perf_counter()
fan(n)
history.flush()
map_s = time.perf_counter() - t
print(json.dumps({"seq_us": seq_us, "map_s": map_s}))
"""

ORCH_RSS = """
import json, resource, sys, time
from orch import flow, history, task

@task
def inc(x: int) -> int:
    return x + 1

@flow
def big(n: int) -> int:
    return len(inc.map(range(n)).result())

t = time.perf_counter()
assert big(int(sys.argv[1])) == int(sys.argv[1])
history.flush()
print(json.dumps({"s": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PREFECT_SEQ = """
import json, sys, time
from prefect import flow, task

@task
def inc(x: int) -> int:
    return x + 1

@flow
def seq(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        inc(i)
    return (time.perf_counter() - start) / n * 1e6

@flow
def fan(n: int) -> float:
    start = time.perf_counter()
    inc.map(range(n)).result()
    return time.perf_counter() - start

n = int(sys.argv[1])
seq(5)
print(json.dumps({"seq_us": seq(n), "map_s": fan(n)}))
"""

PREFECT_HELLO = """
from prefect import flow, task, get_run_logger

@task(retries=2, retry_delay_seconds=1)
def greet(name: str) -> str:
    return f"hello, {name}"

@task
def shout(text: str) -> str:
    return text.upper() + "!"

@flow(name="hello")
def hello(names: list[str]) -> list[str]:
    greetings = [greet.submit(n) for n in names]
    loud = [shout(g.result()) for g in greetings]
    get_run_logger().info("greeted %d people", len(loud))
    return loud

for line in hello(["world", "data engineers"]):
    print(line)
"""


def run_json(python: str, code: str, *args: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [python, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=1800,
    )
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"benchmark failed: {python}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--big", type=int, default=100_000)
    p.add_argument("--peer-n", type=int, default=500, help="Prefect calls (it is slow)")
    args = p.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as home:
        env = {"ORCH_HOME": home, "ORCH_LOGGING_LEVEL": "WARNING"}
        ours = run_json(py, ORCH_SEQ, str(args.n), env=env)
        hello = median_wall_ms([py, str(ROOT / "docs/examples/hello.py")], 10, env)
        big = run_json(py, ORCH_RSS, str(args.big), env=env)
    peer: dict[str, float] = {}
    if args.peers_python:
        with tempfile.TemporaryDirectory() as phome:
            penv = {
                "PREFECT_HOME": phome,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_LOGGING_LEVEL": "WARNING",
            }
            try:
                got = run_json(args.peers_python, PREFECT_SEQ, str(args.peer_n), env=penv)
                peer["seq_us"] = got["seq_us"]
                peer["map_s"] = got["map_s"] * args.n / args.peer_n  # scaled to --n items
                with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
                    f.write(PREFECT_HELLO)
                peer["hello"] = median_wall_ms([args.peers_python, f.name], 3, penv)
            except SystemExit as exc:
                print(f"prefect benchmark failed: {exc}", file=sys.stderr)
    table(
        [
            (f"{args.n:,} sequential task calls (per call)", ours["seq_us"], peer.get("seq_us"),
             "us", "<= 30 us"),
            (f".map over {args.n:,} items (thread pool)", ours["map_s"], peer.get("map_s"),
             "s", "<= 1.5 s"),
            ("python docs/examples/hello.py (wall)", hello, peer.get("hello"), "ms", "<= 250 ms"),
            (f".map over {args.big:,} items: time", big["s"], None, "s", ""),
            (f".map over {args.big:,} items: peak RSS", big["rss_mb"], None, "MB", "<= 500 MB"),
        ]
    )
    # The targets (19): <= 10 us a sequential call, <= 20 us a mapped task, hello.py
    # <= 60 ms; Prefect's .map is scaled to --n items, so per task it is comparable.
    per_task = 1e6 / args.n
    record("task_call", "sequential task call, history on (per call)", "µs", ours["seq_us"],
           prefect=peer.get("seq_us"), target=10)  # fmt: skip
    record("map_per_task", f".map over {args.n:,} items (per task)", "µs",
           ours["map_s"] * per_task,
           prefect=peer["map_s"] * per_task if "map_s" in peer else None, target=20)  # fmt: skip
    record("hello_py", "python docs/examples/hello.py (whole process)", "ms", hello,
           prefect=peer.get("hello"), target=60)  # fmt: skip
    record("map_big_time", f".map over {args.big:,} items: time", "s", big["s"])
    record("map_big_rss", f".map over {args.big:,} items: peak RSS", "MB", big["rss_mb"],
           target=500)  # fmt: skip
    if args.peers_python and "map_s" in peer:
        print(f"(prefect: {args.peer_n} calls measured, .map scaled to {args.n:,} items)")


if __name__ == "__main__":
    main()
