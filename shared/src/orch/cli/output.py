"""Shared output helpers of the CLI: tables or ``--json``, and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from orch.secrets.redaction import redact


def emit_json(data: Any) -> None:
    sys.stdout.write(redact(json.dumps(data, indent=2, default=str)) + "\n")


def emit_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(redact("" if v is None else str(v)) for v in row))
    Console().print(table)


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` on stderr and exit (secrets redacted)."""
    import typer

    sys.stderr.write(f"error: {redact(message)}\n")
    raise typer.Exit(code)
