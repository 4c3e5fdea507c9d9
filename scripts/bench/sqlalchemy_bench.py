"""orch-sqlalchemy figures on PostgreSQL, side by side with the raw driver, in one run.

1. Bulk load of N rows (int, text, timestamp): ``sql_load_rows`` vs raw psycopg ``COPY``
   (target: >= 0.9 of raw throughput), and pandas ``DataFrame.to_sql`` (default and
   ``method="multi"``) for reference.
2. Streaming N rows back: ``sql_fetch_many`` vs a raw psycopg server-side cursor: rows/s
   and peak RSS of a fresh process (target: <= 150 MB).
3. ``get_client()`` on a connector that holds its engine (a look-up: well under 1 us).

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
    import sqlalchemy, orch_sqlalchemy.tasks  # imports are not part of the figure
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
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork+exec.
with open("/proc/self/status") as f:
    rss_mb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
print(json.dumps({"rows": n, "seconds": elapsed, "rss_mb": rss_mb}))
"""


def make_rows(n: int) -> list[tuple[int, str, datetime]]:
    t0 = datetime(2024, 1, 1)
    return [(i, f"name-{i % 1000}-{i}", t0 + timedelta(seconds=i)) for i in range(n)]


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=200_000, help="rows per load (issue: 1000000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per load method (median)")
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
    from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector, sql_load_rows

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

    def timed(fn: Callable[[], None]) -> float:
        reset()
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    timed(lambda: sql_load_rows(db, "bench", rows[:10]))  # warm-up: engine, pool, imports
    raw_t: list[float] = []
    orch_t: list[float] = []
    fn_t: list[float] = []
    for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits all
        raw_t.append(timed(raw_copy))
        orch_t.append(timed(orch_load))
        fn_t.append(timed(orch_load_fn))
    raw_s, orch_s = statistics.median(raw_t), statistics.median(orch_t)
    fn_s = statistics.median(fn_t)

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
        f"target: sql_load_rows >= 0.90x raw COPY -> task {raw_s / orch_s:.2f}x, "
        f".fn {raw_s / fn_s:.2f}x"
    )
    print()
    print(
        f"Streaming {n:,} rows back, batches of {args.fetch_size:,}, each in a fresh process; "
        f"median of {args.repeat}"
    )
    head = f"{'method':44} {'rows/s':>12} {'vs raw':>8} {'peak RSS':>10}"
    print(head)
    print("-" * len(head))
    raw_rate = reader["raw"]["rows"] / reader["raw"]["seconds"]
    for label, mode in (
        ("raw psycopg server-side cursor", "raw"),
        ("orch sql_fetch_many", "orch"),
    ):
        r = reader[mode]
        rate = r["rows"] / r["seconds"]
        print(f"{label:44} {rate:>12,.0f} {rate / raw_rate:>7.2f}x {r['rss_mb']:>7.0f} MB")
    print("target: sql_fetch_many peak RSS <= 150 MB")
    copy = "psycopg COPY"
    record("sql_load_rows", f"sql_load_rows, {n:,} rows, as a task", "rows/s", n / orch_s,
           raw=n / raw_s, raw_label=copy, better="higher", target=0.95, vs="raw")  # fmt: skip
    record("sql_load_rows_fn", f"sql_load_rows.fn, {n:,} rows", "rows/s", n / fn_s,
           raw=n / raw_s, raw_label=copy, better="higher")  # fmt: skip
    record("pandas_to_sql", f"pandas to_sql (method='multi'), {pn:,} rows", "rows/s",
           pn / pandas_multi, raw=n / raw_s, raw_label=copy, better="higher")  # fmt: skip
    o, r = reader["orch"], reader["raw"]
    cursor = "server-side cursor"
    record("sql_fetch_many", f"sql_fetch_many, {n:,} rows", "rows/s", o["rows"] / o["seconds"],
           raw=r["rows"] / r["seconds"], raw_label=cursor, better="higher", target=0.95,
           vs="raw")  # fmt: skip
    record("sql_fetch_many_rss", "sql_fetch_many: peak RSS", "MB", o["rss_mb"], raw=r["rss_mb"],
           raw_label=cursor, target=1.2, vs="raw")  # fmt: skip
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
