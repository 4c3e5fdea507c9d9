"""`import orch` stays cheap: heavy modules load only when their feature is used."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(code: str, modules: list[str]) -> list[str]:
    probe = f"import sys\n{code}\nprint([m for m in {modules!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip())


def test_import_orch_loads_nothing_heavy() -> None:
    heavy = ["pydantic", "cryptography", "sqlite3", "typer", "rich", "typing", "cronsim"]
    assert _loaded_after("import orch", heavy) == []


def test_using_blocks_does_not_load_the_cli_or_crypto_until_needed() -> None:
    code = "from orch import Block, SecretStr\nclass A(Block):\n    x: int\nA(x=1)"
    assert _loaded_after(code, ["typer", "rich", "cryptography", "psycopg"]) == []


def test_running_a_flow_without_a_key_loads_no_crypto_socket_or_pickle(tmp_path: object) -> None:
    # hello.py's start-up: a thread-pool flow with no store key computes no parameter
    # digest (no cryptography), names its host without socket, and never pickles.
    code = (
        "import os\n"
        f"os.environ['ORCH_HOME'] = {str(tmp_path)!r}\n"
        "os.environ.pop('ORCH_SECRET_KEY', None)\n"
        "from orch import flow, task, history\n"
        "@task\n"
        "def inc(x: int) -> int:\n"
        "    return x + 1\n"
        "@flow\n"
        "def f() -> int:\n"
        "    return inc.submit(1).result() + inc(1)\n"
        "assert f() == 4\n"
        "history.flush()"
    )
    heavy = ["cryptography", "socket", "pickle"]
    assert _loaded_after(code, heavy) == []


def test_flows_load_no_scheduler_until_one_is_served() -> None:
    # cronsim and the serving loop load when a schedule is made, not with `orch` or @flow
    code = "from orch import flow\n@flow\ndef f() -> int:\n    return 1\nf()"
    assert _loaded_after(code, ["cronsim", "orch.deployments", "orch.schedules"]) == []
    assert _loaded_after("import orch.schedules", ["cronsim"]) == []
