"""The contract every installed block type keeps (core's and every package's).

The core's own blocks run the whole contract of :mod:`orch.testing` (as each package runs
it on its blocks). Every installed type, packages' included, is also checked here: a
description and a usage example, a round trip through the store that leaves no secret in
the stored document, and every field whose name says password/token/secret/key typed as a
secret unless the type marks it as not secret on purpose; those exceptions are listed
here, so that adding one is a visible decision.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from orch import Block, SecretStr
from orch.blocks.registry import installed_types
from orch.system_blocks import Json, Secret
from orch.testing import BlockContract, check_secrets_typed, revealed_secrets

TYPES = installed_types()


# --- the core's own blocks: the whole contract -------------------------------------------------
class TestSecretContract(BlockContract):
    block_type = Secret

    @pytest.fixture
    def block(self) -> Secret:
        return Secret(value=SecretStr("contract-Secret-Value-1"))


class TestJsonContract(BlockContract):
    block_type = Json


# --- every installed type ----------------------------------------------------------------------


def _type_id(cls: type[Block]) -> str:
    return cls.block_type_slug


@pytest.mark.parametrize("cls", TYPES, ids=_type_id)
def test_has_description_and_example(cls: type[Block]) -> None:
    assert cls.block_description(), f"{cls.__name__} needs a docstring"
    assert cls.block_example(), f"{cls.__name__}'s docstring needs an 'Example:' section"


@pytest.mark.parametrize("cls", TYPES, ids=_type_id)
def test_secret_looking_fields_are_secret(cls: type[Block]) -> None:
    check_secrets_typed(cls)
    # A field that looks secret but is not (a secret's *name*, a key file's *path*) is
    # declared so by its package, in block_not_secret, and its description says what it is.
    for name in cls.block_not_secret:
        assert cls.model_fields[name].description, f"{cls.__name__}.{name} needs a description"


@pytest.mark.parametrize("cls", TYPES, ids=_type_id)
def test_round_trip_and_masking(cls: type[Block], orch_home: Path) -> None:
    sample = cls.block_sample()
    revealed = revealed_secrets(sample)
    texts = [repr(sample), str(sample), sample.model_dump_json(), str(sample.model_dump())]
    sample.save("contract")
    loaded = type(sample).load("contract")
    assert loaded == sample
    assert revealed_secrets(loaded) == revealed
    with sqlite3.connect(orch_home / "orch.db") as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT document FROM orch_blocks"))
    texts.append(stored)
    for value in revealed:
        for text in texts:
            assert value not in text


def test_listing_types_imports_no_sdk() -> None:
    import subprocess
    import sys

    heavy = [
        "sqlalchemy",
        "boto3",
        "snowflake",
        "google.cloud",
        "azure",
        "mlflow",
        "confluent_kafka",
        "hvac",
        "slack_sdk",
        "psycopg",
        "pandas",
    ]
    code = (
        "import sys; from orch.blocks.registry import installed_types; installed_types(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
