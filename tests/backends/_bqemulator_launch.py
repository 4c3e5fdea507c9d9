"""Start bqemulator with DuckDB's ``spatial`` (and ``avro``) extensions made no-ops.

bqemulator installs and loads DuckDB's spatial extension at start-up, which downloads it
from DuckDB's extension repository: not reachable here. GEOGRAPHY is not used by the
tests, so loading it is skipped. Run with the bqemulator venv's python:
``python _bqemulator_launch.py start --rest-port N ...`` (the arguments of ``bqemulator``).
"""

from __future__ import annotations

import sys

from bqemulator.cli import main
from bqemulator.storage import engine


def _skip(self: object) -> None:
    return None


engine.DuckDBEngine._load_spatial = _skip  # type: ignore[method-assign]
engine.DuckDBEngine._load_format_extensions = _skip  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
