"""Many processes writing the store at once: no corruption, no lost update, one winner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from orch import Block

WORKER = textwrap.dedent(
    """
    import random, sys
    from orch import Block, SecretStr
    from orch.errors import BlockConflictError, BlockExistsError

    class Counter(Block):
        '''A counter.

        Example:
            Counter(value=0, token="t")
        '''
        value: int
        token: SecretStr

    worker, rounds = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(worker)
    increments = wins = owns = 0
    for i in range(rounds):
        op = rng.random()
        if op < 0.5:
            # read-modify-write on a shared counter: retry on conflict, never lose one
            while True:
                c = Counter.load("shared")
                c.value += 1
                try:
                    c.save("shared", overwrite=True)
                    increments += 1
                    break
                except BlockConflictError:
                    continue
        elif op < 0.75:
            # every worker races to create the same names: exactly one may win each
            try:
                Counter(value=worker, token=f"tok-{worker}-{i}").save(f"race-{i}")
                wins += 1
            except BlockExistsError:
                pass
        else:
            own = f"own-{worker}-{i}"
            Counter(value=i, token=f"secret-{worker}-{i}").save(own)
            loaded = Counter.load(own)
            assert loaded.value == i and loaded.token.get_secret_value() == f"secret-{worker}-{i}"
            owns += 1
    print(increments, wins, owns)
    """
)


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("any_store")
def test_four_processes_mixed_saves_and_loads(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tmp_path)
    setup = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER.split("worker, rounds")[0] + "Counter(value=0, token='t0').save('shared')",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    rounds = 200
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(w), str(rounds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=540)
        assert p.returncode == 0, err
        results.append(tuple(map(int, out.split())))
    total_increments = sum(r[0] for r in results)
    total_wins = sum(r[1] for r in results)

    exec(WORKER.split("worker, rounds")[0], globals())  # defines Counter here too
    counter_cls = globals()["Counter"]
    assert counter_cls.load("shared").value == total_increments
    races = [i for i in Block.list_saved() if i.name.startswith("race-")]
    assert len(races) == total_wins
    for info in races:
        # the winner's own token decrypts: documents are whole, not mixed
        block = counter_cls.load(info.name)
        assert block.token.get_secret_value() == f"tok-{block.value}-{info.name[5:]}"
    owns = [i for i in Block.list_saved() if i.name.startswith("own-")]
    assert len(owns) == sum(r[2] for r in results)
    assert total_increments > 0 and total_wins > 0
