"""Core figures: `import orch` and Block save/load on the embedded store, beside Prefect 3.

Run with scripts/bench/run (add --peers for Prefect). Targets: import ≤ 60 ms median wall,
load ≤ 0.5 ms, save ≤ 2 ms.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_call_us, median_wall_ms, parser, record, table

PREFECT_BLOCKS = """
import json, statistics, sys, time
from prefect.blocks.system import Secret
Secret(value="bench-secret").save("bench", overwrite=True)
def med(fn, n):
    for _ in range(3): fn()
    s = []
    for _ in range(n):
        t = time.perf_counter(); fn(); s.append((time.perf_counter() - t) * 1e6)
    return statistics.median(s)
load = med(lambda: Secret.load("bench"), 50)
save = med(lambda: Secret(value="bench-secret").save("bench", overwrite=True), 50)
print(json.dumps({"load": load, "save": save}))
"""


def orch_blocks(home: str) -> tuple[float, float]:
    import os

    os.environ["ORCH_HOME"] = home
    from orch.system_blocks import Secret

    Secret(value="bench-secret").save("bench", overwrite=True)
    load = median_call_us(lambda: Secret.load("bench"), 2000)
    save = median_call_us(lambda: Secret(value="bench-secret").save("bench", overwrite=True), 2000)
    return load, save


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as home:
        env = {"ORCH_HOME": home}
        bare = median_wall_ms([py, "-c", "pass"], 30)
        imp = median_wall_ms([py, "-c", "import orch"], 30, env)
        imp_blocks = median_wall_ms([py, "-c", "import orch; orch.Block"], 20, env)
        load, save = orch_blocks(home)
    peer: dict[str, float] = {}
    if args.peers_python:
        with tempfile.TemporaryDirectory() as phome:
            penv = {
                "PREFECT_HOME": phome,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_LOGGING_LEVEL": "ERROR",
            }
            peer["bare"] = median_wall_ms([args.peers_python, "-c", "pass"], 10, penv)
            peer["import"] = median_wall_ms([args.peers_python, "-c", "import prefect"], 10, penv)
            out = subprocess.run(
                [args.peers_python, "-c", PREFECT_BLOCKS],
                capture_output=True,
                text=True,
                env={**__import__("os").environ, **penv},
                check=False,
            )
            if out.returncode == 0:
                peer.update(json.loads(out.stdout.strip().splitlines()[-1]))
            else:
                print("prefect block benchmark failed:", out.stderr[-800:], file=sys.stderr)
    table(
        [
            ("python -c pass (baseline)", bare, peer.get("bare"), "ms", ""),
            ("python -c 'import orch' (median wall)", imp, peer.get("import"), "ms", "<= 60 ms"),
            ("import orch + orch.Block (pydantic)", imp_blocks, None, "ms", ""),
            ("Secret.load(name), embedded store", load, peer.get("load"), "us", "<= 500 us"),
            ("Secret(...).save(name, overwrite=True)", save, peer.get("save"), "us", "<= 2000 us"),
        ]
    )
    record("python_bare", "python -c pass (baseline)", "ms", bare, prefect=peer.get("bare"))
    record("import_orch", "python -c 'import orch' (median wall)", "ms", imp,
           prefect=peer.get("import"), target=60)  # fmt: skip
    record("import_orch_block", "import orch + orch.Block (pydantic)", "ms", imp_blocks)
    record("block_load", "Secret.load(name), embedded store", "µs", load,
           prefect=peer.get("load"), target=500)  # fmt: skip
    record("block_save", "Secret(...).save(name, overwrite=True)", "µs", save,
           prefect=peer.get("save"), target=2000)  # fmt: skip


if __name__ == "__main__":
    main()
