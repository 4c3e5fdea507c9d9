"""orch-sqlalchemy figures on PostgreSQL, side by side with the raw driver, in one run.

1. Bulk load of N rows (int, text, timestamp): ``sql_load_rows`` vs raw psycopg ``COPY``
   (target: >= 0.95 of raw throughput), and pandas ``DataFrame.to_sql`` (default and
   ``method="multi"``) for reference. Wall time and the client's CPU time: on a shared
   machine the server's share of the wall time swings; the CPU time is our process's own.
2. Streaming N rows back: ``sql_fetch_many`` vs a raw psycopg server-side cursor, both in
   this process, interleaved (throughput, target >= 0.95); then each in a fresh process:
   first-call rows/s and peak RSS, and the RSS the stream itself adds (target <= 1.2x).
3. ``get_client()`` on a connector that holds its engine (a look-up: well under 1 us).

What is left, and why (profiles: cProfile of each path, A/B in one process):

- Loads: the per-row loop is the raw driver's own (``copy.write_row(row)`` for each row;
  nothing counted per row: a list's length is its count, other iterables are read a
  chunk at a time); progress costs a clock read per ``chunk_size`` rows. On one
  connection, 300k rows: 340.8 ms of client CPU for our loop, 338.2 ms for the raw one.
  Left: per call, a catalog query for the table's columns (the check that names a wrong
  column before anything is sent) and the pool's pre-ping, about 2-4 ms in all, against
  a fresh ``psycopg.connect`` in the raw script (5-10 ms). The wall time is mostly the
  server's, on the same cores as everything else: its ratio moves between 0.8x and 1.2x
  from run to run, for the task and ``.fn`` alike (they run the same code); the client
  CPU ratio is the steady one (0.98x-1.00x).
- Streaming, warm (a worker's steady state): the same server-side cursor and
  ``fetchmany`` as the raw script, with batches passed through as psycopg returns them.
  Left: a pooled checkout (pre-ping) against the raw script's new connection.
- Streaming, first call in a fresh process: SQLAlchemy's PostgreSQL dialect package is
  imported on the first ``create_engine`` (it imports every PostgreSQL driver's dialect
  module, asyncpg's included: 60-90 ms here) and the dialect's first connect asks the
  server a few questions (~5 ms). The bench imports the dialect before the clock starts,
  like the other imports; both are once per process, not per query.
- Peak RSS: the stream itself adds about as much as the raw cursor (one batch of rows);
  the rest is imports: SQLAlchemy ~13 MB, pydantic ~4 MB, orch and orch-sqlalchemy ~6 MB
  over psycopg's ~25 MB. A process that imports orch has them, whatever it streams.

The issue's size is ``--rows 1000000``; the default is smaller so a run takes a minute or
two on a small machine. Needs PostgreSQL on 127.0.0.1:5432 (trust auth) or ``--pg-url``.
Run with scripts/bench/run sqlalchemy (or directly with the venv's python).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, record

DDL = "CREATE TABLE bench (id INTEGER, name TEXT, at TIMESTAMP)"

# Streams the table in a fresh process, so that its peak RSS is the reader's alone.
READER = r"""
import json, sys, time
mode, url, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
import psycopg
if mode == "orch":
    from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector, sql_fetch_many
    from orch import SecretStr
    # Imports are not part of the figure; the PostgreSQL dialect is one of them (imported
    # by the first create_engine otherwise).
    import sqlalchemy, orch_sqlalchemy.tasks, sqlalchemy.dialects.postgresql.psycopg
def hwm():
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork+exec.
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
base_mb = hwm()
start = time.perf_counter()
n = 0
if mode == "raw":
    with psycopg.connect(url) as conn, conn.cursor(name="bench") as cur:
        cur.itersize = size
        cur.execute("SELECT id, name, at FROM bench")
        while batch := cur.fetchmany(size):
            n += len(batch)
else:
    db = SqlAlchemyConnector(credentials=DatabaseCredentials(url=SecretStr(url)))
    for batch in sql_fetch_many.fn(db, "SELECT id, name, at FROM bench", size=size):
        n += len(batch)
