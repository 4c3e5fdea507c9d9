"""orch-snowflake figures, side by side with the raw connector, in one run.

1. Load a DataFrame of N rows (int, text, float), like for like: ``snowflake_load_dataframe``
   vs the raw connector doing what ``write_pandas`` does on real Snowflake, step by step,
   on the same fakesnow server: pyarrow Parquet files of the same ``chunk_rows``, a
   temporary stage, ``PUT``, ``CREATE TABLE``, one ``COPY INTO`` in a transaction.
   (``write_pandas`` itself can't run over the server: fakesnow parses neither its quoted
   stage name in ``PUT`` nor ``INFER_SCHEMA``.) Interleaved in one process, median of
   ``--repeat``; wall time and the client's CPU time.
   For reference only, ``write_pandas`` in fakesnow's in-process ``patch()`` mode, where
   fakesnow replaces it with a direct DuckDB insert of the frame (no Parquet, no PUT, no
   COPY): not like for like, an upper bound real Snowflake's ``write_pandas`` can't reach.
2. Stream N rows back: ``snowflake_fetch_many`` vs a raw cursor's ``fetchmany``, each in a
   fresh process (interleaved, median of ``--repeat``): rows/s and peak RSS.

What is left, and why (cProfile of both loads, A/B in one process): both spend their time
in the same places, pyarrow (``Table.from_pandas``, ``write_table``), the connector's
``PUT`` (file transfer threads) and the server's ``COPY INTO``. Ours on top: per load, a
``DROP STAGE`` (the stage goes at once, not at the end of the session; fakesnow refuses
it, which costs a round trip), the session taken from the idle list, and a check of
``COPY INTO``'s row count; per chunk, a progress count. A few ms per load in all; the
rest of the spread between runs is the shared machine.

The issue's size is ``--full`` (1,000,000 rows); the default (100,000) runs in a minute or
two on a small machine. Figures are from fakesnow (DuckDB behind an HTTP server), so they
compare orch's overhead with the raw connector's, not with real Snowflake.
Run with scripts/bench/run snowflake (or directly with the venv's python).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, record

DB = "BENCH"

# Runs in a fresh process, so that its peak RSS is the reader's alone.
READER = r"""
import json, sys, time
mode, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import snowflake.connector
if mode == "orch":
    import orch_snowflake.tasks  # imports are not part of the figure
server = dict(host="127.0.0.1", port=port, protocol="http")
query = "SELECT * FROM bench"
start = time.perf_counter()
rows = 0
if mode == "orch":
    from orch_snowflake import SnowflakeConnector, SnowflakeCredentials, snowflake_fetch_many
    sf = SnowflakeConnector(credentials=SnowflakeCredentials(
        account="bench", user="bench", password="bench", **server), database="BENCH",
        schema="PUBLIC")
    for batch in snowflake_fetch_many.fn(sf, query, size=size):
        rows += len(batch)
else:
    import snowflake.connector
    conn = snowflake.connector.connect(account="bench", user="bench", password="bench",
                                       database="BENCH", schema="PUBLIC", **server)
    cur = conn.cursor()
    cur.execute(query)
    while True:
        batch = cur.fetchmany(size)
        if not batch:
            break
        rows += len(batch)
elapsed = time.perf_counter() - start
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork+exec.
with open("/proc/self/status") as f:
    peak_mb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
print(json.dumps({"rows": rows, "seconds": elapsed, "peak_mb": peak_mb}))
"""

PATCH_NOTE = (
    "under fakesnow's patch() write_pandas is a direct DuckDB insert (no Parquet, PUT or "
    "COPY), so this is no like-for-like ratio and has no target"
)

WRITE_PANDAS = r"""
import json, sys, time
import fakesnow, pandas as pd
n = int(sys.argv[1])
df = pd.DataFrame({"ID": range(n), "NAME": [f"name {i}" for i in range(n)],
                   "AMOUNT": [i * 0.5 for i in range(n)]})
