"""``Connector``: the base of a block that owns an SDK client (see ``orch.integration``).

The life cycle every integration follows, on the machinery of ``orch.integration.resources``:

- the client is made by the subclass's ``_new_client()`` on first use, never when the
  block is built or loaded;
- one client per process per block *content*: two loads of one saved block, or two equal
  blocks, share it on any thread, and exactly one is made when threads race for it;
- the instance remembers its client, so ``get_client()`` after the first call costs no
  fingerprint (a dictionary look-up and an identity check);
- ``close()`` (and the end of ``with block:``) drops only this block's hold: the client
  is closed when the last block holding it lets go, or at interpreter exit;
- a forked child forgets the parent's clients without closing them (``_forget_client``)
  and makes its own; a saved block pickles by its name (``orch.Block`` does that).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from pydantic import PrivateAttr

from orch.blocks.base import Block
from orch.integration.resources import ProcessResources, ResourceSlot, block_fingerprint

if TYPE_CHECKING:
    from types import TracebackType

ClientT = TypeVar("ClientT")

__all__ = ["ClientT", "Connector"]


class Connector(Block, Generic[ClientT]):
    """Base of a block that owns an SDK client: subclass it and implement ``_new_client``.

    Override ``_close_client`` (how to close one, default: its ``close()`` if it has
    one) and ``_forget_client`` (how a forked child lets go of its parent's without
    closing it: default, just drop it; SQLAlchemy: ``engine.dispose(close=False)``), both
    static methods. Each subclass gets its own per-process table of clients.

    Example:
        import sqlite3
        from orch.integration import Connector
        from pydantic import Field

        class SqliteConnector(Connector[sqlite3.Connection]):
            '''A SQLite database file.

            Example:
                SqliteConnector(path="/data/app.db").get_client().execute("SELECT 1")
            '''

            path: str = Field(description="Path of the database file.")

            def _new_client(self) -> sqlite3.Connection:
                return sqlite3.connect(self.path, check_same_thread=False)

        with SqliteConnector(path="app.db") as db:
            db.get_client().execute("SELECT 1")
    """

    _clients: ClassVar[ProcessResources[Any]]
    _slot: ResourceSlot[ClientT] = PrivateAttr(default_factory=ResourceSlot)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # One table per class: the keys (fingerprints) include the block type anyway, and
        # the closer/forgetter are the class's own.
        cls._clients = ProcessResources(
            f"{cls.__qualname__} clients", close=cls._close_client, forget=cls._forget_client
        )

    # --- what a subclass implements ----------------------------------------------------
    @abstractmethod
    def _new_client(self) -> ClientT:
        """Build the SDK client from this block's fields (import the SDK here, lazily).

        Map the SDK's errors onto ``orch.integration``'s (``ConnectError``,
        ``AuthError``...), naming the block with ``block_label(self)``.
        """

    @staticmethod
    def _close_client(client: Any) -> None:
        """Close one client (at the last ``close()`` of its holders, or at exit)."""
        close = getattr(client, "close", None)
        if callable(close):
            close()

    @staticmethod
    def _forget_client(client: Any) -> None:
        """Let go of a client inherited from the parent in a forked child (never close it)."""

    # --- the client --------------------------------------------------------------------
    def get_client(self) -> ClientT:
        """This block's client in this process, made on first use and then shared.

        Example:
            conn = connector.get_client()
        """
        # The hot path (a data path calls this per batch): the instance's own slot, read
        # straight from pydantic's private storage, still holding the table's client.
        slot: ResourceSlot[ClientT] = self.__pydantic_private__["_slot"]  # type: ignore[index]
        value: ClientT | None = slot.value
        if value is not None:
            table = slot.table
            if table is not None and table._items.get(slot.key) is value:  # type: ignore[arg-type]
                return value
        clients: ProcessResources[ClientT] = type(self)._clients
        return clients.get_or_create(self._fingerprint, self._new_client, slot=slot)

    def _fingerprint(self) -> str:
        """The key of this block's client: equal blocks share one, changed ones do not."""
        return block_fingerprint(self)

    def close(self) -> None:
        """Let go of this block's client: closed if no other block holds it, else kept.

        Other blocks (equal ones, in other threads) keep using theirs; the next
        ``get_client()`` of this block makes or finds one again.

        Example:
            connector.close()
        """
        type(self)._clients.release(self._slot)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __copy__(self) -> Self:
        # pydantic's shallow copy (also model_copy(), with or without update=) shares the
        # private attributes: the copy would share this block's hold (its close() would
        # release ours) and, with other fields, our client. A copy starts with no client.
        copied = super().__copy__()
        copied.__pydantic_private__["_slot"] = ResourceSlot()  # type: ignore[index]
        return copied

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in type(self).model_fields:
            # Changed settings need another client: let go of this one (others may hold
            # it, so it is not closed here) and look it up again on next use.
            self._slot.clear()