elapsed = time.perf_counter() - start
rss_mb = hwm()
print(json.dumps({"rows": n, "seconds": elapsed, "rss_mb": rss_mb, "stream_mb": rss_mb - base_mb}))
"""


def make_rows(n: int) -> list[tuple[int, str, datetime]]:
    t0 = datetime(2024, 1, 1)
    return [(i, f"name-{i % 1000}-{i}", t0 + timedelta(seconds=i)) for i in range(n)]


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=200_000, help="rows per load (issue: 1000000)")
    p.add_argument("--repeat", type=int, default=5, help="runs per method (median)")
    p.add_argument("--pandas-rows", type=int, default=50_000, help="rows for to_sql (slow)")
    p.add_argument("--fetch-size", type=int, default=10_000, help="batch size when streaming")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432")
    args = p.parse_args()

    import psycopg

    name = f"orch_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{args.pg_url}/{name}"
    try:
        run(args, url)
    finally:
        with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: Any, url: str) -> None:
    import os

    import pandas as pd
    import psycopg
    import sqlalchemy as sa

    os.environ.setdefault("ORCH_HOME", tempfile.mkdtemp(prefix="orch-bench-"))
    from orch import SecretStr
    from orch_sqlalchemy import (
        DatabaseCredentials,
        SqlAlchemyConnector,
        sql_fetch_many,
        sql_load_rows,
    )

    db = SqlAlchemyConnector(credentials=DatabaseCredentials(url=SecretStr(url)))
    rows = make_rows(args.rows)

    def reset() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench")
            conn.execute(DDL)

    def raw_copy() -> None:
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            with cur.copy("COPY bench (id, name, at) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def orch_load() -> None:
        # Called as a task (outside a flow): the runtime's overhead is included.
        assert sql_load_rows(db, "bench", rows) == len(rows)

    def orch_load_fn() -> None:
        # The bare function: the data path alone, as another orchestrator would call it.
        assert sql_load_rows.fn(db, "bench", rows) == len(rows)

    cpu: dict[str, list[float]] = {}

    def timed(fn: Callable[[], None], label: str = "") -> float:
        reset()
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.setdefault(label, []).append(time.process_time() - start_cpu)
        return time.perf_counter() - start

    timed(lambda: sql_load_rows(db, "bench", rows[:10]))  # warm-up: engine, pool, imports
    raw_t: list[float] = []
    orch_t: list[float] = []
    fn_t: list[float] = []
    load_runs = [(raw_t, raw_copy, "raw"), (orch_t, orch_load, "task"), (fn_t, orch_load_fn, "fn")]
    for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits all
        load_runs = load_runs[1:] + load_runs[:1]  # and each goes first in turn
        for times, fn, label in load_runs:
            times.append(timed(fn, label))
    raw_s, orch_s = statistics.median(raw_t), statistics.median(orch_t)
    fn_s = statistics.median(fn_t)
    raw_cpu, task_cpu, fn_cpu = (statistics.median(cpu[k]) for k in ("raw", "task", "fn"))

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    frame = pd.DataFrame(rows[: args.pandas_rows], columns=["id", "name", "at"])
    pandas_default = timed(lambda: frame.to_sql("bench", engine, if_exists="append", index=False))
    pandas_multi = timed(
        lambda: frame.to_sql(
            "bench", engine, if_exists="append", index=False, method="multi", chunksize=1000
        )
    )
    engine.dispose()

    # Leave N rows in the table for the streaming figures.
    timed(raw_copy)
    query = "SELECT id, name, at FROM bench"

    def raw_stream() -> None:
        # What a raw script does: connect, a named (server-side) cursor, fetchmany.
        n = 0
        with psycopg.connect(url) as conn, conn.cursor(name="bench") as cur:
            cur.execute(query)
            while batch := cur.fetchmany(args.fetch_size):
                n += len(batch)
        assert n == args.rows

    def orch_stream(call: Callable[..., Any]) -> Callable[[], None]:
        def go() -> None:
            n = 0
            for batch in call(db, query, size=args.fetch_size):
                n += len(batch)
            assert n == args.rows

        return go

    streams = {
        "raw": raw_stream,
        "task": orch_stream(sql_fetch_many),
        "fn": orch_stream(sql_fetch_many.fn),
    }
    stream_t: dict[str, list[float]] = {k: [] for k in streams}
    for fn in streams.values():
        fn()  # warm-up
    for _ in range(args.repeat):
        for key, fn in streams.items():
            start = time.perf_counter()
            fn()
            stream_t[key].append(time.perf_counter() - start)
    warm = {k: statistics.median(v) for k, v in stream_t.items()}
    # Interleaved and repeated like the loads: one run each swings by +-30% on a shared
    # machine. The median time is kept, with the largest peak RSS seen.
    runs: dict[str, list[dict[str, float]]] = {"raw": [], "orch": []}
    for _ in range(args.repeat):
        for mode in ("raw", "orch"):
            out = subprocess.run(
                [sys.executable, "-c", READER, mode, url, str(args.fetch_size)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            assert result["rows"] == args.rows, result
            runs[mode].append(result)
    reader = {
        mode: {
            "rows": args.rows,
            "seconds": statistics.median(r["seconds"] for r in results),
            "rss_mb": max(r["rss_mb"] for r in results),
            "stream_mb": max(r["stream_mb"] for r in results),
        }
        for mode, results in runs.items()
    }
    db.dispose()

    n, pn = args.rows, len(frame)
    print(f"PostgreSQL bulk load, {n:,} rows (int, text, timestamp); median of {args.repeat}")
    head = f"{'method':44} {'rows':>10} {'seconds':>8} {'rows/s':>12} {'vs raw COPY':>12}"
    print(head)
    print("-" * len(head))
    raw_rate = n / raw_s
    for label, rows_n, secs in (
        ("raw psycopg COPY (write_row)", n, raw_s),
        ("orch sql_load_rows(...) as a task (COPY)", n, orch_s),
        ("orch sql_load_rows.fn(...) (COPY)", n, fn_s),
        ("pandas to_sql (default)", pn, pandas_default),
        ("pandas to_sql (method='multi', chunk 1000)", pn, pandas_multi),
    ):
        rate = rows_n / secs
        print(f"{label:44} {rows_n:>10,} {secs:>8.2f} {rate:>12,.0f} {rate / raw_rate:>11.2f}x")
    print(
        f"target: sql_load_rows >= 0.95x raw COPY -> task {raw_s / orch_s:.2f}x, "
        f".fn {raw_s / fn_s:.2f}x"
    )
    print(
        f"client CPU time (median): raw {raw_cpu:.3f} s, task {task_cpu:.3f} s "
        f"({raw_cpu / task_cpu:.2f}x), .fn {fn_cpu:.3f} s ({raw_cpu / fn_cpu:.2f}x)"
    )
    print()
    print(
        f"Streaming {n:,} rows back, batches of {args.fetch_size:,}; in this process, "
        f"interleaved, median of {args.repeat}"
    )
    head = f"{'method':44} {'rows/s':>12} {'vs raw':>8}"
    print(head)
    print("-" * len(head))
    for label, key in (
        ("raw psycopg server-side cursor (connect)", "raw"),
        ("orch sql_fetch_many(...) as a task", "task"),
        ("orch sql_fetch_many.fn(...)", "fn"),
    ):
        print(f"{label:44} {n / warm[key]:>12,.0f} {warm['raw'] / warm[key]:>7.2f}x")
    print(
        f"target: sql_fetch_many >= 0.95x -> task {warm['raw'] / warm['task']:.2f}x, "
        f".fn {warm['raw'] / warm['fn']:.2f}x"
    )
    print()
    print("The same, each in a fresh process (first call: engine and first connect)")
    head = f"{'method':44} {'rows/s':>12} {'vs raw':>8} {'peak RSS':>10} {'stream':>8}"
    print(head)
    print("-" * len(head))
    raw_rate = reader["raw"]["rows"] / reader["raw"]["seconds"]
    for label, mode in (
        ("raw psycopg server-side cursor", "raw"),
        ("orch sql_fetch_many.fn", "orch"),
    ):
        r = reader[mode]
        rate = r["rows"] / r["seconds"]
        print(
            f"{label:44} {rate:>12,.0f} {rate / raw_rate:>7.2f}x {r['rss_mb']:>7.0f} MB "
            f"{r['stream_mb']:>5.0f} MB"
        )
    o, r = reader["orch"], reader["raw"]
    print(
        f"peak RSS {o['rss_mb'] / r['rss_mb']:.2f}x raw (imports included); the stream "
        f"itself (peak minus the RSS after imports) {o['stream_mb'] / r['stream_mb']:.2f}x "
        "(target <= 1.2x)"
    )
    copy = "psycopg COPY"
    record("sql_load_rows", f"sql_load_rows, {n:,} rows, as a task", "rows/s", n / orch_s,
           raw=n / raw_s, raw_label=copy, better="higher", target=0.95, vs="raw")  # fmt: skip
    record("sql_load_rows_fn", f"sql_load_rows.fn, {n:,} rows", "rows/s", n / fn_s,
           raw=n / raw_s, raw_label=copy, better="higher")  # fmt: skip
    record("pandas_to_sql", f"pandas to_sql (method='multi'), {pn:,} rows", "rows/s",
           pn / pandas_multi, raw=n / raw_s, raw_label=copy, better="higher")  # fmt: skip
    record("sql_load_rows_cpu", f"sql_load_rows, {n:,} rows: client CPU", "s", task_cpu,
           raw=raw_cpu, raw_label=copy, target=1.05, vs="raw")  # fmt: skip
    cursor = "server-side cursor"
    record("sql_fetch_many", f"sql_fetch_many, {n:,} rows, as a task", "rows/s", n / warm["task"],
           raw=n / warm["raw"], raw_label=cursor, better="higher", target=0.95,
           vs="raw")  # fmt: skip
    record("sql_fetch_many_fresh", f"sql_fetch_many.fn, {n:,} rows, in a fresh process",
           "rows/s", o["rows"] / o["seconds"], raw=r["rows"] / r["seconds"], raw_label=cursor,
           better="higher", note="first call: imports SQLAlchemy's dialect")  # fmt: skip
    record("sql_fetch_many_rss", "sql_fetch_many: peak RSS of the process", "MB", o["rss_mb"],
           raw=r["rss_mb"], raw_label=cursor, target=1.2, vs="raw",
           note="imports included: SQLAlchemy, pydantic, orch")  # fmt: skip
    record("sql_fetch_many_stream_rss", "sql_fetch_many: RSS the stream adds", "MB",
           o["stream_mb"], raw=r["stream_mb"], raw_label=cursor, target=1.2,
           vs="raw")  # fmt: skip
    print()
    # The data path asks the connector for its engine per call (the kit's Connector):
    # on a block that has its engine, that must cost a look-up, not a fingerprint.
    db.get_client()
    per_call = min(timeit.repeat(db.get_client, number=100_000, repeat=5)) / 100_000
    print(f"get_client() on a connector holding its engine: {per_call * 1e6:.2f} us per call")
    record("get_client", "get_client() on a connector holding its engine", "µs", per_call * 1e6)
    db.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
