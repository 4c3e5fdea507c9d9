"""The contract an integration package runs on its own blocks (needs pytest, used in tests).

Two base classes to subclass in a package's test file; pytest collects the subclass (name
it ``Test...``) and runs every check on the block its ``block`` fixture builds:

- ``BlockContract``, for every block type: a description and an example; a
  description on every field; secrets typed as secrets (a field named like a password,
  token or key is a ``SecretStr``/``SecretBytes``/``SecretDict`` unless the type lists
  it in ``block_not_secret``); no secret value in ``repr``, ``str``, ``model_dump()`` or
  JSON; saved and loaded back equal; a saved block pickles by its name, with no secret
  byte in the pickle;
- ``ConnectorContract``, for a block built on ``orch.integration.Connector``
  (its ``block`` fixture returns one that can reach a real service): ``get_client()``
  twice gives one client, equal blocks share it, ``close()`` closes only this block's
  hold, ``with`` releases it, and a forked child makes its own client while the
  parent's keeps working. Override ``probe(client)`` to use a client for real.

Each check is also a plain function (``check_*``) for other test runners. Every test of
these classes runs in its own ``ORCH_HOME`` (a temporary store and key).

Example:
    import pytest
    from orch.testing import BlockContract, ConnectorContract
    from orch_x import XConnector, XCredentials

    class TestXCredentials(BlockContract):
        block_type = XCredentials

    class TestXConnector(ConnectorContract):
        block_type = XConnector

        @pytest.fixture
        def block(self, x_server: str) -> XConnector:
            return XConnector(url=x_server, credentials=XCredentials(token="t0ken-123"))

        def probe(self, client: XClient) -> None:
            client.ping()
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest

from orch.blocks.base import Block
from orch.integration.connector import Connector
from orch.secrets.types import SECRET_TYPES

__all__ = [
    "SECRET_LOOKING",
    "BlockContract",
    "ConnectorContract",
    "check_client_cached",
    "check_close_releases_only_this_hold",
    "check_described",
    "check_fork_makes_its_own_client",
    "check_pickles_by_name",
    "check_round_trip",
    "check_secrets_masked",
    "check_secrets_typed",
    "isolated_orch_home",
    "revealed_secrets",
]

# Field names that say "this is a secret"; such a field must be typed as one.
SECRET_LOOKING = re.compile(r"password|passwd|passphrase|token|secret|(^|_)key($|_)", re.I)


# --- plain checks ------------------------------------------------------------------------------
def revealed_secrets(block: Block) -> list[str]:
    """The literal secret values of ``block`` and its nested blocks (4 characters or more).

    Example:
        assert all(v not in repr(block) for v in revealed_secrets(block))
    """
    values: list[str] = []
    for name in type(block).model_fields:
        value = getattr(block, name)
        if isinstance(value, SECRET_TYPES) and value.reference is None:
            raw = value.get_secret_value()
            if isinstance(raw, bytes):
                values.append(raw.decode(errors="replace"))
            elif isinstance(raw, dict):
                values.extend(str(v) for v in raw.values())
            else:
                values.append(str(raw))
        elif isinstance(value, Block):
            values.extend(revealed_secrets(value))
    return [v for v in values if len(v) >= 4]


def check_described(cls: type[Block]) -> None:
    """The type has a description and an ``Example:``; every field has a description."""
    assert cls.block_description(), f"{cls.__name__} needs a docstring"
    assert cls.block_example(), f"{cls.__name__}'s docstring needs an 'Example:' section"
    missing = [name for name, field in cls.model_fields.items() if not field.description]
    assert not missing, (
        f"{cls.__name__}: fields without a description (Field(description=...)): {missing}"
    )


def check_secrets_typed(cls: type[Block]) -> None:
    """Every field named like a secret is typed as one, unless listed in block_not_secret."""
    secret = set(cls.secret_fields())
    looking = {name for name in cls.model_fields if SECRET_LOOKING.search(name)}
    untyped = looking - secret - set(cls.block_not_secret)
    assert not untyped, (
        f"{cls.__name__}: fields named like secrets are not typed as secrets: "
        f"{sorted(untyped)} (use SecretStr, or list them in block_not_secret on purpose)"
    )
    unknown = set(cls.block_not_secret) - set(cls.model_fields)
    assert not unknown, f"{cls.__name__}.block_not_secret names no field: {sorted(unknown)}"


def check_secrets_masked(block: Block) -> None:
    """No literal secret value in ``repr``, ``str``, ``model_dump()`` or JSON of ``block``."""
    texts = {
        "repr": repr(block),
        "str": str(block),
        "model_dump()": str(block.model_dump()),
        "model_dump(mode='json')": str(block.model_dump(mode="json")),
        "model_dump_json()": block.model_dump_json(),
    }
    for value in revealed_secrets(block):
        for where, text in texts.items():
            assert value not in text, f"{type(block).__name__}: a secret shows in {where}"


def check_round_trip(block: Block, name: str = "contract") -> Block:
    """Saved and loaded back, the block is equal, with the same secrets; returns it."""
    block.save(name, overwrite=True)
    loaded = type(block).load(name)
    assert loaded == block, f"{type(block).__name__}: loaded back different from what was saved"
    assert revealed_secrets(loaded) == revealed_secrets(block)
    return loaded


def check_pickles_by_name(block: Block, name: str = "contract-pickle") -> None:
    """A saved block pickles by its name: no secret byte in the pickle; loads back equal."""
    block.save(name, overwrite=True)
    loaded = type(block).load(name)
    data = pickle.dumps(loaded)
    for value in revealed_secrets(loaded):
        assert value.encode() not in data, f"{type(block).__name__}: a secret is in its pickle"
    assert f"{block.block_type_slug}/{name}".encode() in data, (
        f"{type(block).__name__}: a saved block must pickle by its name"
    )
    back = pickle.loads(data)  # noqa: S301 - made just above
    assert back == loaded and back.block_name == name


def check_client_cached(block: Connector[Any]) -> None:
    """``get_client()`` twice gives one client; an equal block (a copy) shares it."""
    twin = block.model_copy(deep=True)
    try:
        client = block.get_client()
        assert block.get_client() is client, "get_client() twice made two clients"
        assert twin.get_client() is client, "two equal blocks do not share their client"
    finally:
        twin.close()
        block.close()


def check_close_releases_only_this_hold(
    block: Connector[Any], probe: Any = lambda client: None
) -> None:
    """``close()`` lets go of this block's hold only: an equal block's client keeps working;
    the last ``close()`` (or ``with``) closes it; the next use makes a new one."""
    table = type(block)._clients
    twin = block.model_copy(deep=True)
    client = block.get_client()
    assert twin.get_client() is client
    block.close()
    assert twin.get_client() is client, "close() closed the client an equal block holds"
    probe(client)  # still usable by the other holder
    with twin:
        pass  # the end of `with` releases the last hold: the client is closed
    assert client not in table.values(), "the last close() did not close the client"
    again = block.get_client()
    assert again is not client, "a closed client was handed out again"
    probe(again)
    block.close()


def check_fork_makes_its_own_client(
    block: Connector[Any], probe: Any = lambda client: None
) -> None:
    """In a forked child the block makes its own client (never the parent's); the
    parent's client keeps working afterwards."""
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    client = block.get_client()
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code, never return into pytest
        code = 1
        try:
            mine = block.get_client()
            code = 2 if mine is client else 3
            probe(mine)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code != 2, "a forked child got its parent's client"
    assert code == 0, f"the forked child could not use its own client (exit {code})"
    assert block.get_client() is client
    probe(client)
    block.close()


@contextmanager
def isolated_orch_home(path: Path) -> Iterator[Path]:
    """Use ``path`` as ``ORCH_HOME`` (a fresh store and key) inside the ``with``.

    Example:
        with isolated_orch_home(tmp_path):
            block.save("x")
    """
    names = ("ORCH_HOME", "ORCH_STORE_URL", "ORCH_SECRET_KEY")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["ORCH_HOME"] = str(path)
    os.environ.pop("ORCH_STORE_URL", None)
    os.environ.pop("ORCH_SECRET_KEY", None)
    _forget_stores()
    try:
        yield path
    finally:
        _forget_stores()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _forget_stores() -> None:
    # Open stores and ciphers are per URL / key: drop them so the new home is used.
    from orch.store import _stores
    from orch.store.keyring import forget_ciphers

    for store in list(_stores.values()):
        store.close()
    _stores.clear()
    forget_ciphers()


# --- pytest base classes -----------------------------------------------------------------------
class BlockContract:
    """Subclass as ``TestXCredentials`` and set ``block_type``; override the ``block``
    fixture when ``block_type.block_sample()`` is not a good example (give it real-looking
    secret values: the checks look for them)."""

    block_type: ClassVar[type[Block]]

    @pytest.fixture(autouse=True)
    def _contract_home(self, tmp_path: Path) -> Iterator[Path]:
        with isolated_orch_home(tmp_path / "orch-contract-home") as home:
            yield home

    @pytest.fixture
    def block(self) -> Block:
        """The block the checks run on (override it to build a better one)."""
        return self.block_type.block_sample()

    def test_described(self, block: Block) -> None:
        check_described(type(block))

    def test_secrets_typed(self, block: Block) -> None:
        check_secrets_typed(type(block))

    def test_secrets_masked(self, block: Block) -> None:
        check_secrets_masked(block)

    def test_round_trip(self, block: Block) -> None:
        check_round_trip(block)

    def test_pickles_by_name(self, block: Block) -> None:
        check_pickles_by_name(block)


class ConnectorContract(BlockContract):
    """Subclass as ``TestXConnector``; its ``block`` fixture returns a connector that can
    reach a real service, and ``probe(client)`` uses a client (a query, a ping)."""

    def probe(self, client: Any) -> None:
        """Use ``client`` for real; fails if it is closed or broken (default: nothing)."""

    def test_client_cached(self, block: Connector[Any]) -> None:
        check_client_cached(block)

    def test_close_releases_only_this_hold(self, block: Connector[Any]) -> None:
        check_close_releases_only_this_hold(block, self.probe)

    def test_fork_makes_its_own_client(self, block: Connector[Any]) -> None:
        check_fork_makes_its_own_client(block, self.probe)
