"""The contract every installed block type keeps (core's and every package's).

A type has a description and a usage example, round-trips through the store, masks its
secrets everywhere, and every field whose name says password/token/secret/key is typed as
a secret, unless the type marks it as not secret on purpose; those exceptions are listed
here, so that adding one is a visible decision.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from orch import Block
from orch.registry import installed_types
from orch.secrets import SECRET_TYPES

# slug → fields named like secrets that are not secret, on purpose (and why)
NOT_SECRET_ON_PURPOSE: dict[str, set[str]] = {
    "aws-secret": {"secret_name"},  # the name of a Secrets Manager secret, not its value
    "snowflake-credentials": {"private_key_path"},  # where the key file is, not the key
}

SECRET_LOOKING = re.compile(r"password|passwd|passphrase|token|secret|(^|_)key($|_)", re.I)
TYPES = installed_types()


def _type_id(cls: type[Block]) -> str:
    return cls.block_type_slug


@pytest.mark.parametrize("cls", TYPES, ids=_type_id)
def test_has_description_and_example(cls: type[Block]) -> None:
    assert cls.block_description(), f"{cls.__name__} needs a docstring"
    assert cls.block_example(), f"{cls.__name__}'s docstring needs an 'Example:' section"


@pytest.mark.parametrize("cls", TYPES, ids=_type_id)
def test_secret_looking_fields_are_secret(cls: type[Block]) -> None:
    secret = set(cls.secret_fields())
    looking = {name for name in cls.model_fields if SECRET_LOOKING.search(name)}
    assert set(cls.block_not_secret) == NOT_SECRET_ON_PURPOSE.get(cls.block_type_slug, set())
    assert looking - secret - set(cls.block_not_secret) == set()


@pytest.mark.parametrize("cls", TYPES, ids=_type_id)
def test_round_trip_and_masking(cls: type[Block], orch_home: Path) -> None:
    sample = cls.block_sample()
    revealed = _revealed(sample)
    texts = [repr(sample), str(sample), sample.model_dump_json(), str(sample.model_dump())]
    sample.save("contract")
    loaded = type(sample).load("contract")
    assert loaded == sample
    assert _revealed(loaded) == revealed
    with sqlite3.connect(orch_home / "orch.db") as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT document FROM orch_blocks"))
    texts.append(stored)
    for value in revealed:
        for text in texts:
            assert value not in text


def _revealed(block: Block) -> list[str]:
    values = []
    for name in type(block).model_fields:
        value = getattr(block, name)
        if isinstance(value, SECRET_TYPES) and value.reference is None:
            raw = value.get_secret_value()
            values.append(raw.decode() if isinstance(raw, bytes) else str(raw))
        elif isinstance(value, Block):
            values.extend(_revealed(value))
    return [v for v in values if len(v) >= 4]


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
        "import sys; from orch.registry import installed_types; installed_types(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
