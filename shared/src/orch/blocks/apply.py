"""``orch block apply FILE``: create or update many blocks from a TOML or YAML file.

The file maps block type → block name → fields::

    [database-credentials.prod]
    host = "db.internal"
    username = "etl"
    password = "env://PG_PASSWORD"     # a secret field must hold a reference

    [sqlalchemy-connector.warehouse]
    credentials = "database-credentials/prod"   # a nested block, by name
    pool_size = 5

Every block is validated before anything is written; then all are written in one
transaction, referenced blocks first.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orch.blocks.base import Block, check_block_name
from orch.blocks.registry import get_block_class
from orch.errors import BlockError, ConfigFileError, OrchError
from orch.secrets.references import SecretRef

Action = Literal["created", "updated", "unchanged"]


@dataclass
class AppliedBlock:
    """What applying a file does to one block, with its stored documents before and after."""

    full_name: str
    action: Action
    before: dict[str, Any] | None = None  # None: the block was not saved yet
    after: dict[str, Any] | None = None


def read_config(path: Path) -> dict[str, Any]:
    """Parse a TOML (``.toml``) or YAML (``.yaml``/``.yml``) block file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ConfigFileError(
                    "YAML block files need PyYAML: pip install 'orch-core[yaml]'"
                ) from None
            data = yaml.safe_load(text) or {}
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigFileError(f"{path}: use a .toml, .yaml or .yml file")
    except ConfigFileError:
        raise
    except Exception as exc:
        raise ConfigFileError(f"{path} is not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a table of block types")
    return data


def _field_block_type(cls: type[Block], field: str) -> type[Block] | None:
    annotation = cls.model_fields[field].annotation
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, Block):
            return candidate
    return None


class _Plan:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.raw: dict[str, tuple[type[Block], dict[str, Any]]] = {}
        for slug, blocks in data.items():
            try:
                cls = get_block_class(str(slug))
            except OrchError as exc:
                raise ConfigFileError(f"{path}: {exc}") from None
            if not isinstance(blocks, dict):
                raise ConfigFileError(f"{path}: [{slug}] must hold tables named after blocks")
            for name, fields in blocks.items():
                full = f"{slug}/{name}"
                try:
                    check_block_name(str(name))
                except BlockError as exc:
                    raise ConfigFileError(f"{path}: {exc}") from None
                if not isinstance(fields, dict):
                    raise ConfigFileError(f"{path}: {full} must be a table of fields")
                self.raw[full] = (cls, fields)
        self.built: dict[str, Block] = {}
        self.order: list[str] = []
        self._visiting: set[str] = set()

    def build_all(self) -> None:
        for full in self.raw:
            self.build(full)

    def build(self, full: str) -> Block:
        if full in self.built:
            return self.built[full]
        if full in self._visiting:
            raise ConfigFileError(f"{self.path}: {full} references itself through other blocks")
        self._visiting.add(full)
        cls, fields = self.raw[full]
        values = {k: self._value(full, cls, k, v) for k, v in fields.items()}
        try:
            block = cls(**values)
        except BlockError as exc:
            raise ConfigFileError(f"{self.path}: {full}: {exc}") from None
        block._block_name = full.partition("/")[2]
        self.built[full] = block
        self.order.append(full)
        self._visiting.discard(full)
        return block

    def _value(self, full: str, cls: type[Block], field: str, value: Any) -> Any:
        if field not in cls.model_fields:
            return value  # the block's own validation names the unknown field
        if field in cls.secret_fields():
            return self._secret(full, field, value)
        nested = _field_block_type(cls, field)
        if nested is not None and isinstance(value, str):
            target = value if "/" in value else f"{nested.block_type_slug}/{value}"
            if target in self.raw:
                return self.build(target)
            try:
                return Block.load(target)
            except OrchError as exc:
                raise ConfigFileError(
                    f"{self.path}: {full}: field {field!r} names block {target}: {exc}"
                ) from None
        return value

    def _secret(self, full: str, field: str, value: Any) -> Any:
        if value is None:
            return None
        ref = value.get("ref") if isinstance(value, dict) and set(value) == {"ref"} else value
        if isinstance(ref, str) and "://" in ref:
            try:
                return SecretRef(ref)
            except OrchError as exc:
                raise ConfigFileError(f"{self.path}: {full}: field {field!r}: {exc}") from None
        raise ConfigFileError(
            f"{self.path}: {full}: field {field!r} is a secret and holds a plain value; "
            "write a reference instead, e.g. 'env://NAME' or 'aws-sm://name#key' "
            "(block files must never contain secret values)"
        )


def apply_file(path: Path, *, dry_run: bool = False) -> list[AppliedBlock]:
    """Create or update every block in ``path``; nothing is written if any is invalid."""
    from orch.blocks.block_store import (
        open_block_store,
        prepare_save,
        stored_document,
        write_prepared,
    )

    plan = _Plan(path, read_config(path))
    plan.build_all()
    store = open_block_store()
    prepared, results = [], []
    for full in plan.order:
        block = plan.built[full]
        slug, _, name = full.partition("/")
        item = prepare_save(block, name, overwrite=True, store=store)
        item.expected_revision = None  # apply replaces whatever is stored
        existing = stored_document(slug, name)
        before = None if existing is None else json.loads(existing)
        after = json.loads(item.document)
        if before is None:
            action: Action = "created"
        elif before == after:
            action = "unchanged"
        else:
            action = "updated"
        results.append(AppliedBlock(full, action, before, after))
        if action != "unchanged":
            prepared.append(item)
    if not dry_run and prepared:
        with store.transaction() as tx:
            for item in prepared:
                write_prepared(store, tx, item)
    return results
