"""Saving, loading, listing and deleting blocks in the store (tables ``orch_blocks`` and
``orch_block_refs``), and re-encrypting every secret under a new key."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orch import registry
from orch.documents import Decoder, Encoder, validate_document
from orch.errors import (
    BlockConflictError,
    BlockCorruptError,
    BlockExistsError,
    BlockInUseError,
    BlockNotFoundError,
)
from orch.store import Store, Tx, get_store
from orch.store.keyring import store_cipher

if TYPE_CHECKING:
    from orch.block import Block, BlockInfo

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS orch_blocks (
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        origin_module TEXT NOT NULL,
        origin_distribution TEXT,
        document TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (slug, name))""",
    """CREATE TABLE IF NOT EXISTS orch_block_refs (
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        ref_slug TEXT NOT NULL,
        ref_name TEXT NOT NULL,
        PRIMARY KEY (slug, name, ref_slug, ref_name))""",
    "CREATE INDEX IF NOT EXISTS orch_block_refs_target ON orch_block_refs (ref_slug, ref_name)",
]
_COLUMNS = "slug, name, schema_version, revision, created_at, updated_at"
# Nested references deeper than this are a cycle made by hand in the database.
_MAX_DEPTH = 16


def open_block_store() -> Store:
    """The current store, with the block tables created."""
    return _store()


def _store() -> Store:
    store = get_store()
    store.ensure_schema("blocks", SCHEMA)
    return store


def _for_update(store: Store) -> str:
    return " FOR UPDATE" if store.dialect == "postgresql" else ""


@dataclass
class PreparedSave:
    """A block encoded for the store, ready to be written inside a transaction."""

    block: Block
    slug: str
    name: str
    document: str
    references: list[tuple[str, str]]
    origin: registry.TypeOrigin
    overwrite: bool
    expected_revision: int | None

    @property
    def document_name(self) -> str:
        return f"{self.slug}/{self.name}"


def prepare_save(
    block: Block, name: str, *, overwrite: bool, store: Store | None = None
) -> PreparedSave:
    """Encode ``block`` (encrypting literal secrets) outside any transaction."""
    store = store or _store()
    slug = block.block_type_slug
    encoder = Encoder(f"{slug}/{name}", lambda: store_cipher(store, for_write=True))
    document = json.dumps(encoder.fields(block), separators=(",", ":"))
    # A block loaded under this name is saved only if nobody changed it meanwhile.
    expected = block._block_revision if overwrite and block.block_name == name else None
    return PreparedSave(
        block,
        slug,
        name,
        document,
        encoder.references,
        registry.origin_of(type(block)),
        overwrite,
        expected,
    )


def save_block(block: Block, name: str, *, overwrite: bool) -> str:
    store = _store()
    prepared = prepare_save(block, name, overwrite=overwrite, store=store)
    with store.transaction() as tx:
        revision = write_prepared(store, tx, prepared)
    block._block_name, block._block_revision = name, revision
    return prepared.document_name


def write_prepared(store: Store, tx: Tx, p: PreparedSave) -> int:
    """Write one prepared block in the caller's transaction; returns its new revision."""
    slug, name, now = p.slug, p.name, time.time()
    origin = p.origin
    _lock_references(store, tx, p.document_name, p.references)
    insert = (
        "INSERT INTO orch_blocks (slug, name, schema_version, revision, origin_module,"
        " origin_distribution, document, created_at, updated_at)"
        " VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)"
    )
    row_values = (
        slug,
        name,
        p.block.block_schema_version,
        origin.module,
        origin.distribution,
        p.document,
        now,
        now,
    )
    if not p.overwrite:
        tx.execute(insert + " ON CONFLICT (slug, name) DO NOTHING", row_values)
        if tx.rowcount != 1:
            raise BlockExistsError(
                f"a {slug} block named {name!r} already exists "
                "(save with overwrite=True to replace it)"
            )
        revision = 1
    elif p.expected_revision is not None:
        tx.execute(
            "UPDATE orch_blocks SET schema_version = ?, revision = revision + 1,"
            " origin_module = ?, origin_distribution = ?, document = ?, updated_at = ?"
            " WHERE slug = ? AND name = ? AND revision = ?",
            (
                p.block.block_schema_version,
                origin.module,
                origin.distribution,
                p.document,
                now,
                slug,
                name,
                p.expected_revision,
            ),
        )
        if tx.rowcount != 1:
            raise BlockConflictError(
                f"block {p.document_name} was changed or deleted since it was loaded "
                f"(at revision {p.expected_revision}); load it again and re-apply your change"
            )
        revision = p.expected_revision + 1
    else:
        found = tx.execute(
            insert + " ON CONFLICT (slug, name) DO UPDATE SET"
            " schema_version = excluded.schema_version,"
            " revision = orch_blocks.revision + 1,"
            " origin_module = excluded.origin_module,"
            " origin_distribution = excluded.origin_distribution,"
            " document = excluded.document, updated_at = excluded.updated_at"
            " RETURNING revision",
            row_values,
        ).fetchone()
        assert found is not None
        revision = int(found[0])
    tx.execute("DELETE FROM orch_block_refs WHERE slug = ? AND name = ?", (slug, name))
    if p.references:
        tx.executemany(
            "INSERT INTO orch_block_refs (slug, name, ref_slug, ref_name) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(slug, name, rs, rn) for rs, rn in p.references],
        )
    return revision


def stored_document(slug: str, name: str) -> str | None:
    """The raw stored JSON of one block (secrets still encrypted), or ``None``."""
    store = _store()
    with store.transaction(write=False) as tx:
        row = tx.execute(
            "SELECT document FROM orch_blocks WHERE slug = ? AND name = ?", (slug, name)
        ).fetchone()
    return None if row is None else str(row[0])


