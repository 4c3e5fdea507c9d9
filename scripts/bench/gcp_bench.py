"""orch-gcp figures, side by side with raw google-cloud libraries in the same run, against
the local emulators (the GCS emulator; bqemulator from the venv the tests make).

- One object up and down: ``gcs_upload``/``gcs_download`` vs ``Blob.upload_from_filename``
  / ``download_to_filename``. Target: orch/raw throughput >= 0.95 (``--size-mib 256`` is
  the issue's size; default 64).
- A folder of 1,000 small files: ``gcs_upload`` (parallel) vs a serial loop of
  ``upload_from_filename`` (what prefect-gcp does).
- A query of ``--rows`` rows (default 1M) streamed: ``bigquery_fetch_many`` vs iterating
  ``client.query().result()``, wall time and peak RSS, each in its own process.
- ``import orch_gcp`` over bare Python. Target: <= 80 ms.

The emulators keep data in memory on this machine, so absolute rates are theirs: read the
ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from _common import parser, record  # noqa: E402

MiB = 1024 * 1024

QUERY_CHILD = """
import json, sys, time

def hwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

mode, endpoint, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
query = (
    "SELECT x, CONCAT('row-', CAST(x AS STRING)) AS s "
    f"FROM UNNEST(GENERATE_ARRAY(1, {rows})) AS x"
)
from orch_gcp import BigQueryWarehouse, GcpCredentials, bigquery_fetch_many
creds = GcpCredentials(anonymous=True, project="bq-test", endpoints={"bigquery": endpoint})
client = creds.get_client("bigquery")
before = hwm_mib()
start = time.perf_counter()
n = 0
if mode == "orch":
    for page in bigquery_fetch_many.fn(BigQueryWarehouse(credentials=creds), query):
        n += len(page)
else:
    for row in client.query(query).result():
        n += 1
