"""``orch serve`` and ``orch deployments``: scheduled flows, stored in the block store."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Annotated, Any

import typer

from orch.cli.output import emit_json, emit_table, fail

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        help="A flow parameter as KEY=VALUE (VALUE is read as JSON when it parses, else as "
        "text); repeat for several.",
    ),
]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["day=2026-11-30", "n=3"]`` → ``{"day": "2026-11-30", "n": 3}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(float(ts)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _schedule_text(schedule: dict[str, Any] | None) -> str:
    if schedule is None:
        return "none (runs on request)"
    from orch.schedules import Schedule

    return Schedule.from_dict(schedule).describe()


def load_flow(entrypoint: str) -> Any:
    """The flow at ``module:flow`` or ``path/to/file.py:flow``."""
    import importlib
    import importlib.util
    import os
    from pathlib import Path

    module_name, sep, attr = entrypoint.rpartition(":")
    if not sep or not module_name or not attr:
        fail(f"{entrypoint!r} is not an entry point: use module:flow or path/to/file.py:flow", 2)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            fail(f"no file {module_name!r}", 2)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    found = getattr(module, attr, None)
    from orch.flows import Flow

    if not isinstance(found, Flow):
        fail(f"{entrypoint!r} is not a flow (an @flow function)", 2)
    return found


def serve(
    entrypoint: Annotated[
        str, typer.Argument(help="The flow to serve: module:flow or path/to/file.py:flow.")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="The deployment's name (default: the flow's).")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="A cron expression, e.g. '0 2 * * *'.")
    ] = None,
    interval: Annotated[
        float | None, typer.Option("--interval", help="Run every this many seconds.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="The cron's time zone, e.g. Europe/Paris (default UTC)."),
    ] = None,
    param: ParamOpt = None,
    catch_up: Annotated[
        int,
        typer.Option(
            "--catch-up", help="Missed slots to run after an outage (the latest N; default 0)."
        ),
    ] = 0,
    overlap: Annotated[
        str,
        typer.Option(
            "--overlap", help="A slot while a run is going: skip (default), queue or allow."
        ),
    ] = "skip",
    retry_crashed: Annotated[
        int,
        typer.Option(
            "--retry-crashed",
            help="Times a run whose server died is run again by a surviving server.",
        ),
    ] = 0,
    paused: Annotated[bool, typer.Option("--paused", help="Start paused.")] = False,
    shutdown_timeout: Annotated[
        float,
        typer.Option(
            "--shutdown-timeout",
            help="On SIGTERM, seconds running flows get to finish (default 30).",
        ),
    ] = 30.0,
) -> None:
    """Run a flow on a schedule (and on `orch deployments run`) until SIGTERM or Ctrl-C.

    Several `orch serve` processes on one store share the slots: each runs once.
    """
    from orch.deployments.model import deployment_for
    from orch.deployments.server import serve as serve_all

    flow = load_flow(entrypoint)
    deployment = deployment_for(
        flow,
        name,
        cron=cron,
        interval=interval,
        timezone=timezone,
        parameters=parse_params(param),
        paused=paused,
        catch_up=catch_up,
        overlap=overlap,
        retry_crashed=retry_crashed,
        entrypoint=entrypoint,
    )
    serve_all(deployment, shutdown_timeout=shutdown_timeout)


@app.command("ls")
def ls(as_json: JsonOpt = False) -> None:
    """List deployments: schedule, state, next run, and the live servers serving each."""
    from orch.deployments.store import list_deployments

    rows = list_deployments()
    if as_json:
        emit_json(rows)
        return
    emit_table(
        None,
        ["name", "flow", "schedule", "state", "next run", "servers"],
        [
            (
                d["name"],
                d["flow_name"],
                _schedule_text(d["schedule"]),
                "paused" if d["paused"] else "active",
                _when(d["next_slot"]),
                len(d["servers"]),
            )
            for d in rows
        ],
    )


@app.command("inspect")
def inspect(
    name: Annotated[str, typer.Argument(help="The deployment's name.")],
    limit: Annotated[int, typer.Option("--limit", help="How many recent slots to list.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Show a deployment: schedule, parameters, policies, servers, and its latest slots."""
    from orch.deployments.store import list_deployments, list_slots, require_deployment

    require_deployment(name)
    d = next(x for x in list_deployments() if x["name"] == name)
    slots = list_slots(name, limit)
    if as_json:
        emit_json({**d, "slots": slots})
        return
    lines = [
        f"deployment {d['name']}",
        f"flow       {d['flow_name']}" + (f"  ({d['entrypoint']})" if d["entrypoint"] else ""),
        f"schedule   {_schedule_text(d['schedule'])}",
        f"state      {'paused' if d['paused'] else 'active'}",
        f"next run   {_when(d['next_slot']) or '-'}",
        f"policies   catch_up={d['catch_up']} overlap={d['overlap']} "
        f"retry_crashed={d['retry_crashed']}",
        f"servers    {', '.join(d['servers']) or 'none live'}",
    ]
    if d["parameters"]:
        lines.append("parameters " + ", ".join(f"{k}={v}" for k, v in d["parameters"].items()))
    if d["description"]:
        lines.append(f"about      {d['description'].splitlines()[0]}")
    from orch.secrets.redaction import redact

    typer.echo(redact("\n".join(lines)))
    emit_table(
        f"latest {len(slots)} slots",
        ["slot", "kind", "attempt", "state", "flow run", "note"],
        [
            (
                _when(s["slot"]),
                s["kind"],
                s["attempt"],
                s["state"],
                s["flow_run_id"] or "",
                s["note"] or "",
            )
            for s in slots
        ],
    )


