"""orch-aws figures, side by side with raw boto3 in the same run, against a local moto server.

- Upload and download one file: ``s3_upload``/``s3_download`` vs boto3's ``upload_file``/
  ``download_file`` with the same ``TransferConfig``. Target: orch/boto3 throughput >= 0.95.
- List 10,000 objects: ``s3_list`` vs boto3's paginator, wall time and peak RSS (each in its
  own process, so earlier transfers do not inflate the peak).

Default size 64 MiB (a couple of minutes on a small machine); ``--size-mib 512`` is the
issue's size. moto keeps objects in memory, so absolute rates are moto's, not S3's: read
the ratios.
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
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import parser, record

MiB = 1024 * 1024
PART = 8 * MiB
CONCURRENCY = 10
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}

LIST_CHILD = """
import json, sys, time

def hwm_mib():
    # VmHWM (peak RSS) of this process image; ru_maxrss would carry the parent's peak
    # across fork+exec on Linux.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
mode, endpoint, bucket = sys.argv[1:4]
if mode == "orch":
    from orch_aws import AwsCredentials, S3Bucket
    from orch_aws.tasks import s3_list
    b = S3Bucket(bucket_name=bucket, credentials=AwsCredentials(endpoint_url=endpoint))
    b.get_client()
    run = lambda: sum(1 for _ in s3_list(b, prefix="many/"))
else:
    import boto3
    c = boto3.client("s3", endpoint_url=endpoint)
    def run():
        pages = c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/")
        return sum(1 for p in pages for _ in p.get("Contents", ()))
