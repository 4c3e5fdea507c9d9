"""Reading run history (``orch runs``): flow runs, task runs, their logs, and pruning.

Every read first writes what this process has queued and marks crashed runs, so what is
shown is current.

Example:
    >>> from orch.history.reader import list_flow_runs
    >>> list_flow_runs(state="Failed", limit=5)
    []
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from orch.history.crash import detect_crashed
from orch.history.writer import _store, flush

if TYPE_CHECKING:
    from orch.store.base import Tx


_FLOW_COLUMNS = (
    "id, name, flow_name, parent_flow_run_id, parent_task_run_id, state, attempts, "
    "parameters, started, ended, error, pid, host, heartbeat, tags"
)
_TASK_COLUMNS = (
    "id, flow_run_id, name, task_name, state, attempts, parameters_digest, started, ended, "
    "error, cache_key, tags"
)


def _flow_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in _FLOW_COLUMNS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["parameters"] = json.loads(d["parameters"]) if d["parameters"] else {}
    d["tags"] = json.loads(d["tags"]) if d["tags"] else []
    return d


def _task_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in _TASK_COLUMNS.split(",")]
    d = dict(zip(keys, row, strict=True))
    d["tags"] = json.loads(d["tags"]) if d["tags"] else []
    return d


def list_flow_runs(
    flow: str | None = None,
    state: str | None = None,
    limit: int = 20,
    deployment: str | None = None,
) -> list[dict[str, Any]]:
    """The latest flow runs (newest first), with a ``task_runs`` count and the
    ``deployment`` that started each (None for a run started by a script); crashes
    detected.

    Example:
        >>> list_flow_runs(state="Failed", limit=5)
        []
    """
    flush()
    store = _store()
    detect_crashed(store)
    where, params = [], []
    if flow:
        where.append("f.flow_name = ?")
        params.append(flow)
    if state:
        where.append("LOWER(f.state) = LOWER(?)")
        params.append(state)
    if deployment:
        where.append(
            "EXISTS (SELECT 1 FROM orch_run_links d WHERE d.flow_run_id = f.id AND "
            "d.name = 'deployment' AND d.value = ?)"
        )
        params.append(deployment)
    sql = (
        f"SELECT {', '.join('f.' + c.strip() for c in _FLOW_COLUMNS.split(','))}, "
        # a served run is linked to its deployment (orch.deployments.server)
        "(SELECT d.value FROM orch_run_links d WHERE d.flow_run_id = f.id AND "
        "d.name = 'deployment'), "
        "(SELECT COUNT(*) FROM orch_task_runs t WHERE t.flow_run_id = f.id) "
        "FROM orch_flow_runs f"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY f.started DESC LIMIT ?"
    )
    rows = store.retrying(lambda tx: tx.execute(sql, (*params, int(limit))).fetchall(), write=False)
    out = []
    for row in rows:
        d = _flow_dict(row[:-2])
        d["deployment"] = row[-2]
        d["task_runs"] = int(row[-1])
        out.append(d)
    return out


def flow_names() -> list[str]:
    """The names of every flow with a run on record, sorted (to check ``--flow`` typos)."""
    flush()
    sql = "SELECT DISTINCT flow_name FROM orch_flow_runs ORDER BY flow_name"
    rows = _store().retrying(lambda tx: tx.execute(sql).fetchall(), write=False)
    return [str(row[0]) for row in rows]


def _one_by_prefix(tx: Any, query: str, run_id: str) -> tuple[Any, ...] | None:
    """The one row whose id starts with ``run_id`` (``query`` takes the LIKE pattern)."""
    rows = tx.execute(query, (run_id.replace("%", "") + "%",)).fetchall()
    if len(rows) > 1:
        from orch.errors import RunError

        raise RunError(f"run id prefix {run_id!r} matches several runs: give more of it")
    return tuple(rows[0]) if rows else None


def get_flow_run(run_id: str) -> dict[str, Any] | None:
    """One flow run by id or unique id prefix, with its ``task_runs`` list (oldest first).

    Example:
        >>> get_flow_run("0000") is None
        True
    """
    flush()
    store = _store()
    detect_crashed(store)
    return store.retrying(partial(_read_flow_run, run_id=run_id), write=False)


def _read_flow_run(tx: Tx, run_id: str) -> dict[str, Any] | None:
    row = _one_by_prefix(
        tx, f"SELECT {_FLOW_COLUMNS} FROM orch_flow_runs WHERE id LIKE ? LIMIT 2", run_id
    )
    if row is None:
        return None
    flow_run = _flow_dict(row)
    tasks = tx.execute(
        f"SELECT {_TASK_COLUMNS} FROM orch_task_runs WHERE flow_run_id = ? ORDER BY started",
        (flow_run["id"],),
    ).fetchall()
    children = tx.execute(
        "SELECT id FROM orch_flow_runs WHERE parent_flow_run_id = ? ORDER BY started",
        (flow_run["id"],),
    ).fetchall()
    flow_run["task_runs"] = [_task_dict(t) for t in tasks]
    flow_run["child_flow_runs"] = [c[0] for c in children]
    flow_run["links"] = run_links(tx, flow_run["id"])
    return flow_run


def run_links(tx: Tx, flow_run_id: str) -> dict[str, str]:
    """What packages linked to a flow run (``orch.integration.link_run``), by name."""
    rows = tx.execute(
        "SELECT name, value FROM orch_run_links WHERE flow_run_id = ? ORDER BY name",
        (flow_run_id,),
    ).fetchall()
    return {str(name): str(value) for name, value in rows}


def get_task_run(run_id: str) -> dict[str, Any] | None:
    """One task run by id or unique id prefix, with ``flow_run_name`` (None outside a flow).

    Example:
        >>> get_task_run("0000") is None
        True
    """
    flush()
    store = _store()
    detect_crashed(store)
    columns = ", ".join("t." + c.strip() for c in _TASK_COLUMNS.split(","))
    row = store.retrying(
        lambda tx: _one_by_prefix(
            tx,
            f"SELECT {columns}, f.name FROM orch_task_runs t "
            "LEFT JOIN orch_flow_runs f ON f.id = t.flow_run_id WHERE t.id LIKE ? LIMIT 2",
            run_id,
        ),
        write=False,
    )
    if row is None:
        return None
    task_run = _task_dict(row[:-1])
    task_run["flow_run_name"] = row[-1]
    return task_run


def get_logs(
    flow_run_id: str | None = None, task_run_id: str | None = None
) -> list[dict[str, Any]]:
    """The log lines of a flow run and of its task runs, or of one task run; oldest first.

    Example:
        >>> get_logs("no-such-run")
        []
    """
    if (flow_run_id is None) == (task_run_id is None):
        raise TypeError("get_logs() takes a flow_run_id or a task_run_id")
    flush()
    store = _store()
    column, value = (
        ("flow_run_id", flow_run_id) if task_run_id is None else ("task_run_id", task_run_id)
    )
    rows = store.retrying(
        lambda tx: tx.execute(
            "SELECT flow_run_id, task_run_id, ts, level, logger, message FROM orch_run_logs "
            f"WHERE {column} = ? ORDER BY ts",
            (value,),
        ).fetchall(),
        write=False,
    )
    keys = ("flow_run_id", "task_run_id", "ts", "level", "logger", "message")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def prune(older_than_seconds: float) -> dict[str, int]:
    """Delete finished runs (and their task runs and logs) started before the cutoff.

    Example:
        >>> prune(30 * 86400)["flow_runs"] >= 0
        True
    """
    flush()
    store = _store()
    detect_crashed(store)
    cutoff = time.time() - older_than_seconds
    running = ("Running", "Pending", "Retrying")
    with store.transaction() as tx:
        old = "SELECT id FROM orch_flow_runs WHERE started < ? AND state NOT IN (?, ?, ?)"
        logs = tx.execute(
            f"DELETE FROM orch_run_logs WHERE flow_run_id IN ({old})", (cutoff, *running)
        ).rowcount
        tx.execute(f"DELETE FROM orch_run_links WHERE flow_run_id IN ({old})", (cutoff, *running))
        tasks = tx.execute(
            f"DELETE FROM orch_task_runs WHERE flow_run_id IN ({old})", (cutoff, *running)
        ).rowcount
        # task runs called outside any flow
        tasks += tx.execute(
            "DELETE FROM orch_task_runs WHERE flow_run_id IS NULL AND started < ?", (cutoff,)
        ).rowcount
        logs += tx.execute(
            "DELETE FROM orch_run_logs WHERE flow_run_id IS NULL AND ts < ?", (cutoff,)
        ).rowcount
        flows = tx.execute(
            "DELETE FROM orch_flow_runs WHERE started < ? AND state NOT IN (?, ?, ?)",
            (cutoff, *running),
        ).rowcount
    return {"flow_runs": flows, "task_runs": tasks, "logs": logs}