@app.command("pause")
def pause(name: Annotated[str, typer.Argument(help="The deployment's name.")]) -> None:
    """Pause a deployment's schedule (run requests are still served)."""
    from orch.deployments.store import set_paused

    set_paused(name, True)
    typer.echo(f"paused {name}")


@app.command("resume")
def resume(name: Annotated[str, typer.Argument(help="The deployment's name.")]) -> None:
    """Resume a paused deployment (the slots it missed while paused are not run)."""
    from orch.deployments.store import set_paused

    set_paused(name, False)
    typer.echo(f"resumed {name}")


@app.command("rm")
def rm(name: Annotated[str, typer.Argument(help="The deployment's name.")]) -> None:
    """Forget a deployment and its slot records (its runs stay in the run history)."""
    from orch.deployments.store import delete_deployment

    delete_deployment(name)
    typer.echo(f"deleted {name}")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The deployment's name.")],
    param: ParamOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the run to end; exit 1 if it failed.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="With --wait: give up after this many seconds.")
    ] = 3600.0,
    as_json: JsonOpt = False,
) -> None:
    """Run a deployment now: a live `orch serve` of it picks the request up."""
    from orch.deployments.store import get_slot, request_run

    row = request_run(name, parse_params(param))
    if not row["servers"]:
        sys.stderr.write(
            f"warning: no live server serves deployment {name!r}: the run starts when one "
            f"does (`orch serve ...` or `flow.serve(name={name!r})`)\n"
        )
    if not wait:
        if as_json:
            emit_json(row)
        else:
            typer.echo(f"requested run {row['slot_key']} of {name}")
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = get_slot(name, row["slot_key"], 0)
        if current is not None and current["state"] in ("completed", "failed", "crashed"):
            if as_json:
                emit_json(current)
            else:
                typer.echo(
                    f"run {row['slot_key']} of {name}: {current['state']} "
                    f"(flow run {current['flow_run_id']})"
                )
            if current["state"] != "completed":
                raise typer.Exit(1)
            return
        time.sleep(0.2)
    fail(f"run {row['slot_key']} of {name} did not end within {timeout:g} s")
