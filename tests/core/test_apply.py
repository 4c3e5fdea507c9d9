"""`orch block apply` in-process: nested references, order, atomicity, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch import Block, SecretStr
from orch.blocks.apply import apply_file
from orch.errors import ConfigFileError


class ApplyCreds(Block):
    """Creds.

    Example:
        ApplyCreds(user="u", password=SecretRef("env://PW"))
    """

    user: str
    password: SecretStr


class ApplyConnector(Block):
    """Connector.

    Example:
        ApplyConnector(credentials=ApplyCreds.load("prod"))
    """

    credentials: ApplyCreds
    pool_size: int = 5


def test_nested_reference_to_a_block_later_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "blocks.toml"
    path.write_text(
        '[apply-connector.wh]\ncredentials = "prod"\npool_size = 9\n\n'
        '[apply-creds.prod]\nuser = "etl"\npassword = { ref = "env://APPLY_PW" }\n'
    )
    results = apply_file(path)
    assert [(r.full_name, r.action) for r in results] == [
        ("apply-creds/prod", "created"),
        ("apply-connector/wh", "created"),
    ]
    monkeypatch.setenv("APPLY_PW", "pw-from-env")
    connector = ApplyConnector.load("wh")
    assert connector.pool_size == 9
    assert connector.credentials.block_document_name == "apply-creds/prod"
    assert connector.credentials.password.get_secret_value() == "pw-from-env"


def test_reference_to_a_saved_block(tmp_path: Path) -> None:
    ApplyCreds(user="u", password="stored-secret").save("existing")
    path = tmp_path / "b.toml"
    path.write_text('[apply-connector.c]\ncredentials = "apply-creds/existing"\n')
    apply_file(path)
    assert ApplyConnector.load("c").credentials.password.get_secret_value() == "stored-secret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[nope-type.x]\na = 1\n", "nope-type"),
        ('[apply-creds.x]\nuser = "u"\npassword = "plain-text"\n', "plain value"),
        ('[apply-creds.x]\nuser = "u"\npassword = "postgresql://u:pw@h/db"\n', "unknown secret"),
        ('[apply-creds.x]\nusr = "u"\npassword = "env://X"\n', "usr"),
        ('[apply-connector.c]\ncredentials = "missing"\n', "apply-creds/missing"),
        ('[apply-creds."bad name"]\nuser = "u"\npassword = "env://X"\n', "invalid block name"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_files_name_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "b.toml"
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=expected) as info:
        apply_file(path)
    assert "pw@" not in str(info.value)
    assert Block.list_saved() == []


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text('[apply-creds.x]\nuser = "u"\npassword = "env://X"\n')
    assert [r.action for r in apply_file(path, dry_run=True)] == ["created"]
    assert Block.list_saved() == []
