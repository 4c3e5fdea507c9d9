"""orch-snowflake figures, side by side with the raw connector, in one run.

1. Load a DataFrame of N rows (int, text, float): ``snowflake_load_dataframe`` (Parquet,
   PUT, COPY INTO, over the fakesnow server) vs the connector's own ``write_pandas``,
   which works only in fakesnow's in-process ``patch()`` mode, so it runs there; and, for
   a same-engine ratio, ``snowflake_load_dataframe`` in ``patch()`` mode too. Mind that
   under ``patch()`` fakesnow replaces ``write_pandas`` with a direct DuckDB insert of the
   frame (no Parquet, no PUT, no COPY), so its figure is an upper bound that real
   Snowflake's ``write_pandas`` (Parquet, PUT, COPY INTO: our path) does not reach.
2. Stream N rows back: ``snowflake_fetch_many`` vs a raw cursor's ``fetchmany``, each in a
   fresh process: rows/s and peak RSS.

The issue's size is ``--full`` (1,000,000 rows); the default (100,000) runs in a minute or
two on a small machine. Figures are from fakesnow (DuckDB behind an HTTP server), so they
compare orch's overhead with the raw connector's, not with real Snowflake.
Run with scripts/bench/run snowflake (or directly with the venv's python).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, record

DB = "BENCH"

# Runs in a fresh process, so that its peak RSS is the reader's alone.
READER = r"""
import json, resource, sys, time
mode, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
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
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
    args = p.parse_args()
    n = args.rows or (1_000_000 if args.full else 100_000)
    import pandas as pd
    import snowflake.connector
    from orch_snowflake import SnowflakeConnector, SnowflakeCredentials, snowflake_load_dataframe

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
            start = time.perf_counter()
            loaded = snowflake_load_dataframe.fn(sf, df, "bench", mode="create")
            orch_load = time.perf_counter() - start
            assert loaded == n, loaded
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
            streams = {}
            for mode in ("orch", "raw"):
                out = subprocess.run(
                    [sys.executable, "-c", READER, mode, str(port), "10000"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                streams[mode] = json.loads(out.stdout.strip().splitlines()[-1])
                assert streams[mode]["rows"] == n, streams[mode]
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    def row(metric: str, ours: float, peer: float | None, unit: str, better: str) -> None:
        peer_s = f"{peer:>14,.1f}" if peer is not None else f"{'-':>14}"
        ratio = f"{ours / peer:>8.2f}x" if peer else f"{'-':>9}"
        print(f"{metric:44} {ours:>14,.1f} {peer_s} {ratio}  ({better})")

    print(f"rows: {n:,}  (fakesnow server; raw = snowflake-connector-python)")
    print(f"{'metric':44} {'orch':>14} {'raw':>14} {'orch/raw':>9}")
    raw_rate = n / raw_load["seconds"] if raw_load else None
    row("load DataFrame, rows/s (raw: write_pandas)", n / orch_load, raw_rate, "", "higher")
    if raw_load:
        row(
            "  same, both in-process (patch mode)",
            n / raw_load["orch_seconds"],
            raw_rate,
            "",
            "higher",
        )
    o, r = streams["orch"], streams["raw"]
    row("stream rows, rows/s", n / o["seconds"], n / r["seconds"], "", "higher")
    row("stream rows, peak RSS MB (fresh process)", o["peak_mb"], r["peak_mb"], "", "lower")
    sdk = "snowflake-connector"
    record("load_dataframe", f"snowflake_load_dataframe, {n:,} rows", "rows/s", n / orch_load,
           raw=raw_rate, raw_label="write_pandas", better="higher")  # fmt: skip
    if raw_load:  # both in one process; not like for like yet (the note), so no target
        record("load_dataframe_same_process",
               f"snowflake_load_dataframe, {n:,} rows, both in-process", "rows/s",
               n / raw_load["orch_seconds"], raw=raw_rate, raw_label="write_pandas",
               better="higher", note=PATCH_NOTE)  # fmt: skip
    record("stream_rows", f"stream {n:,} rows", "rows/s", n / o["seconds"],
           raw=n / r["seconds"], raw_label=sdk, better="higher")  # fmt: skip
    record("stream_rows_rss", "stream rows: peak RSS (fresh process)", "MB", o["peak_mb"],
           raw=r["peak_mb"], raw_label=sdk)  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
