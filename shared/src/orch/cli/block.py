"""``orch block``: list types and saved blocks, inspect, create, delete, apply a file."""

from __future__ import annotations

import json
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
    from orch.registry import installed_types, origin_of

    rows = []
    for cls in installed_types():
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


@app.command("ls")
def ls(
    type_: Annotated[str | None, typer.Option("--type", help="Only this block type.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List saved blocks."""
    from orch.block_store import list_blocks

    infos = list_blocks(type_)
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
    from orch.block import Block
    from orch.redaction import MASK
    from orch.secrets import SECRET_TYPES

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


@app.command("inspect")
def inspect_(
    name: Annotated[str, typer.Argument(help="TYPE/NAME, or NAME if it is unique.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a saved block's fields (secrets masked)."""
    from orch.block import Block

    block = Block.load(name)
    fields = {k: _display(getattr(block, k)) for k in type(block).model_fields}
    if as_json:
        emit_json(
            {"name": block.block_document_name, "revision": block._block_revision, "fields": fields}
        )
        return
    typer.echo(f"{block.block_document_name} (revision {block._block_revision})")
    emit_table(
        None,
        ["field", "value"],
        [(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in fields.items()],
    )


def _parse_assignments(items: list[str], option: str) -> dict[str, str]:
    parsed = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field:
            fail(f"{option} expects FIELD=VALUE, got {item.split('=')[0]!r}")
        parsed[field.strip()] = value
    return parsed


def _coerce(value: str) -> Any:
    """CLI text → a JSON value when it parses as one (numbers, lists, objects), else text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


@app.command("create")
def create(
    block_type: Annotated[str, typer.Argument(help="Block type slug, e.g. database-credentials.")],
    name: Annotated[str, typer.Argument(help="Name to save the block under.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="FIELD=VALUE (repeatable).")
    ] = None,
    ref: Annotated[
        list[str] | None,
        typer.Option("--ref", help="FIELD=REFERENCE for a secret field, e.g. password=env://PW."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a block of that name.")] = False,
) -> None:
    """Create a block: prompts field by field (secrets hidden), or take --set/--ref."""
    from orch.block import Block
    from orch.references import SecretRef
    from orch.registry import get_block_class

    cls = get_block_class(block_type)
    secret_fields = set(cls.secret_fields())
    values: dict[str, Any] = {}
    for field, text in _parse_assignments(set_ or [], "--set").items():
        values[field] = text if field in secret_fields else _coerce(text)
    for field, text in _parse_assignments(ref or [], "--ref").items():
        if field not in secret_fields:
            fail(f"--ref {field}: {block_type} field {field!r} is not a secret field")
        values[field] = SecretRef(text)
    if not set_ and not ref:
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
    from orch.block import Block

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
            if text.startswith(
                ("env://", "file://", "aws-sm://", "gcp-sm://", "azure-kv://", "vault://")
            ):
                from orch.references import SecretRef

                values[field] = SecretRef(text)
            elif text:
                values[field] = text
            continue
        default = None if required else ""
        text = typer.prompt(label, default=default, show_default=False)
        if text != "":
            values[field] = _coerce(text)
    return values


@app.command("rm")
def rm(name: Annotated[str, typer.Argument(help="TYPE/NAME, or NAME if it is unique.")]) -> None:
    """Delete a saved block (refused while other blocks reference it)."""
    from orch.block import Block

    slug, bare = Block._split(name)
    Block.delete(f"{slug}/{bare}")
    typer.echo(f"deleted {slug}/{bare}")


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="A .toml or .yaml block file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report only.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create or update many blocks from a file whose secrets are references."""
    from orch.apply import apply_file

    results = apply_file(file, dry_run=dry_run)
    if as_json:
        emit_json([{"name": r.full_name, "action": r.action} for r in results])
        return
    for r in results:
        typer.echo(f"{r.action:9} {r.full_name}" + (" (dry run)" if dry_run else ""))
