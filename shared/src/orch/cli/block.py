"""``orch block``: list types and saved blocks, inspect, create, delete, apply a file."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from orch.cli.output import emit_json, emit_table, fail

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


@app.command("types")
def types_(as_json: JsonOpt = False) -> None:
    """List the installed block types."""
    import warnings

    from orch.blocks.registry import installed_types, origin_of

    with warnings.catch_warnings(record=True) as broken:
        warnings.simplefilter("always", RuntimeWarning)
        types = installed_types()
    for warning in broken:
        sys.stderr.write(f"warning: {warning.message}\n")
    rows = []
    for cls in types:
        rows.append(
            {
                "slug": cls.block_type_slug,
                "distribution": origin_of(cls).distribution,
                "schema_version": cls.block_schema_version,
                "description": cls.block_description(),
                "secret_fields": cls.secret_fields(),
            }
        )
    if as_json:
        emit_json(rows)
        return
    emit_table(
        None,
        ["type", "package", "description"],
        [(r["slug"], r["distribution"] or "-", r["description"]) for r in rows],
    )


def _complete_type(incomplete: str) -> list[str]:
    from orch.blocks.registry import known_slugs

    return sorted(s for s in known_slugs() if s.startswith(incomplete))


@app.command("ls")
def ls(
    type_: Annotated[
        str | None,
        typer.Option("--type", help="Only this block type.", autocompletion=_complete_type),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List saved blocks."""
    from orch.blocks.block_store import list_blocks
    from orch.blocks.registry import known_slugs
    from orch.errors import did_you_mean

    infos = list_blocks(type_)
    if type_ is not None and not infos:
        # A typo must not look like "no blocks": the type has to be known or saved.
        known = known_slugs() | {i.slug for i in list_blocks()}
        if type_ not in known:
            fail(
                f"unknown block type {type_!r}{did_you_mean(type_, known)}; "
                "`orch block types` lists the installed types",
                code=2,
            )
    if as_json:
        emit_json(
            [
                {
                    "name": i.full_name,
                    "type": i.slug,
                    "schema_version": i.schema_version,
                    "revision": i.revision,
                    "created_at": i.created_at,
                    "updated_at": i.updated_at,
                }
                for i in infos
            ]
        )
        return
    emit_table(
        None,
        ["name", "type", "revision", "updated"],
        [(i.full_name, i.slug, i.revision, _when(i.updated_at)) for i in infos],
    )


