"""Flows run by ``orch-kafka listen`` in the listen tests' subprocesses.

``record_values`` appends each batch's values to ``$OUT`` (one line per batch), and
writes ``$STARTED`` when batch number ``$HANG_AT`` starts, then sleeps ``$HANG_SECONDS``
(so a test can kill or signal the process mid-batch).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from orch import flow

_batches = 0


@flow
def record_values(records: list[dict[str, Any]]) -> None:
    global _batches
    _batches += 1
    values = [r["value"] for r in records]
    if _batches == int(os.environ.get("HANG_AT", "0")):
        Path(os.environ["STARTED"]).write_text(json.dumps(values))
        time.sleep(float(os.environ.get("HANG_SECONDS", "60")))
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(values) + "\n")
