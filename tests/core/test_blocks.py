"""Blocks: identity, schema, save/load/delete, nesting, versions, missing packages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import pytest
from orch import Block, SecretRef, SecretStr
from orch.blocks.base import kebab_case
from orch.blocks.block_store import open_block_store, row_mac
from orch.errors import (
    BlockConflictError,
    BlockCorruptError,
    BlockError,
    BlockExistsError,
    BlockInUseError,
    BlockNotFoundError,
    BlockSchemaError,
    BlockTypeNotFoundError,
)
from orch.store.keyring import store_cipher


class WarehouseCredentials(Block):
    """Credentials of a warehouse.

    Example:
        WarehouseCredentials(user="etl", password=SecretRef("env://WH_PASSWORD"))
    """

    user: str
    password: SecretStr
    port: int = 443


class WarehouseConnector(Block):
    """A connector holding credentials.

    Example:
        WarehouseConnector(credentials=WarehouseCredentials.load("prod"))
    """

    block_type_slug = "wh-connector"
    credentials: WarehouseCredentials
    database: str = "analytics"


def _sqlite_rows() -> list[tuple[Any, ...]]:
    from orch.settings import orch_home

    with sqlite3.connect(orch_home() / "orch.db") as conn:
        return conn.execute("SELECT slug, name, document FROM orch_blocks").fetchall()


def test_slug_description_example_and_schema() -> None:
    assert kebab_case("SnowflakeCredentials") == "snowflake-credentials"
    assert kebab_case("S3Bucket") == "s3-bucket"
    assert kebab_case("AWSCredentials") == "aws-credentials"
    assert WarehouseCredentials.block_type_slug == "warehouse-credentials"
    assert WarehouseConnector.block_type_slug == "wh-connector"
    assert WarehouseCredentials.block_description() == "Credentials of a warehouse."
    assert "WH_PASSWORD" in WarehouseCredentials.block_example()
    schema = WarehouseCredentials.block_schema()
    assert schema["secret_fields"] == ["password"]
    assert schema["properties"]["password"]["writeOnly"] is True
    assert schema["properties"]["password"]["x-orch-secret"] == "str"
    assert "writeOnly" not in schema["properties"]["user"]


@pytest.mark.usefixtures("any_store")
def test_save_load_round_trip_and_listing() -> None:
    saved = WarehouseCredentials(user="etl", password="s3cret-value-1")
    assert saved.save("prod") == "warehouse-credentials/prod"
    loaded = WarehouseCredentials.load("prod")
    assert loaded == saved
    assert loaded.block_name == "prod"
    assert loaded.password.get_secret_value() == "s3cret-value-1"
    generic = Block.load("warehouse-credentials/prod")
    assert isinstance(generic, WarehouseCredentials)
    assert Block.load("prod") == loaded  # unique bare name
    assert [i.full_name for i in WarehouseCredentials.list_saved()] == [
        "warehouse-credentials/prod"
    ]
    WarehouseCredentials.delete("prod")
    with pytest.raises(BlockNotFoundError, match="no warehouse-credentials block named 'prod'"):
        WarehouseCredentials.load("prod")


@pytest.mark.usefixtures("any_store")
def test_overwrite_rules_and_lost_update_detection() -> None:
    WarehouseCredentials(user="a", password="p1-secret").save("prod")
    with pytest.raises(BlockExistsError, match="already exists"):
        WarehouseCredentials(user="b", password="p2-secret").save("prod")
    first = WarehouseCredentials.load("prod")
    second = WarehouseCredentials.load("prod")
    first.user = "first"
    first.save("prod", overwrite=True)
    second.user = "second"
    with pytest.raises(BlockConflictError, match="changed or deleted since it was loaded"):
        second.save("prod", overwrite=True)
    assert WarehouseCredentials.load("prod").user == "first"
    # A fresh instance replaces on purpose.
    WarehouseCredentials(user="fresh", password="p3-secret").save("prod", overwrite=True)
    assert WarehouseCredentials.load("prod").user == "fresh"


@pytest.mark.usefixtures("any_store")
def test_nested_blocks_by_reference_and_inline() -> None:
    creds = WarehouseCredentials(user="etl", password="nested-secret")
    inline = WarehouseConnector(credentials=creds)
    inline.save("inline")
    creds.save("prod")
    by_ref = WarehouseConnector(credentials=WarehouseCredentials.load("prod"))
    by_ref.save("by-ref")
    # Changing the referenced block is seen by the connector; the inlined copy is not.
    updated = WarehouseCredentials.load("prod")
    updated.user = "changed"
    updated.save("prod", overwrite=True)
    assert WarehouseConnector.load("by-ref").credentials.user == "changed"
    assert WarehouseConnector.load("inline").credentials.user == "etl"
    assert WarehouseConnector.load("inline").credentials.password.get_secret_value() == (
        "nested-secret"
    )
    with pytest.raises(BlockInUseError, match="wh-connector/by-ref"):
        WarehouseCredentials.delete("prod")
    WarehouseConnector.delete("by-ref")
    WarehouseCredentials.delete("prod")


@pytest.mark.usefixtures("any_store")
def test_reference_to_unsaved_block_is_refused() -> None:
    creds = WarehouseCredentials(user="etl", password="x-secret")
    creds.save("gone")
    connector = WarehouseConnector(credentials=WarehouseCredentials.load("gone"))
    WarehouseCredentials.delete("gone")
    with pytest.raises(BlockNotFoundError, match="references warehouse-credentials/gone"):
        connector.save("c")


def test_reference_is_stored_and_never_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_PASSWORD", "resolved-value-9")
    block = WarehouseCredentials(user="etl", password=SecretRef("env://WH_PASSWORD"))
    block.save("prod")
    assert WarehouseCredentials.load("prod").password.get_secret_value() == "resolved-value-9"
    ((_, _, document),) = _sqlite_rows()
    assert json.loads(document)["password"] == {"$ref": "env://WH_PASSWORD"}
    assert "resolved-value-9" not in document


def test_custom_block_registers_itself() -> None:
    class MyApi(Block):
        """Mine.

        Example:
            MyApi(url="x")
        """

        url: str

    MyApi(url="https://x").save("one")
    assert Block.load("my-api/one") == MyApi(url="https://x")


def test_schema_migration_upgrades_older_documents() -> None:
    class Legacy(Block):
        """v1.

        Example:
            Legacy(host="h")
        """

        block_type_slug = "legacy-thing"
        host: str

    Legacy(host="db1").save("a")

    class LegacyV2(Block):
        """v2 renames host to hostname.

        Example:
            LegacyV2(hostname="h")
        """

        block_type_slug = "legacy-thing"
        block_schema_version: ClassVar[int] = 2
        hostname: str

        @classmethod
        def migrate_document(cls, data: dict[str, Any], from_version: int) -> dict[str, Any]:
            if from_version < 2:
                data = {"hostname": data.pop("host"), **data}
            return data

    loaded = LegacyV2.load("a")
    assert loaded.hostname == "db1"
    loaded.save("a", overwrite=True)

    class LegacyOld(Block):
        """The old code again.

        Example:
            LegacyOld(host="h")
        """

        block_type_slug = "legacy-thing"
        host: str

    with pytest.raises(BlockSchemaError, match=r"newer legacy-thing.*schema version 2"):
        LegacyOld.load("a")


def test_missing_package_names_the_distribution(orch_home: Path) -> None:
    WarehouseCredentials(user="u", password="pw-secret").save("x")
    with sqlite3.connect(orch_home / "orch.db") as conn:
        conn.execute(
            # A package that is never installed here (orch-snowflake now is).
            "UPDATE orch_blocks SET slug = 'teradata-credentials',"
            " origin_distribution = 'orch-teradata', origin_module = 'orch_teradata.c:S'"
        )
        # Signed as orch would have written it (an unsigned edit fails its integrity check).
        row = conn.execute(
            "SELECT slug, name, schema_version, revision, origin_module, origin_distribution,"
            " document FROM orch_blocks"
        ).fetchone()
        cipher = store_cipher(open_block_store(), for_write=False)
        conn.execute("UPDATE orch_blocks SET mac = ?", (row_mac(cipher, *row),))
    with pytest.raises(BlockTypeNotFoundError, match="pip install orch-teradata"):
        Block.load("teradata-credentials/x")


def test_corrupt_document_fails_alone(orch_home: Path) -> None:
    WarehouseCredentials(user="u1", password="pw-secret-1").save("good")
    WarehouseCredentials(user="u2", password="pw-secret-2").save("bad")
    with sqlite3.connect(orch_home / "orch.db") as conn:
        conn.execute("UPDATE orch_blocks SET document = '{not json' WHERE name = 'bad'")
    with pytest.raises(BlockCorruptError, match="warehouse-credentials/bad"):
        WarehouseCredentials.load("bad")
    assert WarehouseCredentials.load("good").user == "u1"
    assert len(Block.list_saved()) == 2


def test_bad_names_are_refused() -> None:
    block = WarehouseCredentials(user="u", password="pw-secret")
    for bad in ("", "a/b", "-x", "x" * 200, "spaces here"):
        with pytest.raises(BlockError, match="invalid block name"):
            block.save(bad)
    with pytest.raises(BlockError, match="not a wh-connector block"):
        WarehouseConnector.load("warehouse-credentials/x")


def test_ambiguous_bare_name_asks_which() -> None:
    WarehouseCredentials(user="u", password="pw-secret").save("same")
    WarehouseConnector(credentials=WarehouseCredentials.load("same")).save("same")
    with pytest.raises(BlockError, match="several blocks are named 'same'"):
        Block.load("same")
