"""``orch store``: where the store is, and rotating its encryption key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from orch.cli.output import emit_json, emit_table, fail

app = typer.Typer(no_args_is_help=True)


@app.command("info")
def info(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the store's location, its block count and which key it needs."""
    from orch.block_store import list_blocks, open_block_store
    from orch.store.crypto import find_key, key_file_path, key_id
    from orch.store.meta import get_meta

    store = open_block_store()
    description = store.describe()
    stored_id = get_meta(store, "key_id")
    problem: str | None = None
    try:
        source = find_key()
    except Exception as exc:  # a malformed key is reported, not raised
        source, problem = None, str(exc)
    data = {
        **description,
        "blocks": len(list_blocks()),
        "key_id": stored_id,
        "key_source": source.description if source else (problem or f"none ({key_file_path()})"),
        "key_matches": (source is not None and key_id(source.key) == stored_id)
        if stored_id
        else None,
    }
    if as_json:
        emit_json(data)
        return
    emit_table(None, ["", ""], [(k, v) for k, v in data.items()])


@app.command("new-key")
def new_key(
    out: Annotated[Path, typer.Option("--out", help="File to write the new key to (mode 0600).")],
) -> None:
    """Write a fresh key to a file, e.g. for ORCH_SECRET_KEY on a team store."""
    from orch.store.crypto import new_key as make_key
    from orch.store.crypto import write_key_file

    if out.exists():
        fail(f"{out} exists; choose another path")
    write_key_file(out, make_key())
    typer.echo(f"wrote a new key to {out} (set ORCH_SECRET_KEY to its content)")


@app.command("rotate-key")
def rotate_key(
    new_key_file: Annotated[
        Path | None,
        typer.Option(help="Where to write the new key when the key comes from ORCH_SECRET_KEY."),
    ] = None,
) -> None:
    """Re-encrypt every secret with a new key, in one transaction."""
    from orch.block_store import rotate_key as rotate
    from orch.store.crypto import find_key, new_key, write_key_file

    source = find_key()
    if source is None:
        fail("this store has no key yet: nothing to rotate")
        return
    key = new_key()
    if source.path is None:
        if new_key_file is None:
            fail(
                "the key comes from ORCH_SECRET_KEY: pass --new-key-file PATH to receive "
                "the new key, then set ORCH_SECRET_KEY to it"
            )
            return
        write_key_file(new_key_file, key)
        count = rotate(key)
        typer.echo(
            f"re-encrypted {count} block(s); the new key is in {new_key_file}: "
            "set ORCH_SECRET_KEY to its content"
        )
        return
    # The new key is written beside the old one first; if we stop between the commit and
    # the rename, the next use of the store finishes the swap (see keyring._finish_rotation).
    pending = source.path.with_name(source.path.name + ".new")
    pending.unlink(missing_ok=True)
    write_key_file(pending, key)
    count = rotate(key)
    os.replace(pending, source.path)
    typer.echo(f"re-encrypted {count} block(s) with a new key in {source.path}")
