"""Saving, loading, listing and deleting blocks in the store (tables ``orch_blocks`` and
``orch_block_refs``), and re-encrypting every secret under a new key.

Every row is signed: its ``mac`` column is an HMAC (a subkey of the store key) of every
column that decides what loading it returns — slug, name, schema version, revision, the
module that defines its type, and the document. The tag is made inside the write
transaction with the key the store records at that moment, and checked before the row is
used at all (before its type's module is imported), so a row edited in the database, or
inserted without the key, fails to load with ``BlockIntegrityError``. Rows written by
an orch without signatures are refused until ``orch store upgrade`` checks and signs them.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orch.blocks import registry
from orch.blocks.documents import Decoder, Encoder, validate_document
from orch.errors import (
    BlockConflictError,
    BlockCorruptError,
    BlockExistsError,
    BlockIntegrityError,
    BlockInUseError,
    BlockNotFoundError,
    OrchError,
    SecretKeyError,
    did_you_mean,
)
from orch.store import Store, Tx, get_store
from orch.store.keyring import cipher_for, current_cipher, store_cipher
from orch.store.meta import SCHEMA as META_SCHEMA

if TYPE_CHECKING:
    from orch.store.crypto import Cipher

if TYPE_CHECKING:
    from orch.blocks.base import Block, BlockInfo

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
        mac TEXT,
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
    store.ensure_schema("meta", META_SCHEMA)
    store.ensure_schema("blocks", SCHEMA)
    if store not in _mac_column_checked:
        _add_mac_column(store)
    return store


_mac_column_checked: weakref.WeakSet[Store] = weakref.WeakSet()
_mac_column_lock = threading.Lock()


def _add_mac_column(store: Store) -> None:
    """Give a table made by an orch without signatures its ``mac`` column (once per
    process and store; the check runs in a write transaction, so racing processes add it
    once)."""
    with _mac_column_lock:
        if store in _mac_column_checked:
            return
        with store.transaction() as tx:
            if store.dialect == "postgresql":
                store._lock_schema(tx)
                columns = tx.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = 'orch_blocks'"
                ).fetchall()
            else:
                columns = [(r[1],) for r in tx.execute("PRAGMA table_info(orch_blocks)").fetchall()]
            if ("mac",) not in columns:
                tx.execute("ALTER TABLE orch_blocks ADD COLUMN mac TEXT")
        _mac_column_checked.add(store)


def row_mac(
    cipher: Cipher,
    slug: str,
    name: str,
    schema_version: int,
    revision: int,
    origin_module: str,
    origin_distribution: str | None,
    document: str,
) -> str:
    """The integrity tag of one ``orch_blocks`` row."""
    return cipher.sign(
        (
            "orch-block-row-v1",
            slug,
            name,
            int(schema_version),
            int(revision),
            origin_module,
            origin_distribution,
            document,
        )
    )


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
    cipher: Cipher

    @property
    def document_name(self) -> str:
        return f"{self.slug}/{self.name}"


def _encode(block: Block, document_name: str, cipher: Cipher) -> tuple[str, list[tuple[str, str]]]:
    encoder = Encoder(document_name, lambda: cipher)
    document = json.dumps(encoder.fields(block), separators=(",", ":"))
    return document, encoder.references


def prepare_save(
    block: Block, name: str, *, overwrite: bool, store: Store | None = None
) -> PreparedSave:
    """Encode ``block`` (encrypting literal secrets) outside any transaction."""
    store = store or _store()
    slug = block.block_type_slug
    cipher = store_cipher(store, for_write=True)
    document, references = _encode(block, f"{slug}/{name}", cipher)
    # A block loaded under this name is saved only if nobody changed it meanwhile.
    expected = block._block_revision if overwrite and block.block_name == name else None
    return PreparedSave(
        block,
        slug,
        name,
        document,
        references,
        registry.origin_of(type(block)),
        overwrite,
        expected,
        cipher,
    )


def save_block(block: Block, name: str, *, overwrite: bool) -> str:
    store = _store()
    prepared = prepare_save(block, name, overwrite=overwrite, store=store)
    with store.transaction() as tx:
        revision = write_prepared(store, tx, prepared)
    block._block_name, block._block_revision = name, revision
    return prepared.document_name


def write_prepared(store: Store, tx: Tx, p: PreparedSave) -> int:
    """Write one prepared block in the caller's transaction; returns its new revision.

    The row is signed here, with the key the store records now: if another process
    rotated the key since ``p`` was encoded, the block is encoded again with the new key
    (or, when this process cannot have it, nothing is written and the error says why).
    """
    try:
        cipher = current_cipher(store, tx, p.cipher)
    except SecretKeyError as exc:
        raise SecretKeyError(f"block {p.document_name} was not saved: {exc}") from None
    if cipher is not p.cipher:
        p.document, p.references = _encode(p.block, p.document_name, cipher)
        p.cipher = cipher
    slug, name, now = p.slug, p.name, time.time()
    origin, version = p.origin, p.block.block_schema_version

    def mac(revision: int) -> str:
        return row_mac(
            cipher, slug, name, version, revision, origin.module, origin.distribution, p.document
        )

    _lock_references(store, tx, p.document_name, p.references)
    insert = (
        "INSERT INTO orch_blocks (slug, name, schema_version, revision, origin_module,"
        " origin_distribution, document, created_at, updated_at, mac)"
        " VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
    )

    def row_values() -> tuple[Any, ...]:  # signed as revision 1: only the insert paths
        return (
            slug,
            name,
            version,
            origin.module,
            origin.distribution,
            p.document,
            now,
            now,
            mac(1),
        )

    if not p.overwrite:
        tx.execute(insert + " ON CONFLICT (slug, name) DO NOTHING", row_values())
        if tx.rowcount != 1:
            raise BlockExistsError(
                f"a {slug} block named {name!r} already exists "
                "(save with overwrite=True to replace it)"
            )
        revision = 1
    elif p.expected_revision is not None:
        revision = p.expected_revision + 1
        tx.execute(
            "UPDATE orch_blocks SET schema_version = ?, revision = revision + 1,"
            " origin_module = ?, origin_distribution = ?, document = ?, updated_at = ?,"
            " mac = ? WHERE slug = ? AND name = ? AND revision = ?",
            (
                version,
                origin.module,
                origin.distribution,
                p.document,
                now,
                mac(revision),
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
    else:
        found = tx.execute(
            insert + " ON CONFLICT (slug, name) DO UPDATE SET"
            " schema_version = excluded.schema_version,"
            " revision = orch_blocks.revision + 1,"
            " origin_module = excluded.origin_module,"
            " origin_distribution = excluded.origin_distribution,"
            " document = excluded.document, updated_at = excluded.updated_at, mac = NULL"
            " RETURNING revision",
            row_values(),
        ).fetchone()
        assert found is not None
        revision = int(found[0])
        if revision != 1:  # replaced: the tag needs the revision the database chose
            tx.execute(
                "UPDATE orch_blocks SET mac = ? WHERE slug = ? AND name = ?",
                (mac(revision), slug, name),
            )
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
        # The key id in the same statement: one snapshot, and a rotation is noticed.
        row = tx.execute(
            "SELECT schema_version, revision, origin_module, origin_distribution, document,"
            " mac, (SELECT value FROM orch_meta WHERE key = 'key_id')"
            " FROM orch_blocks WHERE slug = ? AND name = ?",
            (slug, name),
        ).fetchone()
    if row is None:
        raise BlockNotFoundError(not_found_message(slug, name))
    version, revision, module, distribution, document, mac, recorded = row
    if mac is None:
        raise BlockIntegrityError(_unsigned_message(document_name))
    cipher = _cipher_to_check(store, document_name, document, recorded)
    expected = row_mac(cipher, slug, name, version, revision, module, distribution, document)
    if not hmac.compare_digest(expected, str(mac)):
        raise BlockIntegrityError(_tampered_message(document_name))
    # Only now is the row trusted enough to import the module it names.
    cls = registry.get_block_class(slug, registry.TypeOrigin(module, distribution))
    data = _parse(document_name, document)
    if _depth > _MAX_DEPTH:
        raise BlockCorruptError(f"block {document_name}: nested references form a cycle")

    def load_reference(full_name: str) -> Block:
        ref_slug, _, ref_name = full_name.partition("/")
        return load_block(ref_slug, ref_name, _depth + 1)

    decoder = Decoder(document_name, lambda: cipher, load_reference)
    try:
        fields = decoder.fields(data)
    except OrchError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        # A shape the decoder does not check for: still name the block (never the value).
        raise BlockCorruptError(
            f"block {document_name} is corrupt: its document cannot be decoded "
            f"({type(exc).__name__})"
        ) from None
    block = validate_document(cls, fields, int(version), f"block {document_name}")
    block._block_name, block._block_revision = name, int(revision)
    return block


def _cipher_to_check(store: Store, document_name: str, document: str, recorded: Any) -> Cipher:
    """The cipher of the key id the store recorded when the row was read."""
    try:
        cipher = store_cipher(store, for_write=False)
        if recorded is not None and cipher.key_id != recorded:
            cipher = cipher_for(store, str(recorded), cipher)
    except SecretKeyError as exc:
        # Name the secret fields it holds, when it has any: what the user cannot read.
        try:
            paths = [path for _node, path in _secrets(json.loads(document))]
        except (ValueError, RecursionError):
            paths = []
        fields = ", ".join(repr(p) for p in paths)
        what = f"decrypt secret field {fields} of" if paths else "check"
        raise SecretKeyError(f"cannot {what} block {document_name}: {exc}") from None
    return cipher


def _unsigned_message(document_name: str) -> str:
    return (
        f"block {document_name} is not signed: it was written by an older orch or inserted "
        "into the database by hand, so it is not trusted; if your store predates signed "
        "blocks, run `orch store upgrade` (with the store's key) to check and sign it"
    )


def _tampered_message(document_name: str) -> str:
    return (
        f"block {document_name} failed its integrity check: its row was changed outside "
        "orch (or signed with another key), so it is not loaded; restore it from a backup "
        "or save it again"
    )


def _parse(document_name: str, document: str) -> Any:
    try:
        return json.loads(document)
    except (ValueError, RecursionError):
        raise BlockCorruptError(
            f"block {document_name} is corrupt: its stored document is not valid JSON"
        ) from None


def _secrets(document: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """Every encrypted secret value in a decoded document, with its field path (walked
    without recursion: a document nested by hand cannot overflow the stack)."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if "$secret" in node:
                yield node, path
                continue
            stack.extend(
                (value, f"{path}.{key}" if path else str(key))
                for key, value in reversed(node.items())
            )
        elif isinstance(node, list):
            stack.extend((value, f"{path}[{i}]") for i, value in reversed(list(enumerate(node))))


