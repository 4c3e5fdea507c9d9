"""Input checks that must hold against hostile input: full-match validation, bounded reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from orch import Block, SecretRef
from orch.blocks.base import check_block_name
from orch.errors import BlockError, OrchError, SecretReferenceError
from orch.secrets.references import register_resolver
from orch.system_blocks import Secret

MIB = 1024 * 1024


# --- names and schemes are matched whole (``$`` also matches before a final newline) -----


@pytest.mark.parametrize("name", ["prod\n", "prod\r\n", "\nprod", "pr\nod", "prod "])
def test_block_name_with_a_newline_is_refused(name: str) -> None:
    with pytest.raises(BlockError, match="invalid block name"):
        check_block_name(name)


def test_block_name_with_a_trailing_newline_cannot_be_saved_or_loaded() -> None:
    with pytest.raises(BlockError, match="invalid block name"):
        Secret(value="x-value").save("prod\n")
    with pytest.raises(BlockError, match="invalid block name"):
        Secret.load("secret/prod\n")
    assert Secret.list_saved() == []


def test_valid_block_names_still_pass() -> None:
    for name in ("prod", "p", "a.b-c_d", "9lives", "x" * 128):
        assert check_block_name(name) == name
    with pytest.raises(BlockError):
        check_block_name("x" * 129)


def test_reference_scheme_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(SecretReferenceError, match="invalid secret reference scheme"):
        register_resolver("mine\n", lambda ref: "value")


def test_reference_keeps_its_location_whole() -> None:
    # a newline inside the reference is part of the location, never silently cut off
    ref = SecretRef("env://A\nB")
    assert ref.location == "A\nB"
    assert SecretRef(" env://NAME\n").location == "NAME"


# --- file:// references read at most the cap ----------------------------------------


def test_file_reference_to_dev_zero_fails_fast_without_reading_it_all() -> None:
    # In a child limited to 1 GiB of address space: reading /dev/zero whole would fail
    # there with MemoryError (and, unlimited, take the machine's memory first).
    code = (
        "import resource;"
        f"resource.setrlimit(resource.RLIMIT_AS, ({1024 * MIB}, {1024 * MIB}));"
        "from orch import SecretRef\n"
        "from orch.errors import SecretReferenceError\n"
        "try:\n"
        "    SecretRef('file:///dev/zero').resolve()\n"
        "except SecretReferenceError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == (
        "secret reference file:///dev/zero: the file is larger than 1048576 bytes "
        "(the limit of ORCH_FILE_SECRET_MAX_BYTES)"
    )


def test_file_reference_over_the_cap_names_the_reference_not_the_content(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.secret"
    big.write_bytes(b"TOPSECRET" * (2 * MIB // 9 + 1))
    with pytest.raises(SecretReferenceError) as caught:
        SecretRef(f"file://{big}").resolve()
    message = str(caught.value)
    assert message == (
        f"secret reference file://{big}: the file is larger than 1048576 bytes "
        "(the limit of ORCH_FILE_SECRET_MAX_BYTES)"
    )
    assert "TOPSECRET" not in message


def test_file_reference_at_the_cap_is_read(tmp_path: Path) -> None:
    exact = tmp_path / "exact.secret"
    exact.write_bytes(b"a" * (MIB - 1) + b"\n")
    assert SecretRef(f"file://{exact}").resolve() == "a" * (MIB - 1)


def test_file_reference_cap_is_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pw"
    path.write_text("0123456789\n")
    monkeypatch.setenv("ORCH_FILE_SECRET_MAX_BYTES", "11")
    assert SecretRef(f"file://{path}").resolve() == "0123456789"
    monkeypatch.setenv("ORCH_FILE_SECRET_MAX_BYTES", "10")
    with pytest.raises(SecretReferenceError, match="larger than 10 bytes"):
        SecretRef(f"file://{path}?again=1").resolve()
    monkeypatch.setenv("ORCH_FILE_SECRET_MAX_BYTES", "ten")
    with pytest.raises(OrchError, match="ORCH_FILE_SECRET_MAX_BYTES must be a positive"):
        SecretRef(f"file://{path}?again=2").resolve()


def test_file_reference_keeps_its_text_semantics(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf"
    crlf.write_bytes(b"line1\r\nline2\r\n")
    assert SecretRef(f"file://{crlf}").resolve() == "line1\nline2"
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xffTOPSECRET")
    with pytest.raises(SecretReferenceError) as caught:
        SecretRef(f"file://{binary}").resolve()
    assert str(caught.value) == f"secret reference file://{binary}: the file is not UTF-8 text"
    missing = tmp_path / "missing"
    with pytest.raises(SecretReferenceError, match="no such file"):
        SecretRef(f"file://{missing}").resolve()


def test_block_type_slug_is_matched_whole() -> None:
    with pytest.raises(BlockError, match=r"invalid block type slug 'secret\\n'"):
        Block.load("secret\n/prod")

    class Slashed(Block):
        block_type_slug = "team/api"
        url: str

    # "team/api/prod" could never be split back into its type and name
    with pytest.raises(BlockError, match="invalid block type slug 'team/api'"):
        Slashed(url="https://x").save("prod")
    assert Block.list_saved() == []
