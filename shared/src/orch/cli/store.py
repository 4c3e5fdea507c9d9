"""``orch store``: where the store is, rotating its encryption key, signing old blocks."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer

from orch.cli.output import emit_json, emit_table, fail

app = typer.Typer(no_args_is_help=True)


@app.command("info")
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the store's location, its block count and which key it needs."""
    from orch.blocks.block_store import count_unsigned, list_blocks, open_block_store
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
        "unsigned_blocks": count_unsigned(),  # written by an older orch: `orch store upgrade`
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
    """Re-encrypt every secret and re-sign every block with a new key, in one transaction.

    The new key is written (and flushed to disk) before any row changes; if the rotation
    fails, nothing changes and the new key file is removed. The task cache is dropped.
    """
    from orch.blocks.block_store import open_block_store
    from orch.blocks.block_store import rotate_key as rotate
    from orch.store.crypto import find_key, fsync_dir, key_id, new_key, write_key_file
    from orch.store.keyring import store_cipher
    from orch.store.meta import get_meta

    source = find_key()
    if source is None:
        fail("this store has no key yet: nothing to rotate")
        return
    if source.path is None and new_key_file is None:
        fail(
            "the key comes from ORCH_SECRET_KEY: pass --new-key-file PATH to receive "
            "the new key, then set ORCH_SECRET_KEY to it"
        )
        return
    if source.path is not None and new_key_file is not None:
        fail(
            f"the key comes from the key file {source.path}, which is rewritten in place: "
            "--new-key-file is only for a key from ORCH_SECRET_KEY"
        )
        return
    if new_key_file is not None and new_key_file.exists():
        fail(f"{new_key_file} exists; choose a path that does not exist")
        return
    # The current key must be the store's before anything is written (this also finishes
    # a rotation that committed but was cut off before its key file was swapped).
    store = open_block_store()
    store_cipher(store, for_write=False)
    # With a key file, the new key goes beside the old one first; if we stop between the
    # commit and the rename, the next use of the store finishes the swap
    # (keyring._finish_rotation).
    if new_key_file is not None:
        target = new_key_file
    else:
        assert source.path is not None
        target = source.path.with_name(source.path.name + ".new")
        if target.exists():
            fail(
                f"{target} exists: another rotation is running, or one was cut off before "
                "it committed; if none is running, remove that file and try again"
            )
            return
    key = new_key()
    write_key_file(target, key)  # refuses an existing file; fsyncs the file and its folder
    try:
        result = rotate(key)
    except BaseException:
        # Never leave a key that encrypts nothing, but never remove one the store now
        # needs (an interrupt right after the commit): when unsure, keep it.
        with contextlib.suppress(Exception):
            if get_meta(store, "key_id") != key_id(key):
                target.unlink(missing_ok=True)
        raise
    dropped = f"; dropped {result.cache_entries} cached task result(s) sealed with the old key"
    counts = f"re-encrypted {result.reencrypted} and re-signed {result.blocks} block(s)"
    if source.path is None:
        typer.echo(f"{counts}{dropped}; the new key is in {target}: set ORCH_SECRET_KEY to it")
        return
    try:
        os.replace(target, source.path)
        fsync_dir(source.path.parent)
    except FileNotFoundError:
        # Another process saw the commit and finished the swap itself (keyring).
        found = find_key()
        if found is None or found.key != key:
            raise
    typer.echo(f"{counts}{dropped}; the new key is in {source.path}")


@app.command("upgrade")
def upgrade() -> None:
    """Check and sign the blocks an older orch wrote without an integrity tag.

    Each one is signed only if every secret value in it decrypts with the store's key for
    that very block; all of them are signed in one transaction, or none.
    """
    from orch.blocks.block_store import sign_unsigned_blocks

    signed = sign_unsigned_blocks()
    typer.echo(f"signed {len(signed)} block(s)" + (": " + ", ".join(signed) if signed else ""))