def _display(value: Any) -> Any:
    """A field value as shown to a person: secrets masked, references shown as references."""
    from orch.blocks.base import Block
    from orch.secrets.redaction import MASK
    from orch.secrets.types import SECRET_TYPES

    if isinstance(value, SECRET_TYPES):
        return f"<reference {value.reference}>" if value.reference is not None else MASK
    if isinstance(value, Block):
        if value.block_document_name is not None:
            return f"<block {value.block_document_name}>"
        return {k: _display(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _display(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_display(v) for v in value]
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value)


def _key_problem() -> str | None:
    """Why the store's key cannot be used here ("no key", "wrong key"), or ``None``.

    Read-only: a store that has encrypted nothing yet does not adopt the key found here
    (as a first write would), so that inspecting with a wrong key changes nothing.
    """
    from orch.blocks.block_store import open_block_store
    from orch.errors import SecretKeyError
    from orch.store.crypto import find_key
    from orch.store.keyring import store_cipher
    from orch.store.meta import get_meta

    store = open_block_store()
    try:
        source = find_key()
    except SecretKeyError:  # a malformed key is no better than a wrong one
        return "wrong key"
    if source is None:
        return "no key"
    if get_meta(store, "key_id") is None:
        return None  # nothing is encrypted yet: loading decrypts nothing
    try:
        store_cipher(store, for_write=False)
    except SecretKeyError:
        return "wrong key"
    return None


@app.command("inspect")
def inspect_(
    name: Annotated[str, typer.Argument(help="TYPE/NAME, or NAME if it is unique.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a saved block's fields (secrets masked); works without the key, unverified."""
    from orch.blocks.base import Block

    slug, bare = Block._split(name)
    full_name = f"{slug}/{bare}"
    from orch.errors import BlockIntegrityError

    problem = _key_problem()
    failed = False
    if problem is None:
        try:
            block = Block.load(full_name)
        except BlockIntegrityError as exc:
            # Shown anyway (masked), so an unsigned row can be looked at before
            # `orch store upgrade` vouches for it, and a tampered one can be examined.
            failed = "not signed" not in str(exc)
            problem = "unsigned: check it, then run `orch store upgrade`"
        else:
            revision = block._block_revision
            fields = {k: _display(getattr(block, k)) for k in type(block).model_fields}
            integrity = "verified"
    if problem is not None:
        # Every secret is masked anyway: show the stored document without decrypting it,
        # and say that nothing about it could be checked.
        from orch.blocks.masked import masked_document

        revision, fields = masked_document(slug, bare)
        integrity = f"not verified ({problem})"
        if failed:
            integrity = "FAILED: the row was changed outside orch (or signed with another key)"
    if as_json:
        emit_json(
            {"name": full_name, "revision": revision, "integrity": integrity, "fields": fields}
        )
    else:
        typer.echo(f"{full_name} (revision {revision})")
        typer.echo(f"integrity: {integrity}")
        emit_table(
            None,
            ["field", "value"],
            [(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in fields.items()],
        )
    if failed:
        raise typer.Exit(1)  # shown for examination, but not to be used


def _parse_assignments(items: list[str], option: str) -> list[tuple[str, str]]:
    parsed = []
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field:
            fail(f"{option} expects FIELD=VALUE, got {item.split('=')[0]!r}")
        parsed.append((field.strip(), value))
    return parsed


def _coerce(value: str) -> Any:
    """CLI text → a JSON value when it parses as one (numbers, lists, objects), else text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _as_reference(text: str) -> Any:
    """``text`` as a ``SecretRef`` when it is a reference of a known scheme, else None."""
    from orch.errors import SecretReferenceError
    from orch.secrets.references import SecretRef

    try:
        return SecretRef(text)
    except SecretReferenceError:
        return None


class _SecretInput:
    """Secret values typed at a hidden prompt (a terminal) or read from stdin, one per line."""

    def __init__(self) -> None:
        self.terminal = sys.stdin is not None and sys.stdin.isatty()

    def read(self, field: str, option: str) -> str:
        if self.terminal:
            text: str = typer.prompt(field, hide_input=True)
        else:
            line = sys.stdin.readline() if sys.stdin is not None else ""
            if not line:
                fail(
                    f"{option}: no line left on stdin "
                    "(one line per secret field, in the order given)"
                )
            text = line.removesuffix("\n").removesuffix("\r")
        if not text:
            fail(f"{option}: the line read from stdin is empty")
        return text


def _secret_values(
    block_type: str,
    secret_fields: set[str],
    set_: list[tuple[str, str]],
    ref: list[tuple[str, str]],
    set_secret: list[str],
) -> dict[str, Any]:
    """The secret fields given by --set-secret, --set FIELD=- / =VALUE and --ref."""
    listed = ", ".join(sorted(secret_fields)) or "none"
    values: dict[str, Any] = {}
    stdin = _SecretInput()
    # Lines of stdin go to --set-secret fields first, then to --set FIELD=- (in order).
    reads = [(f, f"--set-secret {f}") for f in set_secret]
    reads += [(f, f"--set {f}=-") for f, text in set_ if f in secret_fields and text == "-"]
    for field, option in reads:
        if field not in secret_fields:
            fail(
                f"{option}: {block_type} field {field!r} is not a secret field "
                f"(secret fields: {listed})"
            )
        text = stdin.read(field, option)
        values[field] = _as_reference(text) or text
    for field, text in set_:
        if field not in secret_fields or text == "-":
            continue
        reference = _as_reference(text)
        if reference is None:
            # The value is now in argv (the process list) and in the shell's history.
            sys.stderr.write(
                f"warning: --set {field}=… puts a secret on the command line, where shell "
                f"history and the process list can show it; use --set-secret {field} to "
                f"type it at a hidden prompt or pipe it on stdin (or --ref "
                f"{field}=SCHEME://… for a reference)\n"
            )
        values[field] = reference or text
    for field, text in ref:
        if field not in secret_fields:
            fail(f"--ref {field}: {block_type} field {field!r} is not a secret field")
        from orch.secrets.references import SecretRef

        values[field] = SecretRef(text)
    return values


@app.command("create")
def create(
    block_type: Annotated[str, typer.Argument(help="Block type slug, e.g. database-credentials.")],
    name: Annotated[str, typer.Argument(help="Name to save the block under.")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="FIELD=VALUE (repeatable); FIELD=- reads a secret field from stdin."
        ),
    ] = None,
    set_secret: Annotated[
        list[str] | None,
        typer.Option(
            "--set-secret",
            help="FIELD: a secret field typed at a hidden prompt, or one line of stdin when "
            "stdin is not a terminal (repeatable: one line each, in order).",
        ),
    ] = None,
    ref: Annotated[
        list[str] | None,
        typer.Option("--ref", help="FIELD=REFERENCE for a secret field, e.g. password=env://PW."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a block of that name.")] = False,
) -> None:
    """Create a block from --set/--set-secret/--ref, or field by field at prompts."""
    from orch.blocks.base import Block
    from orch.blocks.registry import get_block_class

    cls = get_block_class(block_type)
    secret_fields = set(cls.secret_fields())
    assignments = _parse_assignments(set_ or [], "--set")
    references = _parse_assignments(ref or [], "--ref")
    given = [f for f, _ in assignments] + [f for f, _ in references] + list(set_secret or [])
    for field in given:
        if given.count(field) > 1:
            fail(f"field {field!r} is given more than once")
    values: dict[str, Any] = {
        field: _coerce(text) for field, text in assignments if field not in secret_fields
    }
    values.update(
        _secret_values(block_type, secret_fields, assignments, references, set_secret or [])
    )
    if not set_ and not ref and not set_secret:
        values = _prompt_fields(cls, secret_fields)
    for field, info in cls.model_fields.items():
        nested = _nested_block_type(info.annotation)
        if nested is not None and isinstance(values.get(field), str):
            target = values[field]
            values[field] = Block.load(
                target if "/" in target else f"{nested.block_type_slug}/{target}"
            )
    block = cls(**values)
    full = block.save(name, overwrite=overwrite)
    typer.echo(f"saved {full}")


def _nested_block_type(annotation: Any) -> Any:
    from orch.blocks.base import Block

    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, Block):
            return candidate
    return None


def _prompt_fields(cls: Any, secret_fields: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field, info in cls.model_fields.items():
        required = info.is_required()
        label = f"{field}" + ("" if required else " (optional, Enter to skip)")
        if field in secret_fields:
            text = typer.prompt(
                label, hide_input=True, default="" if not required else None, show_default=False
            )
            if text:
                values[field] = _as_reference(text) or text
            continue
        default = None if required else ""
        text = typer.prompt(label, default=default, show_default=False)
        if text != "":
            values[field] = _coerce(text)
    return values


@app.command("rm")
def rm(
    name: Annotated[str, typer.Argument(help="TYPE/NAME, or NAME if it is unique.")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete without asking (for scripts).")
    ] = False,
) -> None:
    """Delete a saved block, after asking (refused while other blocks reference it)."""
    from orch.blocks.base import Block
    from orch.blocks.block_store import not_found_message, stored_document
    from orch.errors import BlockNotFoundError

    slug, bare = Block._split(name)
    full = f"{slug}/{bare}"
    if stored_document(slug, bare) is None:
        raise BlockNotFoundError(not_found_message(slug, bare))
    if not yes:
        if sys.stdin is None or not sys.stdin.isatty():
            fail(f"not deleting {full}: stdin is not a terminal to confirm; pass --yes")
        if not typer.confirm(f"Delete {full}?", default=False):
            fail(f"not deleting {full}")
    Block.delete(full)
    typer.echo(f"deleted {full}")


def _shown(value: Any) -> str:
    """A diffed value: masks and references as they are, other text quoted, the rest JSON."""
    from orch.secrets.redaction import MASK

    if isinstance(value, str):
        plain = value == MASK or value.startswith(("<reference ", "<block "))
        return value if plain else repr(value)
    return json.dumps(value)


def field_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """``+ field: value`` / ``~ field: old → new`` / ``- field: old`` lines, secrets masked.

    Read from the stored documents only: nothing is decrypted.
    """
    from orch.blocks.masked import display_stored

    old = {str(k): display_stored(v) for k, v in (before or {}).items()}
    new = {str(k): display_stored(v) for k, v in after.items()}
    lines = []
    for field in [*new, *(f for f in old if f not in new)]:
        if field not in old:
            lines.append(f"+ {field}: {_shown(new[field])}")
        elif field not in new:
            lines.append(f"- {field}: {_shown(old[field])}")
        elif old[field] != new[field] or before is None:
            lines.append(f"~ {field}: {_shown(old[field])} → {_shown(new[field])}")
        elif before.get(field) != after.get(field):
            # Both masked: a secret changed, whose values are not shown.
            lines.append(f"~ {field}: {_shown(old[field])} (changed)")
    return lines


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="A .toml or .yaml block file.")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would change, field by field; write nothing."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create or update many blocks from a file whose secrets are references.

    Prints each block's action and the fields it changes (secrets masked).
    """
    from orch.blocks.apply import apply_file

    results = apply_file(file, dry_run=dry_run)
    if as_json:
        emit_json(
            [
                {
                    "name": r.full_name,
                    "action": r.action,
                    "changes": field_changes(r.before, r.after or {}),
                }
                for r in results
            ]
        )
        return
    for r in results:
        typer.echo(f"{r.action:9} {r.full_name}")
        for line in field_changes(r.before, r.after or {}):
            typer.echo(f"    {line}")
    if dry_run:
        typer.echo("dry run: nothing written")
