"""``orch``: the command-line entry point; each command group lives in its own module.

Errors print one line and exit non-zero; ``--debug`` (anywhere) or ``ORCH_DEBUG=1``
shows the traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="orch",
    help="orch: blocks, secrets and runs, with no server to start.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _versions() -> str:
    """``orch-core X`` and every installed ``orch-*`` distribution, one per line."""
    from importlib.metadata import distributions

    found = {
        dist.metadata["Name"].lower().replace("_", "-"): dist.version
        for dist in distributions()
        if dist.metadata["Name"]
        and dist.metadata["Name"].lower().replace("_", "-").startswith("orch-")
    }
    core = found.pop("orch-core", "unknown")
    return "\n".join([f"orch-core {core}", *(f"{n} {v}" for n, v in sorted(found.items()))])


def _print_version(value: bool) -> None:
    if value:
        typer.echo(_versions())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version of orch-core and of each installed orch package.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an error, print the full traceback instead of one line "
            "(also ORCH_DEBUG=1; accepted anywhere on the line).",
        ),
    ] = False,
) -> None:
    """orch: blocks, secrets and runs, with no server to start."""


def _register() -> None:
    from orch.cli import block, deployments, runs, store, ui

    app.add_typer(block.app, name="block", help="Saved blocks: list, inspect, create, apply.")
    app.add_typer(store.app, name="store", help="The block store: info and key rotation.")
    app.add_typer(runs.app, name="runs", help="Flow and task run history.")
    app.add_typer(
        deployments.app,
        name="deployments",
        help="Scheduled flows: list, inspect, pause, resume, run now.",
    )
    app.command("serve")(deployments.serve)
    app.command("ui")(ui.ui)
    _register_package_commands()


def _register_package_commands() -> None:
    """``orch NAME ...`` for each entry point of the group ``orch.commands`` (a package's
    own command, e.g. ``orch kafka listen``): ``NAME = "module:function"``, where
    ``function(argv)`` takes the rest of the line. Its module is imported only when the
    command runs, so packages add nothing to the start-up of other commands."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="orch.commands"):
        if entry.name in {"block", "store", "runs", "ui", "deployments", "serve"}:
            continue  # a package never shadows a core command

        dist = entry.dist.name if entry.dist is not None else "a package"
        app.command(
            entry.name,
            help=f"From {dist}: `orch {entry.name} --help` for its commands.",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            add_help_option=False,
        )(_passthrough(entry))


def _passthrough(entry: Any) -> Any:
    """The command that hands the rest of the line to ``entry``'s function."""

    def run(ctx: typer.Context) -> None:
        entry.load()(list(ctx.args))

    return run


class _Argument(typer.core.TyperArgument):
    """An argument shown as ``NAME`` in the usage line (typer writes ``{name}``)."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the help text says what the argument is


_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}


def _humanize(command: Any) -> None:
    """Help for people: no ``<bool>``/``<list[str]>`` type labels, arguments in capitals.

    ``command`` is typer's (vendored) click command, group or not.
    """
    for param in command.params:
        if isinstance(param, typer.core.TyperArgument):
            param.__class__ = _Argument  # only its usage label differs
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()
        elif isinstance(param, typer.core.TyperOption) and param.metavar is None:
            # A flag takes no value; any other option's value is named by its help text.
            label = param.bare_type().removeprefix("list[").removesuffix("]")
            param.metavar = "" if param.is_flag else _LABELS.get(label, label.upper())
    get_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option  # typer makes --help anew for each rendering
    for sub in getattr(command, "commands", {}).values():
        _humanize(sub)


def _command() -> Any:
    _register()
    command = typer.main.get_command(app)
    _humanize(command)
    return command


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("ORCH_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    command = _command()
    try:
        command.main(args=args, prog_name="orch")
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        _one_line_error(exc)


def _one_line_error(exc: Exception) -> Any:
    from orch.errors import OrchError
    from orch.secrets.redaction import redact

    detail = str(exc) if isinstance(exc, OrchError) else f"{type(exc).__name__}: {exc}"
    # One line, as promised: a message listing several problems (one per line, e.g.
    # every bad field of a block) is joined with "; ".
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        lines = [f"{lines[0]} {lines[1]}", *lines[2:]]
    detail = "; ".join(lines)
    sys.stderr.write(f"error: {redact(detail)}\n")
    if not isinstance(exc, OrchError):
        sys.stderr.write("(run with --debug for the traceback)\n")
    raise SystemExit(1) from None


if __name__ == "__main__":
    main()