def not_found_message(slug: str, name: str) -> str:
    """The "no TYPE block named 'NAME' is saved" message, with the closest saved name.

    Close means the same name under another type, or a close name of the same type (a
    shared type prefix alone does not make two names close).
    """
    saved = list_blocks()
    other = [i.full_name for i in saved if i.name == name]
    close = did_you_mean(name, [i.name for i in saved if i.slug == slug])
    if other:
        close = f" (did you mean {other[0]!r}?)"
    elif close:
        close = close.replace(" (did you mean '", f" (did you mean '{slug}/", 1)
    return f"no {slug} block named {name!r} is saved{close}"


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
    from orch.blocks.base import BlockInfo

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


@dataclass(frozen=True)
class Rotation:
    """What ``rotate_key`` changed."""

    blocks: int  # blocks re-signed (all of them)
    reencrypted: int  # those of them that hold encrypted secrets
    cache_entries: int  # cached task results dropped


def rotate_key(new_key: bytes) -> Rotation:
    """Re-encrypt every secret and re-sign every block with ``new_key``, in one transaction.

    Every row is checked with the current key first; one that fails (tampered, unsigned,
    corrupt, or holding a secret that does not decrypt) aborts the whole rotation, naming
    the block. The task cache, sealed with the old key, is dropped. The caller makes
    ``new_key`` the configured key afterwards (see ``orch store rotate-key``).
    """
    from orch.engine import cache
    from orch.store.crypto import Cipher, InvalidTag
    from orch.store.keyring import forget_ciphers
    from orch.store.meta import set_meta

    store = _store()
    cache.ensure_schema(store)
    held = store_cipher(store, for_write=False)
    new = Cipher(new_key)
    reencrypted = 0
    with store.transaction() as tx:
        old = current_cipher(store, tx, held, exclusive=True)
        rows = tx.execute(
            "SELECT slug, name, schema_version, revision, origin_module, origin_distribution,"
            " document, mac FROM orch_blocks ORDER BY slug, name" + _for_update(store)
        ).fetchall()
        for slug, name, version, revision, module, distribution, document, mac in rows:
            full = f"{slug}/{name}"
            if mac is None:
                raise BlockIntegrityError(
                    f"the key was not rotated: {_unsigned_message(full)}, then rotate again"
                )
            expected = row_mac(old, slug, name, version, revision, module, distribution, document)
            if not hmac.compare_digest(expected, str(mac)):
                raise BlockIntegrityError(f"the key was not rotated: {_tampered_message(full)}")
            data = _parse(full, document)
            found = False
            for node, path in _secrets(data):
                token = _token(node, full, path)
                try:
                    node["$enc"] = new.encrypt(old.decrypt(token, full), full)
                except (InvalidTag, ValueError):
                    raise SecretKeyError(
                        f"the key was not rotated: secret field {path!r} of block {full} does "
                        "not decrypt with the current key for this block"
                    ) from None
                found = True
            if found:
                document = json.dumps(data, separators=(",", ":"))
                reencrypted += 1
            tx.execute(
                "UPDATE orch_blocks SET document = ?, mac = ? WHERE slug = ? AND name = ?",
                (
                    document,
                    row_mac(new, slug, name, version, revision, module, distribution, document),
                    slug,
                    name,
                ),
            )
        set_meta(tx, "key_id", new.key_id)
        dropped, files = cache.drop_all(tx)
    forget_ciphers()
    cache.remove_files(files)
    return Rotation(len(rows), reencrypted, dropped)


