"""The read-only queries behind `orch ui`: runs (filtered, paged), one run, its logs, blocks.

Unlike `orch runs` (which first writes what its own process queued and marks crashed runs),
nothing here writes: each call is one short read transaction, so the page never holds a
lock a running flow waits on. Paging is by keyset on ``(started, id)`` over the
``started`` index, so page 2,000 of 100,000 runs costs what page 1 does.

Example:
    >>> list_runs(RunFilter(state="Failed"), limit=5)["runs"]
    []
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from orch.history.writer import _store, heartbeat_seconds

__all__ = ["RunFilter", "block_page", "blocks", "flow_names", "list_runs", "logs", "run_page"]

_FLOW = (
    "id", "name", "flow_name", "parent_flow_run_id", "parent_task_run_id", "state", "attempts",
    "parameters", "started", "ended", "error", "heartbeat", "tags",
)  # fmt: skip
_TASK = ("id", "name", "task_name", "state", "attempts", "started", "ended", "error", "tags")
_LOG = ("id", "task_run_id", "ts", "level", "logger", "message")
MAX_PAGE = 500
MAX_LOGS = 2000


@dataclass(frozen=True)
class RunFilter:
    """What the runs table shows: every field optional (``None``: any)."""

    flow: str | None = None
    state: str | None = None
    tag: str | None = None
    since: float | None = None
    until: float | None = None


def _read(work: Any) -> Any:
    return _store().retrying(work, write=False)


def _loads(text: str | None, empty: Any) -> Any:
    return json.loads(text) if text else empty


def _flow_row(row: tuple[Any, ...]) -> dict[str, Any]:
    run = dict(zip(_FLOW, row, strict=False))
    run["parameters"] = _loads(run["parameters"], {})
    run["tags"] = _loads(run["tags"], [])
    # A run still "Running" whose process stopped beating is shown as such; the page does
    # not mark it Crashed (that is a write, left to `orch runs` and the writers).
    beat = run.get("heartbeat")
    run["stale"] = bool(
        run["state"] in ("Running", "Retrying", "Pending")
        and beat is not None
        and time.time() - float(beat) > 3 * heartbeat_seconds()
    )
    return run


def list_runs(where: RunFilter, *, before: str | None = None, limit: int = 50) -> dict[str, Any]:
    """One page of flow runs, newest first, and the cursor of the next page (or ``None``).

    ``before`` is the ``next`` cursor of the previous page.

    Example:
        >>> list_runs(RunFilter(flow="nightly"), limit=10)
        {'runs': [], 'next': None}
    """
    limit = max(1, min(int(limit), MAX_PAGE))
    clauses: list[str] = []
    params: list[Any] = []
    if where.flow:
        clauses.append("f.flow_name = ?")
        params.append(where.flow)
    if where.state:
        clauses.append("f.state = ?")
        params.append(where.state)
    if where.tag:
        # Tags are stored as a JSON list of strings: match one whole element.
        clauses.append("f.tags LIKE ?")
        params.append("%" + json.dumps(where.tag).replace("%", "").replace("_", "\\_") + "%")
    if where.since is not None:
        clauses.append("f.started >= ?")
        params.append(float(where.since))
    if where.until is not None:
        clauses.append("f.started < ?")
        params.append(float(where.until))
    if before:
        started, _, run_id = before.partition(":")
        clauses.append("(f.started < ? OR (f.started = ? AND f.id < ?))")
        params.extend([float(started), float(started), run_id])
    sql = (
        f"SELECT {', '.join('f.' + c for c in _FLOW)}, "
        # the deployment that started a served run (orch serve), if any
        "(SELECT d.value FROM orch_run_links d WHERE d.flow_run_id = f.id AND "
        "d.name = 'deployment'), "
        "(SELECT COUNT(*) FROM orch_task_runs t WHERE t.flow_run_id = f.id) "
        "FROM orch_flow_runs f"
        + (" WHERE " + " AND ".join(clauses) if clauses else "")
        + " ORDER BY f.started DESC, f.id DESC LIMIT ?"
    )
    if where.tag:
        sql = sql.replace("f.tags LIKE ?", "f.tags LIKE ? ESCAPE '\\'")
    rows = _read(lambda tx: tx.execute(sql, (*params, limit + 1)).fetchall())
    runs = []
    for row in rows[:limit]:
        run = _flow_row(tuple(row[:-2]))
        run["deployment"] = row[-2]
        run["task_runs"] = int(row[-1])
        runs.append(run)
    more = len(rows) > limit
    last = runs[-1] if runs else None
    return {
        "runs": runs,
        "next": f"{last['started']!r}:{last['id']}" if more and last else None,
    }


def flow_names() -> list[str]:
    """Every flow with a run on record, for the filter.

    Example:
        >>> flow_names()
        []
    """
    sql = "SELECT DISTINCT flow_name FROM orch_flow_runs ORDER BY flow_name"
    return [str(r[0]) for r in _read(lambda tx: tx.execute(sql).fetchall())]


def run_page(run_id: str) -> dict[str, Any] | None:
    """One flow run (by full id) with its task runs, child flow runs and parent.

    ``task_runs`` is ``{"columns": [...], "rows": [[...], ...]}``, oldest first.

    Example:
        >>> run_page("no-such-run") is None
        True
    """

    def work(tx: Any) -> dict[str, Any] | None:
        row = tx.execute(
            f"SELECT {', '.join(_FLOW)} FROM orch_flow_runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        run = _flow_row(tuple(row))
        tasks = tx.execute(
            f"SELECT {', '.join(_TASK)} FROM orch_task_runs WHERE flow_run_id = ? "
            "ORDER BY started, id",
            (run_id,),
        ).fetchall()
        # Columns and rows, not a dict per task run: a run of 10,000 tasks is sent and
        # parsed twice as fast (tags stay the JSON text they are stored as).
        run["task_runs"] = {"columns": list(_TASK), "rows": [list(t) for t in tasks]}
        children = tx.execute(
            "SELECT id, name, flow_name, state, started, ended FROM orch_flow_runs "
            "WHERE parent_flow_run_id = ? ORDER BY started",
            (run_id,),
        ).fetchall()
        run["child_flow_runs"] = [
            dict(zip(("id", "name", "flow_name", "state", "started", "ended"), c, strict=True))
            for c in children
        ]
        from orch.history.reader import run_links

        run["links"] = run_links(tx, run_id)
        parent = run["parent_flow_run_id"]
        run["parent"] = None
        if parent:
            p = tx.execute(
                "SELECT id, name, flow_name FROM orch_flow_runs WHERE id = ?", (parent,)
            ).fetchone()
            run["parent"] = dict(zip(("id", "name", "flow_name"), p, strict=True)) if p else None
        return run

    result: dict[str, Any] | None = _read(work)
    return result


def logs(run_id: str, after: int = 0) -> dict[str, Any]:
    """A flow run's log lines (its tasks' included), oldest first, from line ``after`` on.

    The page asks again with ``after`` = the ``next`` it got, to tail a running flow.

    Example:
        >>> logs("no-such-run")
        {'lines': [], 'next': 0}
    """
    after = max(0, int(after))

    def work(tx: Any) -> list[Any]:
        rows: list[Any] = tx.execute(
            "SELECT task_run_id, ts, level, logger, message FROM orch_run_logs "
            "WHERE flow_run_id = ? ORDER BY ts LIMIT ? OFFSET ?",
            (run_id, MAX_LOGS, after),
        ).fetchall()
        return rows

    rows = _read(work)
    keys = ("task_run_id", "ts", "level", "logger", "message")
    return {"lines": [dict(zip(keys, r, strict=True)) for r in rows], "next": after + len(rows)}


def blocks() -> list[dict[str, Any]]:
    """Every saved block: name, type, revision, last change.

    Example:
        >>> blocks()
        []
    """
    from orch.blocks.block_store import list_blocks

    return [
        {"name": i.name, "type": i.slug, "revision": i.revision, "updated": i.updated_at}
        for i in list_blocks()
    ]


def block_page(slug: str, name: str) -> dict[str, Any]:
    """One block's fields from its stored document: secrets masked, references as such.

    Nothing is decrypted (no key is read), so no secret value can reach the page.

    Example:
        >>> block_page("secret", "missing")
        Traceback (most recent call last):
        ...
        orch.errors.BlockNotFoundError: no secret block named 'missing' is saved
    """
    from orch.blocks.masked import masked_document

    revision, fields = masked_document(slug, name)
    return {"name": name, "type": slug, "revision": revision, "fields": fields}
