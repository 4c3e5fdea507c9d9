"""``orch``: the command-line entry point; each command group lives in its own module.

Errors print one line and exit non-zero; ``--debug`` (anywhere) or ``ORCH_DEBUG=1``
shows the traceback.
"""

from __future__ import annotations

import os
import sys

import typer

app = typer.Typer(
    name="orch",
    help="orch: blocks, secrets and runs, with no server to start.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from orch.cli import block, runs, store

    app.add_typer(block.app, name="block", help="Saved blocks: list, inspect, create, apply.")
    app.add_typer(store.app, name="store", help="The block store: info and key rotation.")
    app.add_typer(runs.app, name="runs", help="Flow and task run history.")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("ORCH_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    _register()
    try:
        app(args=args, prog_name="orch")
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
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