with fakesnow.patch():
    import snowflake.connector
    from snowflake.connector.pandas_tools import write_pandas
    conn = snowflake.connector.connect(database="BENCH", schema="PUBLIC")
    conn.cursor().execute("CREATE DATABASE IF NOT EXISTS BENCH")
    conn.cursor().execute("CREATE SCHEMA IF NOT EXISTS BENCH.PUBLIC")
    conn.cursor().execute("USE SCHEMA BENCH.PUBLIC")
    start = time.perf_counter()
    ok, _, rows, _ = write_pandas(conn, df, "BENCH_WP", auto_create_table=True)
    raw_seconds = time.perf_counter() - start
    from orch_snowflake import SnowflakeConnector, SnowflakeCredentials, snowflake_load_dataframe
    sf = SnowflakeConnector(credentials=SnowflakeCredentials(account="b", user="b",
                            password="b"), database="BENCH", schema="PUBLIC")
    start = time.perf_counter()
    loaded = snowflake_load_dataframe.fn(sf, df, "BENCH_ORCH", mode="create")
    orch_seconds = time.perf_counter() - start
    assert loaded == rows == n, (loaded, rows)
    print(json.dumps({"rows": rows, "seconds": raw_seconds, "orch_seconds": orch_seconds}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    exe = Path(sys.executable).parent / "fakesnow"
    proc = subprocess.Popen(
        [str(exe), "-s", "--host", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"fakesnow did not start; see {log}")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--full", action="store_true", help="1,000,000 rows (the issue's size)")
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--repeat", type=int, default=3, help="runs per method (median)")
    args = p.parse_args()
    n = args.rows or (1_000_000 if args.full else 100_000)
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import snowflake.connector
    from orch_snowflake import (
        SnowflakeConnector,
        SnowflakeCredentials,
        snowflake_fetch_many,
        snowflake_load_dataframe,
    )
    from orch_snowflake.tasks.loads import DEFAULT_CHUNK_ROWS

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ORCH_HOME"] = tmp
        proc, port = _start_server(Path(tmp) / "fakesnow.log")
        try:
            server = {"host": "127.0.0.1", "port": port, "protocol": "http"}
            raw = snowflake.connector.connect(account="b", user="b", password="b", **server)
            raw.cursor().execute(f"CREATE DATABASE {DB}")
            raw.cursor().execute(f"CREATE SCHEMA {DB}.PUBLIC")
            df = pd.DataFrame(
                {
                    "id": range(n),
                    "name": [f"name {i}" for i in range(n)],
                    "amount": [i * 0.5 for i in range(n)],
                }
            )
            sf = SnowflakeConnector(
                credentials=SnowflakeCredentials(account="b", user="b", password="b", **server),
                database=DB,
                schema="PUBLIC",
            )
            raw.cursor().execute(f"USE SCHEMA {DB}.PUBLIC")
            chunk_rows = DEFAULT_CHUNK_ROWS

            def raw_load(table: str) -> None:
                # write_pandas's steps (real Snowflake), by hand, with our chunking.
                cur = raw.cursor()
                stage = f"STAGE_{uuid.uuid4().hex[:12].upper()}"
                cur.execute(f"CREATE TEMPORARY STAGE {stage}")
                with tempfile.TemporaryDirectory() as files:
                    for part, start in enumerate(range(0, n, chunk_rows)):
                        frame = df.iloc[start : start + chunk_rows]
                        path = os.path.join(files, f"part-{part}.parquet")
                        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
                        cur.execute(
                            f"PUT 'file://{path}' @{stage}/load PARALLEL = 4 "
                            "AUTO_COMPRESS = FALSE OVERWRITE = TRUE"
                        )
                        os.remove(path)
                cur.execute(
                    f'CREATE TABLE {table} ("ID" NUMBER(38,0), "NAME" VARCHAR, "AMOUNT" FLOAT)'
                )
                cur.execute("BEGIN")
                cur.execute(
                    f"COPY INTO {table} FROM @{stage}/load/ FILE_FORMAT = (TYPE = PARQUET "
                    "USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE "
                    "ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
                )
                loaded = sum(int(r[3]) for r in cur.fetchall())
                cur.execute("COMMIT")
                assert loaded == n, loaded

            def orch_load(table: str) -> None:
                assert snowflake_load_dataframe.fn(sf, df, table, mode="create") == n

            def orch_task(table: str) -> None:
                assert snowflake_load_dataframe(sf, df, table, mode="create") == n

            loads = {"raw": raw_load, "fn": orch_load, "task": orch_task}
            load_t: dict[str, list[float]] = {k: [] for k in loads}
            load_cpu: dict[str, list[float]] = {k: [] for k in loads}
            for key, fn in loads.items():
                fn(f"WARM_{key}")  # sessions, imports
            order = list(loads.items())
            for i in range(args.repeat):  # interleaved: drift on a shared machine hits all
                order = order[1:] + order[:1]  # and each goes first in turn
                for key, fn in order:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    fn(f"T_{key}_{i}")
                    load_t[key].append(time.perf_counter() - start)
                    load_cpu[key].append(time.process_time() - start_cpu)
            wall = {k: statistics.median(v) for k, v in load_t.items()}
            cpu = {k: statistics.median(v) for k, v in load_cpu.items()}
            orch_load("bench")  # the table the readers stream

            def raw_stream() -> None:
                rows, cur = 0, raw.cursor()
                cur.execute("SELECT * FROM bench")
                while batch := cur.fetchmany(10_000):
                    rows += len(batch)
                cur.close()
                assert rows == n, rows

            def orch_stream() -> None:
                rows = 0
                for batch in snowflake_fetch_many.fn(sf, "SELECT * FROM bench", size=10_000):
                    rows += len(batch)
                assert rows == n, rows

            stream_fns = {"raw": raw_stream, "orch": orch_stream}
            stream_t: dict[str, list[float]] = {k: [] for k in stream_fns}
            for fn in stream_fns.values():
                fn()  # warm-up
            for _ in range(args.repeat):
                for key, fn in stream_fns.items():
                    start = time.perf_counter()
                    fn()
                    stream_t[key].append(time.perf_counter() - start)
            warm = {k: statistics.median(v) for k, v in stream_t.items()}
            sf.close()
            wp = subprocess.run(
                [sys.executable, "-c", WRITE_PANDAS, str(n)],
                capture_output=True,
                text=True,
                check=False,
            )
            raw_load = (
                json.loads(wp.stdout.strip().splitlines()[-1]) if wp.returncode == 0 else None
            )
            if raw_load is None:
                print("write_pandas benchmark failed:", wp.stderr[-800:], file=sys.stderr)
            runs: dict[str, list[dict[str, float]]] = {"orch": [], "raw": []}
            for _ in range(args.repeat):
                for mode in ("raw", "orch"):
                    out = subprocess.run(
                        [sys.executable, "-c", READER, mode, str(port), "10000"],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    assert result["rows"] == n, result
                    runs[mode].append(result)
            streams = {
                mode: {
                    "seconds": statistics.median(r["seconds"] for r in results),
                    "peak_mb": max(r["peak_mb"] for r in results),
                }
                for mode, results in runs.items()
            }
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    def row(metric: str, ours: float, peer: float | None, unit: str, better: str) -> None:
        peer_s = f"{peer:>14,.1f}" if peer is not None else f"{'-':>14}"
        ratio = f"{ours / peer:>8.2f}x" if peer else f"{'-':>9}"
        print(f"{metric:44} {ours:>14,.1f} {peer_s} {ratio}  ({better})")

    print(f"rows: {n:,}  (fakesnow server; raw = snowflake-connector-python)")
    print(f"{'metric':44} {'orch':>14} {'raw':>14} {'orch/raw':>9}")
    raw_rate = n / wall["raw"]
    row("load DataFrame, rows/s, as a task", n / wall["task"], raw_rate, "", "higher")
    row("load DataFrame, rows/s, .fn", n / wall["fn"], raw_rate, "", "higher")
    row(
        "  client CPU ms, .fn (raw: the same steps)", cpu["fn"] * 1e3, cpu["raw"] * 1e3, "", "lower"
    )
    if raw_load:
        row(
            "ref.: patch mode vs write_pandas (not l-f-l)",
            n / raw_load["orch_seconds"],
            n / raw_load["seconds"],
            "",
            "higher",
        )
    o, r = streams["orch"], streams["raw"]
    row("stream rows, rows/s (in this process)", n / warm["orch"], n / warm["raw"], "", "higher")
    row("stream rows, rows/s (fresh process)", n / o["seconds"], n / r["seconds"], "", "higher")
    row("stream rows, peak RSS MB (fresh process)", o["peak_mb"], r["peak_mb"], "", "lower")
    sdk = "snowflake-connector"
    steps = "connector, write_pandas's steps"
    record("load_dataframe", f"snowflake_load_dataframe, {n:,} rows, as a task", "rows/s",
           n / wall["task"], raw=raw_rate, raw_label=steps, better="higher", target=0.95,
           vs="raw")  # fmt: skip
    record("load_dataframe_fn", f"snowflake_load_dataframe.fn, {n:,} rows", "rows/s",
           n / wall["fn"], raw=raw_rate, raw_label=steps, better="higher")  # fmt: skip
    record("load_dataframe_cpu", "load: client CPU, .fn", "ms", cpu["fn"] * 1e3,
           raw=cpu["raw"] * 1e3, raw_label=steps)  # fmt: skip
    if raw_load:  # fakesnow's patch mode: write_pandas is a DuckDB insert (not like for like)
        record("load_dataframe_patch_mode",
               f"reference: patch mode vs write_pandas, {n:,} rows", "rows/s",
               n / raw_load["orch_seconds"], raw=n / raw_load["seconds"],
               raw_label="write_pandas", better="higher", note=PATCH_NOTE)  # fmt: skip
    record("stream_rows", f"stream {n:,} rows (in this process)", "rows/s", n / warm["orch"],
           raw=n / warm["raw"], raw_label=sdk, better="higher", target=0.95,
           vs="raw")  # fmt: skip
    record("stream_rows_fresh", f"stream {n:,} rows (fresh process)", "rows/s", n / o["seconds"],
           raw=n / r["seconds"], raw_label=sdk, better="higher")  # fmt: skip
    record("stream_rows_rss", "stream rows: peak RSS (fresh process)", "MB", o["peak_mb"],
           raw=r["peak_mb"], raw_label=sdk)  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