before = hwm_mib()
start = time.perf_counter()
n = run()
seconds = time.perf_counter() - start
peak = hwm_mib()
print(json.dumps({"n": n, "seconds": seconds, "peak_mib": peak, "growth_mib": peak - before}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    exe = str(Path(sys.executable).parent / "moto_server")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"moto_server did not start: see {log}")


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def import_ms(module: str, runs: int = 5) -> float:
    """Median wall time of ``python -c "import module"`` minus that of bare Python (ms)."""
    diffs = []
    for _ in range(runs):
        bare = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
        full = timed(lambda: subprocess.run([sys.executable, "-c", f"import {module}"], check=True))
        diffs.append((full - bare) * 1000)
    return statistics.median(diffs)


def get_client_us(creds: object, n: int = 20_000) -> float:
    """Cost of ``creds.get_client("s3")`` on a block that already has its client (µs)."""
    import timeit

    get = creds.get_client  # type: ignore[attr-defined]
    get("s3")
    return min(timeit.repeat(lambda: get("s3"), number=n, repeat=5)) / n * 1e6


def row(metric: str, ours: float, raw: float, unit: str, ratio: float, target: str) -> None:
    print(f"{metric:34} {ours:>9,.2f} {unit:5} {raw:>9,.2f} {unit:5} {ratio:>10.3f}  {target}")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--size-mib", type=int, default=64, help="file size (the issue's: 512)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each transfer")
    p.add_argument("--objects", type=int, default=10_000, help="objects to list")
    args = p.parse_args()
    os.environ.update(ENV)

    import boto3
    from boto3.s3.transfer import TransferConfig
    from orch_aws import AwsCredentials, S3Bucket
    from orch_aws.tasks import s3_download, s3_upload

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["ORCH_HOME"] = str(tmp / "home")
        proc, endpoint = start_moto(tmp / "moto.log")
        try:
            creds = AwsCredentials(endpoint_url=endpoint, region_name="us-east-1")
            bucket = S3Bucket(bucket_name="bench-bucket", credentials=creds)
            raw = boto3.client("s3", endpoint_url=endpoint)
            raw.create_bucket(Bucket="bench-bucket")
            config = TransferConfig(
                multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=CONCURRENCY
            )
            src = tmp / "src.bin"
            with src.open("wb") as f:
                for _ in range(args.size_mib):
                    f.write(os.urandom(MiB))
            size = args.size_mib

            def orch_up() -> None:
                s3_upload(bucket, src, "orch.bin")  # defaults: log lines off a TTY

            def raw_up() -> None:
                raw.upload_file(str(src), "bench-bucket", "raw.bin", Config=config)

            def orch_down() -> None:
                s3_download(bucket, "orch.bin", tmp / "orch.out")

            def raw_down() -> None:
                raw.download_file("bench-bucket", "raw.bin", str(tmp / "raw.out"), Config=config)

            # One warm-up each (connections, imports), then alternate, and swap which side
            # goes first every run: drift, and moto freeing the object a run replaces,
            # then hit both sides alike.
            for fn in (orch_up, raw_up, orch_down, raw_down):
                fn()
            up: dict[str, list[float]] = {"orch": [], "raw": []}
            down: dict[str, list[float]] = {"orch": [], "raw": []}
            for run in range(args.runs):
                sides = ["orch", "raw"] if run % 2 == 0 else ["raw", "orch"]
                for side in sides:
                    up[side].append(timed(orch_up if side == "orch" else raw_up))
                for side in sides:
                    down[side].append(timed(orch_down if side == "orch" else raw_down))
            assert (tmp / "orch.out").read_bytes() == src.read_bytes()

            n = args.objects
            with ThreadPoolExecutor(16) as pool:
                list(
                    pool.map(
                        lambda i: raw.put_object(
                            Bucket="bench-bucket", Key=f"many/{i:06d}", Body=b"x"
                        ),
                        range(n),
                    )
                )
            listing = {}
            for mode in ("orch", "raw"):
                out = subprocess.run(
                    [sys.executable, "-c", LIST_CHILD, mode, endpoint, "bench-bucket"],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ},
                )
                listing[mode] = json.loads(out.stdout.strip().splitlines()[-1])
                assert listing[mode]["n"] == n, listing[mode]
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    up_o, up_r = statistics.median(up["orch"]), statistics.median(up["raw"])
    dn_o, dn_r = statistics.median(down["orch"]), statistics.median(down["raw"])
    head = f"{'metric':34} {'orch':>15} {'boto3':>15} {'orch/boto3':>10}  target"
    print(
        f"file {size} MiB, part {PART // MiB} MiB, concurrency {CONCURRENCY}, moto server, "
        f"median of {args.runs}"
    )
    print(head)
    print("-" * len(head))
    row(f"upload {size} MiB", size / up_o, size / up_r, "MiB/s", up_r / up_o, ">= 0.95")
    row(f"download {size} MiB", size / dn_o, size / dn_r, "MiB/s", dn_r / dn_o, ">= 0.95")
    lo, lr = listing["orch"], listing["raw"]
    imp_o, imp_r = import_ms("orch_aws"), import_ms("boto3")
    row("import (ms over bare Python)", imp_o, imp_r, "ms", imp_o / imp_r, "orch <= 80")
    row(
        f"list {n:,} objects",
        lo["seconds"],
        lr["seconds"],
        "s",
        lr["seconds"] / lo["seconds"],
        "(time ratio)",
    )
    row(
        "list: peak RSS of the process",
        lo["peak_mib"],
        lr["peak_mib"],
        "MiB",
        lo["peak_mib"] / lr["peak_mib"],
        "",
    )
    row(
        "list: RSS growth while listing",
        lo["growth_mib"],
        lr["growth_mib"],
        "MiB",
        float("nan"),
        "",
    )
    get_us = get_client_us(creds)
    print(f"get_client('s3') on a block that has its client: {get_us:.2f} us")
    record("s3_upload", f"s3_upload {size} MiB", "MiB/s", size / up_o, raw=size / up_r,
           raw_label="boto3", better="higher", target=0.95, vs="raw")  # fmt: skip
    record("s3_download", f"s3_download {size} MiB", "MiB/s", size / dn_o, raw=size / dn_r,
           raw_label="boto3", better="higher", target=0.95, vs="raw")  # fmt: skip
    record("import", "import orch_aws / boto3 (over bare Python)", "ms", imp_o, raw=imp_r,
           raw_label="boto3", target=80)  # fmt: skip
    record("s3_list_time", f"list {n:,} objects", "s", lo["seconds"], raw=lr["seconds"],
           raw_label="boto3 paginator")  # fmt: skip
    record("s3_list_rss", f"list {n:,} objects: peak RSS", "MiB", lo["peak_mib"],
           raw=lr["peak_mib"], raw_label="boto3 paginator", target=1.05, vs="raw")  # fmt: skip
    record("s3_list_growth", "list: RSS growth while listing", "MiB", lo["growth_mib"],
           raw=lr["growth_mib"], raw_label="boto3 paginator")  # fmt: skip
    record("get_client", "get_client('s3') on a block that has its client", "µs", get_us)
    # The spread of each side's runs, so a reader can tell a real gap from a noisy machine.
    for what, samples in (("upload", up), ("download", down)):
        for side in ("orch", "raw"):
            rates = sorted(size / s for s in samples[side])
            print(f"  {what} {side:4} MiB/s per run: " + ", ".join(f"{r:.1f}" for r in rates))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
