"""Per-process clients owned by connector blocks: one place for the machinery.

A connector block (``SqlAlchemyConnector``, ``SnowflakeConnector``, ``AwsCredentials``...)
owns an expensive client: an engine and its pool, a session, a boto3 client. Every
connector follows the same rules, implemented here once:

- the client is made on first use, never when the block is built or loaded;
- one client per process per block *content* (``block_fingerprint``): two loads of the
  same saved block, or two equal blocks, share it, on any thread; exactly one is made when
  threads race for it (``ProcessResources.get_or_create``);
- it is closed by the connector (``close(key)``) or at interpreter exit (``close_all()``,
  registered on first use), and *forgotten without being closed* in a forked child, whose
  parent still uses it (a per-table ``forget`` callback, e.g. SQLAlchemy's
  ``engine.dispose(close=False)``);
- an instance remembers the client it got in a ``ResourceSlot``, which is never
  copied or pickled, so the hot path costs no fingerprint;
- closing one block releases only its own hold (``ProcessResources.release``): the
  client is closed when the last block holding it releases it, or at exit;
- a saved block pickles by its name (``orch.Block`` does it): a process pool re-loads it
  from the store and no secret travels through the pipe.

Package authors use ``orch.integration.Connector``, built on this module.

Example:
    _clients: ProcessResources[ApiClient] = ProcessResources("api", close=ApiClient.close)
    client = _clients.get_or_create(lambda: block_fingerprint(block), make, slot=slot)
    _clients.release(slot)  # closed if no other slot holds it
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:

    from orch.blocks.base import Block

T = TypeVar("T")

__all__ = [
    "ProcessResources",
    "ResourceSlot",
    "block_fingerprint",
    "fingerprint_input",
]

# Literal secrets enter a fingerprint only as an HMAC under this per-process key: even a
# guessable password cannot be recovered from a fingerprint by hashing candidates. Keys
# are per process anyway (a forked child inherits the key along with the tables).
_SECRET_KEY = os.urandom(32)

_MISSING: Any = object()


# --- fingerprints ----------------------------------------------------------------------------
def fingerprint_input(value: Any) -> Any:
    """The JSON-able form of a block that ``block_fingerprint`` digests.

    Nested blocks become ``{"$type": slug, field: ...}``; a secret holding a reference
    becomes ``{"$ref": "env://..."}`` (the reference, never resolved), a literal secret
    ``{"$hmac": ...}`` (a keyed digest of the value, never the value).

    Example:
        fingerprint_input(WarehouseCredentials(user="etl", password="s3cret"))
        # {'$type': 'warehouse-credentials', 'user': 'etl', 'password': {'$hmac': '9f2c...'}}
    """
    from pydantic import BaseModel

    from orch.blocks.base import Block
    from orch.secrets.types import SECRET_TYPES

    if isinstance(value, BaseModel):
        plain: dict[str, Any] = {}
        if isinstance(value, Block):
            plain["$type"] = value.block_type_slug
        for name in type(value).model_fields:
            plain[name] = fingerprint_input(getattr(value, name))
        return plain
    if isinstance(value, SECRET_TYPES):
        if value.reference is not None:
            return {"$ref": value.reference.ref}
        raw = value.get_secret_value()
        data = raw if isinstance(raw, bytes) else json.dumps(raw, sort_keys=True).encode()
        return {"$hmac": hmac.new(_SECRET_KEY, data, hashlib.sha256).hexdigest()}
    if isinstance(value, dict):
        return {str(k): fingerprint_input(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fingerprint_input(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((fingerprint_input(v) for v in value), key=repr)
    return value


def block_fingerprint(block: Block) -> str:
    """A digest of a block's content: equal blocks get equal fingerprints, changed ones not.

    The key of a block's clients in ``ProcessResources``. Secret references enter as
    the reference (a rotated value behind one is the same block); literal secrets only as
    a keyed digest, so the fingerprint reveals nothing about them. Valid in this process
    only: do not store it.

    Example:
        assert block_fingerprint(creds) == block_fingerprint(type(creds).load("prod"))
    """
    doc = json.dumps(fingerprint_input(block), sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()


# --- the instance slot -----------------------------------------------------------------------
class ResourceSlot(Generic[T]):
    """Where a block instance keeps the resource it got, and under which key.

    Never copied or pickled: a copy or an unpickled block starts empty and finds (or
    makes) the resource of its process through the table. Declare it as a pydantic
    private attribute.

    Example:
        _slot: ResourceSlot[Engine] = PrivateAttr(default_factory=ResourceSlot)
    """

    __slots__ = ("key", "table", "value")

    def __init__(self) -> None:
        self.key: str | None = None
        self.value: T | None = None
        # The table this slot holds its resource in (see ProcessResources.release).
        self.table: ProcessResources[T] | None = None

    def clear(self) -> None:
        """Forget the resource (e.g. the block's settings changed): look it up again.

        Drops this slot's hold without closing the resource (others may use it; it is
        closed when its last holder releases it, or at exit).

        Example:
            self._slot.clear()
        """
        table = self.table
        if table is not None:
            table._drop_hold(self)
        self.key = self.value = self.table = None

    def __copy__(self) -> ResourceSlot[T]:
        return ResourceSlot()

    def __deepcopy__(self, memo: dict[int, Any]) -> ResourceSlot[T]:
        return ResourceSlot()

    def __reduce__(self) -> tuple[type[ResourceSlot[Any]], tuple[()]]:
        return (ResourceSlot, ())

    def __repr__(self) -> str:
        return f"ResourceSlot({'empty' if self.value is None else type(self.value).__name__})"


# --- the per-process table -------------------------------------------------------------------
class ProcessResources(Generic[T]):
    """This process's resources of one kind (engines, sessions, clients), by key.

    ``close`` ends a resource (at ``release(slot)`` by its last holder, ``close(key)``,
    ``close_all()`` and interpreter exit); ``forget`` releases one in a forked child
    without touching what the parent still uses (default: just drop it). Reads like a
    mapping: ``key in table``, ``table[key]``, ``len(table)``, ``table.values()``.

    Holders: each ``ResourceSlot`` that got a resource through ``get_or_create``
    counts as one holder of it; ``release(slot)`` drops that hold and closes the resource
    only when no holder is left, so closing one block never closes a client that equal
    blocks (other threads) are using.

    Example:
        _engines: ProcessResources[Engine] = ProcessResources(
            "sqlalchemy engines",
            close=lambda engine: engine.dispose(),
            forget=lambda engine: engine.dispose(close=False),
        )
        engine = _engines.get_or_create(connector_key, make_engine)
    """

    def __init__(
        self,
        name: str,
        *,
        close: Callable[[T], object] | None = None,
        forget: Callable[[T], object] | None = None,
    ) -> None:
        self.name = name
        self._close = close
        self._forget = forget
        self._items: dict[str, T] = {}
        self._holds: dict[str, int] = {}  # key → number of slots holding its resource
        self._lock = threading.Lock()  # guards _items and _creating
        self._creating: dict[str, threading.Lock] = {}  # one creation at a time per key
        self._exit_registered = False
        _tables.add(self)

    def __repr__(self) -> str:
        return f"ProcessResources({self.name!r}, {len(self._items)} open)"

    # --- mapping-like reads --------------------------------------------------------------
    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __getitem__(self, key: str) -> T:
        return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def keys(self) -> list[str]:
        """The keys of the open resources (a snapshot)."""
        return list(self._items)

    def values(self) -> list[T]:
        """The open resources (a snapshot)."""
        return list(self._items.values())

    # --- get or create -------------------------------------------------------------------
    def get_or_create(
        self,
        key: str | Callable[[], str],
        create: Callable[[], T],
        *,
        slot: ResourceSlot[T] | None = None,
    ) -> T:
        """The resource under ``key``, made by ``create()`` if there is none yet.

        Of threads racing for one key, exactly one calls ``create``; the others wait and
        get its result (if it raises, the next caller tries again). Creations under other
        keys are not held up. ``key`` may be a function (e.g. a fingerprint): with a
        ``slot``, it is only called when the slot's resource is missing or was closed.

        Example:
            engine = _engines.get_or_create(
                lambda: block_fingerprint(self), self._create_engine, slot=self._slot
            )
        """
        if slot is not None:
            value = slot.value
            # Still the one in the table: not closed since, and not a parent's (a forked
            # child forgets the parent's table, so the identity check fails there).
            if value is not None and self._items.get(slot.key or "", _MISSING) is value:
                return value
        k = key if isinstance(key, str) else key()
        value = self._items.get(k, _MISSING)
        if value is _MISSING:
            value = self._create(k, create)
        if slot is not None:
            self._hold(slot, k, value)
        return cast(T, value)

    def _hold(self, slot: ResourceSlot[T], key: str, value: T) -> None:
        """Make ``slot`` one holder of ``value`` (once, however many threads race)."""
        with self._lock:
            if slot.table is self and slot.key == key and slot.value is value:
                return  # another thread using the same block got there first
            if slot.table is not None and slot.table is not self:
                stale: ProcessResources[Any] | None = slot.table
            else:
                stale = None
                self._drop_hold_locked(slot)
            if self._items.get(key, _MISSING) is value:
                self._holds[key] = self._holds.get(key, 0) + 1
                slot.key, slot.value, slot.table = key, value, self
            else:  # closed by someone meanwhile: the caller still gets it, unheld
                slot.key = slot.value = slot.table = None
        if stale is not None:
            stale._drop_hold(slot)

    def _drop_hold(self, slot: ResourceSlot[T]) -> None:
        with self._lock:
            self._drop_hold_locked(slot)

    def _drop_hold_locked(self, slot: ResourceSlot[T]) -> None:
        # Only a hold on the resource still in the table counts: one closed meanwhile
        # (close(key), close_all, a fork) took its holds with it.
        key = slot.key
        if slot.table is self and key is not None and self._items.get(key, _MISSING) is slot.value:
            left = self._holds.get(key, 0) - 1
            if left > 0:
                self._holds[key] = left
            else:
                self._holds.pop(key, None)
        slot.key = slot.value = slot.table = None

    def holders(self, key: str) -> int:
        """How many slots (block instances) hold the resource under ``key`` now.

        Example:
            assert _clients.holders(block_fingerprint(block)) == 1
        """
        return self._holds.get(key, 0)

    def release(self, slot: ResourceSlot[T]) -> bool:
        """Drop ``slot``'s hold; close the resource if it was the last holder.

        Returns ``True`` if a resource was closed. A slot that holds nothing (never used,
        or its resource was closed meanwhile) is only emptied. Errors of the closer
        propagate.

        Example:
            def close(self) -> None:
                _clients.release(self._slot)
        """
        with self._lock:
            key = slot.key
            held = (
                slot.table is self
                and key is not None
                and self._items.get(key, _MISSING) is slot.value
            )
            self._drop_hold_locked(slot)
            if not held or key is None or key in self._holds:
                return False
            value = self._items.pop(key)
        if self._close is not None:
            self._close(value)
        return True

    def _create(self, key: str, create: Callable[[], T]) -> T:
        with self._lock:
            value = self._items.get(key, _MISSING)
            if value is not _MISSING:
                return cast(T, value)
            gate = self._creating.setdefault(key, threading.Lock())
        with gate:
            value = self._items.get(key, _MISSING)
            if value is not _MISSING:
                return cast(T, value)  # made by the thread we waited for
            value = create()
            with self._lock:
                self._items[key] = value
                # A failed creation leaves its gate: the next caller retries under it.
                self._creating.pop(key, None)
                if not self._exit_registered:
                    self._exit_registered = True
                    atexit.register(self.close_all)
        return value

    # --- closing -------------------------------------------------------------------------
    def close(self, key: str) -> bool:
        """Close and forget the resource under ``key``; ``False`` if there was none.

        Closes it whoever holds it (their holds end with it); to close only what one
        block holds, use ``release``. The next ``get_or_create`` makes a new one.
        Errors of the closer propagate.

        Example:
            _engines.close(block_fingerprint(connector))
        """
        with self._lock:
            value = self._items.pop(key, _MISSING)
            self._holds.pop(key, None)
        if value is _MISSING:
            return False
        if self._close is not None:
            self._close(value)
        return True

    def close_all(self) -> None:
        """Close and forget every resource of this table, newest first (run at exit).

        Errors of the closer are swallowed: one failing close must not keep the others
        open, nor make the interpreter's exit fail.

        Example:
            _clients.close_all()
        """
        with self._lock:
            values = list(self._items.values())
            self._items.clear()
            self._holds.clear()
        if self._close is None:
            return
        for value in reversed(values):
            with contextlib.suppress(Exception):
                self._close(value)

    def _forget_in_child(self) -> None:
        # The locks may have been held by another thread of the parent at fork time: new
        # ones. The resources belong to the parent (shared sockets): release, never close.
        self._lock = threading.Lock()
        self._creating = {}
        values = list(self._items.values())
        self._items = {}
        self._holds = {}
        if self._forget is not None:
            for value in values:
                with contextlib.suppress(Exception):
                    self._forget(value)


# Every table, for the at-fork hook (weakly: a table that is gone has nothing to forget).
_tables: weakref.WeakSet[ProcessResources[Any]] = weakref.WeakSet()


def _forget_all_in_child() -> None:
    for table in list(_tables):
        table._forget_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_in_child)
