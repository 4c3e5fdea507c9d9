"""Shared output helpers of the CLI: tables or ``--json``, and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from orch.secrets.redaction import redact


def emit_json(data: Any) -> None:
    sys.stdout.write(redact(json.dumps(data, indent=2, default=str)) + "\n")


def emit_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    whole: Sequence[str] = ("id", "name", "type"),
) -> None:
    """A table whose ``whole`` columns (identifiers a user copies) are never cut or wrapped."""
    from rich.console import Console
    from rich.table import Table

    cells = [[redact("" if v is None else str(v)) for v in row] for row in rows]
    console = Console()
    table = Table(title=title, show_edge=False, header_style="bold")

    def longest(i: int, split: bool) -> int:
        texts = [columns[i], *(row[i] for row in cells)]
        return max(len(w) for t in texts for w in (t.split() if split else [t]) or [""])

    fixed = {i: longest(i, split=False) for i, c in enumerate(columns) if c in whole}
    # Other columns wrap, but at most at ten characters a line, and a shorter word
    # (a state, a date) is not cut in pieces: a long flow name or description folds.
    floor = {i: min(longest(i, split=True), 10) for i in range(len(columns)) if i not in fixed}
    for i, column in enumerate(columns):
        if i in fixed:
            table.add_column(column, no_wrap=True, min_width=fixed[i])
        else:
            table.add_column(column, overflow="fold", min_width=floor[i])
    for row in cells:
        table.add_row(*row)
    needed = sum(fixed.values()) + sum(floor.values()) + 3 * len(columns)
    # Wider than the terminal (which then wraps the lines) rather than cut an identifier.
    if needed > console.width:
        console = Console(width=needed)
    console.print(table)


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` on stderr and exit (secrets redacted)."""
    import typer

    sys.stderr.write(f"error: {redact(message)}\n")
    raise typer.Exit(code)