def _lock_references(
    store: Store, tx: Tx, document_name: str, references: list[tuple[str, str]]
) -> None:
    """Check that referenced blocks exist, locking them against a concurrent delete."""
    for ref_slug, ref_name in references:
        found = tx.execute(
            "SELECT revision FROM orch_blocks WHERE slug = ? AND name = ?" + _for_update(store),
            (ref_slug, ref_name),
        ).fetchone()
        if found is None:
            raise BlockNotFoundError(
                f"block {document_name} references {ref_slug}/{ref_name}, which is not saved"
            )


def load_block(slug: str, name: str, _depth: int = 0) -> Block:
    store = _store()
    document_name = f"{slug}/{name}"
    with store.transaction(write=False) as tx:
        row = tx.execute(
            "SELECT schema_version, revision, origin_module, origin_distribution, document"
            " FROM orch_blocks WHERE slug = ? AND name = ?",
            (slug, name),
        ).fetchone()
    if row is None:
        raise BlockNotFoundError(f"no {slug} block named {name!r} is saved")
    version, revision, module, distribution, document = row
    cls = registry.get_block_class(slug, registry.TypeOrigin(module, distribution))
    try:
        data = json.loads(document)
    except ValueError:
        raise BlockCorruptError(
            f"block {document_name} is corrupt: its stored document is not valid JSON"
        ) from None
    if _depth > _MAX_DEPTH:
        raise BlockCorruptError(f"block {document_name}: nested references form a cycle")

    def load_reference(full_name: str) -> Block:
        ref_slug, _, ref_name = full_name.partition("/")
        return load_block(ref_slug, ref_name, _depth + 1)

    decoder = Decoder(document_name, lambda: store_cipher(store, for_write=False), load_reference)
    block = validate_document(cls, decoder.fields(data), int(version), f"block {document_name}")
    block._block_name, block._block_revision = name, int(revision)
    return block


def delete_block(slug: str, name: str) -> None:
    store = _store()
    with store.transaction() as tx:
        found = tx.execute(
            "SELECT revision FROM orch_blocks WHERE slug = ? AND name = ?" + _for_update(store),
            (slug, name),
        ).fetchone()
        if found is None:
            raise BlockNotFoundError(f"no {slug} block named {name!r} is saved")
        users = tx.execute(
            "SELECT slug, name FROM orch_block_refs WHERE ref_slug = ? AND ref_name = ?"
            " ORDER BY slug, name",
            (slug, name),
        ).fetchall()
        if users:
            names = ", ".join(f"{s}/{n}" for s, n in users)
            raise BlockInUseError(
                f"cannot delete {slug}/{name}: it is referenced by {names}; "
                "delete or change those first"
            )
        tx.execute("DELETE FROM orch_blocks WHERE slug = ? AND name = ?", (slug, name))
        tx.execute("DELETE FROM orch_block_refs WHERE slug = ? AND name = ?", (slug, name))


def _infos(rows: list[tuple[Any, ...]]) -> list[BlockInfo]:
    from orch.block import BlockInfo

    return [
        BlockInfo(str(s), str(n), int(v), int(r), float(c), float(u)) for s, n, v, r, c, u in rows
    ]


def list_blocks(slug: str | None = None) -> list[BlockInfo]:
    store = _store()
    with store.transaction(write=False) as tx:
        if slug is None:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM orch_blocks ORDER BY slug, name").fetchall()
        else:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM orch_blocks WHERE slug = ? ORDER BY name", (slug,)
            ).fetchall()
    return _infos(rows)


def find_by_name(name: str) -> list[BlockInfo]:
    store = _store()
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            f"SELECT {_COLUMNS} FROM orch_blocks WHERE name = ? ORDER BY slug", (name,)
        ).fetchall()
    return _infos(rows)


def rotate_key(new_key: bytes) -> int:
    """Re-encrypt every secret with ``new_key`` in one transaction; returns blocks changed.

    The caller makes ``new_key`` the configured key afterwards (see ``orch store rotate-key``).
    """
    from orch.store.crypto import Cipher, key_id
    from orch.store.keyring import forget_ciphers
    from orch.store.meta import SCHEMA as META_SCHEMA
    from orch.store.meta import set_meta

    store = _store()
    store.ensure_schema("meta", META_SCHEMA)
    old = store_cipher(store, for_write=True)
    new = Cipher(new_key)
    changed = 0
    with store.transaction() as tx:
        rows = tx.execute(
            "SELECT slug, name, document FROM orch_blocks" + _for_update(store)
        ).fetchall()
        for slug, name, document in rows:
            context = f"{slug}/{name}"
            data = json.loads(document)
            if _reencrypt(data, lambda token, c=context: new.encrypt(old.decrypt(token, c), c)):
                tx.execute(
                    "UPDATE orch_blocks SET document = ? WHERE slug = ? AND name = ?",
                    (json.dumps(data, separators=(",", ":")), slug, name),
                )
                changed += 1
        set_meta(tx, "key_id", key_id(new_key))
    forget_ciphers()
    return changed


def _reencrypt(node: Any, recrypt: Any) -> bool:
    found = False
    if isinstance(node, dict):
        if "$secret" in node and isinstance(node.get("$enc"), str):
            node["$enc"] = recrypt(node["$enc"])
            return True
        for value in node.values():
            found = _reencrypt(value, recrypt) or found
    elif isinstance(node, list):
        for value in node:
            found = _reencrypt(value, recrypt) or found
    return found
