"""`orch runs`: the run history — ``ls``, ``show``, ``logs``, ``prune`` (each with ``--json``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import typer

from orch.cli.output import emit_json, emit_table, fail

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(float(ts)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    # never negative: a clock step back (or an old crash record) is not a time travel
    seconds = max(0.0, float(end) - float(start))
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(float(ts)).astimezone().isoformat()


def _jsonable(run: dict[str, Any]) -> dict[str, Any]:
    out = dict(run)
    for key in ("started", "ended", "heartbeat"):
        if key in out:
            out[key] = _iso(out[key])
    return out


def _complete_state(incomplete: str) -> list[str]:
    from orch.states import ALL_STATES

    return [s for s in ALL_STATES if s.lower().startswith(incomplete.lower())]


@app.command("ls")
def ls(
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow.")] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="Only runs in this state: Pending, Running, Retrying, Completed, Cached, "
            "Failed or Crashed (any case).",
            autocompletion=_complete_state,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many runs, newest first.")] = 20,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", help="Only runs started by this deployment (orch serve)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List flow runs, newest first (runs whose process died show as Crashed; a run
    started by `orch serve` shows its deployment)."""
    from orch import history
    from orch.errors import did_you_mean
    from orch.states import ALL_STATES

    if state is not None and state.lower() not in {s.lower() for s in ALL_STATES}:
        fail(
            f"unknown state {state!r}{did_you_mean(state, ALL_STATES)}; "
            f"the states are {', '.join(ALL_STATES)}",
            code=2,
        )
    runs = history.list_flow_runs(flow=flow, state=state, limit=limit, deployment=deployment)
    if flow is not None and not runs and flow not in (names := history.flow_names()):
        fail(f"no flow named {flow!r} has runs on record{did_you_mean(flow, names)}", code=2)
    if as_json:
        emit_json([_jsonable(r) for r in runs])
        return
    emit_table(
        None,
        ["id", "name", "flow", "deployment", "state", "started", "duration", "tasks"],
        [
            (
                r["id"],
                r["name"],
                r["flow_name"],
                r["deployment"] or "",
                r["state"],
                _when(r["started"]),
                _duration(r["started"], r["ended"]),
                r["task_runs"],
            )
            for r in runs
        ],
        whole=("id", "name", "deployment"),  # names a user copies into other commands
    )


def _no_run(run_id: str) -> None:
    fail(f"no flow run or task run with id {run_id!r} (see `orch runs ls`)")


def _show_task_run(task_run: dict[str, Any], as_json: bool) -> None:
    from orch.secrets.redaction import redact

    if as_json:
        emit_json({"kind": "task_run", **_jsonable(task_run)})
        return
    flow_line = (
        f"{task_run['flow_run_id']}  ({task_run['flow_run_name']})"
        if task_run["flow_run_id"]
        else "none (called outside a flow)"
    )
    lines = [
        f"task run   {task_run['id']}  ({task_run['name']})",
        f"task       {task_run['task_name']}",
        f"flow run   {flow_line}",
        f"state      {task_run['state']}  (attempts: {task_run['attempts']})",
        f"started    {_when(task_run['started'])}   "
        f"duration {_duration(task_run['started'], task_run['ended'])}",
    ]
    if task_run["parameters_digest"]:
        lines.append(f"parameters digest {task_run['parameters_digest']}")
    if task_run["cache_key"]:
        lines.append(f"cache key  {task_run['cache_key']}")
    if task_run["tags"]:
        lines.append("tags       " + ", ".join(task_run["tags"]))
    if task_run["error"]:
        lines.append(f"error      {task_run['error']}")
    typer.echo(redact("\n".join(lines)))


@app.command("show")
def show(
    run_id: Annotated[
        str, typer.Argument(help="A flow run id or a task run id (or a unique prefix).")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Show one flow run and its task runs, or one task run."""
    from orch import history

    run = history.get_flow_run(run_id)
    if run is None:
        task_run = history.get_task_run(run_id)
        if task_run is None:
            _no_run(run_id)
            return
        _show_task_run(task_run, as_json)
        return
    if as_json:
        out = {"kind": "flow_run", **_jsonable(run)}
        out["task_runs"] = [_jsonable(t) for t in run["task_runs"]]
        emit_json(out)
        return
    lines = [
        f"flow run   {run['id']}  ({run['name']})",
        f"flow       {run['flow_name']}",
        f"state      {run['state']}  (attempts: {run['attempts']})",
        f"started    {_when(run['started'])}   duration {_duration(run['started'], run['ended'])}",
        f"process    pid {run['pid']} on {run['host']}",
    ]
    if run["parent_flow_run_id"]:
        lines.append(f"parent     {run['parent_flow_run_id']}")
    if run["parameters"]:
        lines.append("parameters " + ", ".join(f"{k}={v}" for k, v in run["parameters"].items()))
    if run["error"]:
        lines.append(f"error      {run['error']}")
    for name, value in run.get("links", {}).items():
        lines.append(f"{name:<10} {value}")  # what a package linked (an MLflow run...)
    from orch.secrets.redaction import redact

    typer.echo(redact("\n".join(lines)))
    emit_table(
        f"{len(run['task_runs'])} task runs",
        ["id", "name", "state", "attempts", "started", "duration", "error"],
        [
            (
                t["id"],
                t["name"],
                t["state"],
                t["attempts"],
                _when(t["started"]),
                _duration(t["started"], t["ended"]),
                (t["error"] or "")[:80],
            )
            for t in run["task_runs"]
        ],
    )


@app.command("logs")
def logs(
    run_id: Annotated[
        str, typer.Argument(help="A flow run id or a task run id (or a unique prefix).")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Print the log lines of a flow run and its task runs, or of one task run."""
    from orch import history
    from orch.secrets.redaction import redact

    run = history.get_flow_run(run_id)
    if run is not None:
        records = history.get_logs(run["id"])
        names = {t["id"]: t["name"] for t in run["task_runs"]}
        flow_name = run["name"]
    else:
        task_run = history.get_task_run(run_id)
        if task_run is None:
            _no_run(run_id)
            return
        records = history.get_logs(task_run_id=task_run["id"])
        names = {task_run["id"]: task_run["name"]}
        flow_name = task_run["flow_run_name"]
    if as_json:
        emit_json([{**r, "ts": _iso(r["ts"])} for r in records])
        return
    for r in records:
        who = (
            f"Task run {names.get(r['task_run_id'], r['task_run_id'])!r}"
            if r["task_run_id"]
            else f"Flow run {flow_name!r}"
        )
        typer.echo(redact(f"{_when(r['ts'])} | {r['level']:<7} | {who} - {r['message']}"))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``15m``, ``90s``, ``2w`` → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not an age: use e.g. 30d, 12h, 15m, 90s, 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


@app.command("prune")
def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age of runs to delete: 30d, 12h, 15m, 2w.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Delete finished runs older than --older-than, and expired cached results.

    A run goes with its task runs and log lines; a cached result with its file.
    """
    from orch import history
    from orch.engine import cache

    counts = history.prune(parse_age(older_than))
    counts["cached_results"] = cache.clear_expired()
    if as_json:
        emit_json(counts)
        return
    typer.echo(
        f"deleted {counts['flow_runs']} flow runs, {counts['task_runs']} task runs, "
        f"{counts['logs']} log lines, {counts['cached_results']} expired cached results"
    )