seconds = time.perf_counter() - start
peak = hwm_mib()
print(json.dumps({"n": n, "seconds": seconds, "peak_mib": peak, "growth_mib": peak - before}))
"""


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def import_ms(module: str, runs: int = 7) -> float:
    """Median wall time of ``python -c "import module"`` minus bare Python (ms)."""
    diffs = []
    for _ in range(runs):
        bare = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
        full = timed(lambda: subprocess.run([sys.executable, "-c", f"import {module}"], check=True))
        diffs.append((full - bare) * 1000)
    return statistics.median(diffs)


def start(
    command: list[str], ready_url: str, log: Path, timeout: float = 120
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(ready_url, timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"{command[0]} did not start: see {log}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def row(metric: str, ours: float, raw: float, unit: str, ratio: float, target: str) -> None:
    print(f"{metric:40} {ours:>9,.2f} {unit:5} {raw:>9,.2f} {unit:5} {ratio:>8.3f}  {target}")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--size-mib", type=int, default=64, help="object size (the issue's: 256)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each transfer")
    p.add_argument("--files", type=int, default=1000, help="small files in the folder")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the streamed query")
    p.add_argument("--no-bigquery", action="store_true", help="skip the query (no bqemulator)")
    args = p.parse_args()

    from orch_gcp import GcpCredentials, GcsBucket, gcs_download, gcs_upload

    work = Path(tempfile.mkdtemp(prefix="gcp-bench-"))
    port = free_port()
    gcs = start(
        [
            str(Path(sys.executable).parent / "gcp-storage-emulator"),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
        ],
        f"http://127.0.0.1:{port}/storage/v1/b?project=bench",
        work / "gcs.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        creds = GcpCredentials(anonymous=True, project="bench", endpoints={"storage": url})
        client = creds.get_client("storage")
        client.create_bucket("bench")
        bucket = GcsBucket(bucket="bench", credentials=creds)
        raw = client.bucket("bench")
        src = work / "big.bin"
        with src.open("wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(MiB))
        size = args.size_mib
        print(f"{'metric':40} {'orch':>15} {'raw SDK':>15} {'orch/raw':>8}  target")
        up_o, up_r, down_o, down_r = [], [], [], []
        for i in range(args.runs):
            pair = [
                ("orch", lambda: gcs_upload.fn(bucket, src, "o.bin", progress=False)),
                ("raw", lambda: raw.blob("r.bin").upload_from_filename(str(src))),
            ]
            for side, fn in pair if i % 2 == 0 else pair[::-1]:
                (up_o if side == "orch" else up_r).append(size / timed(fn))
            pair = [
                ("orch", lambda: gcs_download.fn(bucket, "o.bin", work / "o.out", progress=False)),
                ("raw", lambda: raw.blob("r.bin").download_to_filename(str(work / "r.out"))),
            ]
            for side, fn in pair if i % 2 == 0 else pair[::-1]:
                (down_o if side == "orch" else down_r).append(size / timed(fn))
        o, r = statistics.median(up_o), statistics.median(up_r)
        row(f"upload {size} MiB (MiB/s)", o, r, "MiB/s", o / r, ">= 0.95")
        record("gcs_upload", f"gcs_upload {size} MiB", "MiB/s", o, raw=r,
               raw_label="google-cloud-storage", better="higher", target=0.95,
               vs="raw")  # fmt: skip
        o, r = statistics.median(down_o), statistics.median(down_r)
        row(f"download {size} MiB (MiB/s)", o, r, "MiB/s", o / r, ">= 0.95")
        record("gcs_download", f"gcs_download {size} MiB", "MiB/s", o, raw=r,
               raw_label="google-cloud-storage", better="higher", target=0.95,
               vs="raw")  # fmt: skip
        print(f"  runs: up orch {up_o} raw {up_r}; down orch {down_o} raw {down_r}")

        folder = work / "folder"
        folder.mkdir()
        for i in range(args.files):
            (folder / f"f{i:04}.txt").write_bytes(os.urandom(2048))
        t_orch = timed(lambda: gcs_upload.fn(bucket, folder, "par", progress=False))

        def serial() -> None:
            for file in sorted(folder.iterdir()):
                raw.blob(f"ser/{file.name}").upload_from_filename(str(file))

        t_raw = timed(serial)
        row(f"folder of {args.files} files (s)", t_orch, t_raw, "s", t_raw / t_orch, "faster")
        record("gcs_upload_folder", f"gcs_upload, a folder of {args.files} small files", "s",
               t_orch, raw=t_raw, raw_label="blob by blob", target=1.0, vs="raw")  # fmt: skip
    finally:
        gcs.terminate()

    if not args.no_bigquery:
        from tests.backends.bigquery import LAUNCHER, PROJECT, bqemulator_python

        python = bqemulator_python(work / "bq-venv.log")
        bq_port = free_port()
        bq = start(
            [
                str(python),
                str(LAUNCHER),
                "start",
                "--rest-port",
                str(bq_port),
                "--grpc-port",
                "0",
                "--project",
                PROJECT,
                "--log-level",
                "warning",
            ],
            f"http://127.0.0.1:{bq_port}/bigquery/v2/projects/{PROJECT}/datasets",
            work / "bq.log",
        )
        try:
            endpoint = f"http://127.0.0.1:{bq_port}"
            results = {}
            for mode in ("orch", "raw"):
                out = subprocess.run(
                    [sys.executable, "-c", QUERY_CHILD, mode, endpoint, str(args.rows)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            o, r = results["orch"], results["raw"]
            assert o["n"] == r["n"] == args.rows, (o, r)
            row(
                f"query {args.rows:,} rows (s)",
                o["seconds"],
                r["seconds"],
                "s",
                r["seconds"] / o["seconds"],
                "time",
            )
            record("bigquery_query", f"query {args.rows:,} rows", "s", o["seconds"],
                   raw=r["seconds"], raw_label="google-cloud-bigquery")  # fmt: skip
            record("bigquery_query_rss", f"query {args.rows:,} rows: peak RSS", "MiB",
                   o["peak_mib"], raw=r["peak_mib"],
                   raw_label="google-cloud-bigquery")  # fmt: skip
            row(
                "  peak RSS (MiB)",
                o["peak_mib"],
                r["peak_mib"],
                "MiB",
                r["peak_mib"] / o["peak_mib"],
                "bounded",
            )
        finally:
            bq.terminate()

    imp = import_ms("orch_gcp")
    sdk = import_ms("google.cloud.storage")
    row("import orch_gcp / google.cloud.storage (ms)", imp, sdk, "ms", sdk / imp, "<= 80 ms")
    record("import", "import orch_gcp / google.cloud.storage (over bare Python)", "ms", imp,
           raw=sdk, raw_label="google-cloud-storage", target=80)  # fmt: skip


if __name__ == "__main__":
    main()
