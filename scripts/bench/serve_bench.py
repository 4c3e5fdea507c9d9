"""Served flows (`orch serve`): slot-to-start latency of a 1-second schedule (p50/p99),
and the serving process's idle CPU and RSS (its child processes included) — beside
Prefect 3's `flow.serve` with --peers-python (idle figures only; with no API server
configured, Prefect's serve starts a temporary one as a child process, counted too).

Targets: slot-to-start p99 <= 50 ms; idle CPU <= 1 % of a core; idle RSS <= 80 MB.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, record, table

FLOWS = """
from orch import flow

@flow
def tick(n: int = 0) -> int:
    return n
"""

PREFECT_IDLE = """
from prefect import flow

@flow
def tick(n: int = 0) -> int:
    return n

tick.serve(name="idle", cron="0 2 * * *")
"""

def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Prefect's serve starts its API server as a child)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [pid], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        out += kids
        todo += kids
    return out


def _cpu_seconds(pid: int) -> float:
    """CPU time of the tree, from each thread's schedstat (nanoseconds: an idle server
    uses less than one 10 ms tick of /proc/PID/stat in a minute)."""
    total = 0.0
    for p in _tree(pid):
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                continue
    return total


def _rss_mb(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(x.split()[1]) / 1024 for x in lines if x.startswith("VmRSS:"))
    return total


def _idle(
    cmd: list[str], cwd: Path, env: dict[str, str], warm: float, seconds: float
) -> tuple[float, float]:
    """(CPU % of one core, RSS MB) of a serving process with nothing to run."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(warm)
        assert proc.poll() is None, f"{cmd} exited with {proc.returncode}"
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0) * 100
        return cpu, _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _latency(folder: Path, env: dict[str, str], slots: int) -> list[float]:
    """Milliseconds from each slot's time to its flow run's start, for ``slots`` slots."""
    home = Path(env["ORCH_HOME"])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orch.cli.main",
            "serve",
            "flows:tick",
            "--interval",
            "1",
            "--name",
            "lat",
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(slots + 2.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    with sqlite3.connect(home / "orch.db") as db:
        rows = db.execute(
            "SELECT s.slot, f.started FROM orch_deployment_slots s JOIN orch_flow_runs f "
            "ON f.id = s.flow_run_id WHERE s.deployment = 'lat' AND s.kind = 'scheduled'"
        ).fetchall()
    return sorted((started - slot) * 1000 for slot, started in rows)


def _pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--slots", type=int, default=60, help="1-second slots to time")
    p.add_argument("--idle-seconds", type=float, default=20.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "flows.py").write_text(FLOWS)
        env = {**os.environ, "ORCH_HOME": str(folder / "home")}
        env.pop("ORCH_STORE_URL", None)
        lat = _latency(folder, env, args.slots)
        idle_env = {**env, "ORCH_HOME": str(folder / "idle-home")}
        cpu, rss = _idle(
            [sys.executable, "-m", "orch.cli.main", "serve", "flows:tick", "--cron", "0 2 * * *"],
            folder,
            idle_env,
            warm=3.0,
            seconds=args.idle_seconds,
        )
        peer_cpu = peer_rss = None
        if args.peers_python:
            (folder / "prefect_idle.py").write_text(PREFECT_IDLE)
            peer_env = {**env, "PREFECT_HOME": str(folder / "prefect-home")}
            peer_cpu, peer_rss = _idle(
                [args.peers_python, "prefect_idle.py"],
                folder,
                peer_env,
                warm=15.0,
                seconds=args.idle_seconds,
            )
    print(f"{len(lat)} slots timed (1-second interval schedule, SQLite store)")
    table(
        [
            ("slot-to-start p50", _pct(lat, 50), None, "ms", "-"),
            ("slot-to-start p99", _pct(lat, 99), None, "ms", "<= 50 ms"),
            ("slot-to-start max", max(lat), None, "ms", "-"),
            ("idle serving process: CPU (% of a core)", cpu, peer_cpu, "%", "<= 1 %"),
            (
                "idle serving process: CPU ms per minute",
                cpu * 600,
                None if peer_cpu is None else peer_cpu * 600,
                "ms",
                "-",
            ),
            ("idle serving process: RSS", rss, peer_rss, "MB", "<= 80 MB"),
        ]
    )
    record("slot_p50", "slot-to-start p50, 1-second schedule", "ms", _pct(lat, 50))
    record("slot_p99", "slot-to-start p99, 1-second schedule", "ms", _pct(lat, 99), target=50)
    record("idle_cpu", "idle serving process: CPU", "% of a core", cpu, prefect=peer_cpu,
           target=1)  # fmt: skip
    record("idle_rss", "idle serving process: RSS", "MB", rss, prefect=peer_rss,
           target=80)  # fmt: skip


if __name__ == "__main__":
    main()