def sign_unsigned_blocks() -> list[str]:
    """``orch store upgrade``: check and sign every row that has no integrity tag.

    A row qualifies when its document parses and each of its secret values decrypts with
    the store's key *for that block* (so a value copied from another block, or sealed with
    another key, is refused). All rows are signed in one transaction, or none; returns
    their ``slug/name``.
    """
    from orch.store.crypto import InvalidTag

    store = _store()
    if not count_unsigned():
        return []  # nothing to do: and no key is needed (or created) for it
    held = store_cipher(store, for_write=True)
    signed: list[str] = []
    with store.transaction() as tx:
        cipher = current_cipher(store, tx, held)
        rows = tx.execute(
            "SELECT slug, name, schema_version, revision, origin_module, origin_distribution,"
            " document FROM orch_blocks WHERE mac IS NULL ORDER BY slug, name" + _for_update(store)
        ).fetchall()
        for slug, name, version, revision, module, distribution, document in rows:
            full = f"{slug}/{name}"
            for node, path in _secrets(_parse(full, document)):
                try:
                    cipher.decrypt(_token(node, full, path), full)
                except (InvalidTag, ValueError):
                    raise SecretKeyError(
                        f"nothing was signed: secret field {path!r} of block {full} does not "
                        "decrypt with this store's key for this block (copied from another "
                        "block, or encrypted with another key); delete that block or restore "
                        "the right key"
                    ) from None
            tx.execute(
                "UPDATE orch_blocks SET mac = ? WHERE slug = ? AND name = ?",
                (
                    row_mac(cipher, slug, name, version, revision, module, distribution, document),
                    slug,
                    name,
                ),
            )
            signed.append(full)
    return signed


def count_unsigned() -> int:
    """How many blocks have no integrity tag (for ``orch store info``)."""
    store = _store()
    with store.transaction(write=False) as tx:
        row = tx.execute("SELECT count(*) FROM orch_blocks WHERE mac IS NULL").fetchone()
    return 0 if row is None else int(row[0])


def _token(node: dict[str, Any], full: str, path: str) -> str:
    token = node.get("$enc")
    if not isinstance(token, str):
        raise BlockCorruptError(f"block {full} is corrupt: bad secret value in field {path!r}")
    return token
