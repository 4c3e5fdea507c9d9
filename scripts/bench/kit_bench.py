"""Integration-kit figures: ``import orch.integration``, ``Connector.get_client()``, Progress.

Run with scripts/bench/run kit. ``get_client()`` on a block that already has its client is
the data path's per-batch cost: compared with computing the block's fingerprint per call
(what a connector without an instance slot pays). Targets: import ≤ 10 ms (-X importtime)
and ≤ 60 ms wall, get_client ≤ 1 µs, Progress.advance ≤ 1 µs.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_wall_ms, parser, record, table


def per_call_us(fn: object, number: int) -> float:
    """Best of 5 runs of ``number`` calls, per call, in µs (a call is far below the clock)."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def import_ms() -> float:
    """Cumulative import time of ``orch.integration`` (median of 9), from -X importtime."""
    times = []
    for _ in range(9):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import orch.integration"],
            check=True,
            capture_output=True,
            text=True,
        ).stderr
        line = next(x for x in err.splitlines() if x.rstrip().endswith("| orch.integration"))
        times.append(int(line.split("|")[1]) / 1000)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser(__doc__ or "").parse_args()
    from orch import SecretStr
    from orch.integration import Connector, Progress, block_fingerprint
    from pydantic import Field

    class BenchDb(Connector[sqlite3.Connection]):
        """A SQLite database (a bench block).

        Example:
            BenchDb(path=":memory:", token="...")
        """

        path: str = Field(description="Database file.")
        token: SecretStr = Field(description="A token.")

        def _new_client(self) -> sqlite3.Connection:
            return sqlite3.connect(self.path, check_same_thread=False)

    block = BenchDb(path=":memory:", token=SecretStr("bench-Token-1"))
    block.get_client()
    cached = per_call_us(block.get_client, 200_000)
    fingerprint = per_call_us(lambda: block_fingerprint(block), 5_000)
    with Progress("bench", unit="rows", interval=3600, bar=False, enabled=True) as progress:
        advance = per_call_us(lambda: progress.advance(1000), 200_000)
    block.close()
    kit = median_wall_ms([sys.executable, "-c", "import orch.integration"], 15)
    bare = median_wall_ms([sys.executable, "-c", "pass"], 15)
    import_ms_ = import_ms()
    table(
        [
            ("import orch.integration (-X importtime)", import_ms_, None, "ms", "≤ 10"),
            ("  wall, over bare python", kit - bare, None, "ms", "≤ 60"),
            ("Connector.get_client(), client cached", cached, None, "µs", "≤ 1"),
            ("  vs a fingerprint per call", fingerprint, None, "µs", "-"),
            ("Progress.advance() off a terminal", advance, None, "µs", "≤ 1"),
        ]
    )
    record("import_integration", "import orch.integration (-X importtime)", "ms", import_ms_,
           target=10)  # fmt: skip
    record("import_integration_wall", "import orch.integration: wall over bare python", "ms",
           kit - bare, target=60)  # fmt: skip
    record("get_client_cached", "Connector.get_client(), client cached", "µs", cached, target=1)
    record("get_client_fingerprint", "Connector.get_client(), a fingerprint per call", "µs",
           fingerprint)  # fmt: skip
    record("progress_advance", "Progress.advance() off a terminal", "µs", advance, target=1)


if __name__ == "__main__":
    main()
