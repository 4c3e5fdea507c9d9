"""The `orch` command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLAIN = "cli-secret-value-123"


def orch(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orch.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=stdin,
        check=False,
    )


def test_create_inspect_ls_rm_never_show_the_secret(orch_home: Path) -> None:
    created = orch("block", "create", "secret", "tok", "--set", f"value={PLAIN}")
    assert created.returncode == 0, created.stderr
    assert "saved secret/tok" in created.stdout
    inspect = orch("block", "inspect", "tok")
    listing = orch("block", "ls", "--json")
    as_json = orch("block", "inspect", "secret/tok", "--json")
    for result in (created, inspect, listing, as_json):
        assert PLAIN not in result.stdout + result.stderr
    assert json.loads(as_json.stdout)["fields"]["value"] == "**********"
    assert json.loads(listing.stdout)[0]["name"] == "secret/tok"
    assert orch("block", "rm", "secret/tok", "--yes").returncode == 0
    assert json.loads(orch("block", "ls", "--json").stdout) == []


def test_reference_is_shown_as_reference() -> None:
    assert orch("block", "create", "secret", "gh", "--ref", "value=env://GH_TOKEN").returncode == 0
    shown = json.loads(orch("block", "inspect", "secret/gh", "--json").stdout)
    assert shown["fields"]["value"] == "<reference env://GH_TOKEN>"


def test_types_lists_core_types_without_sdks() -> None:
    result = orch("block", "types", "--json")
    assert result.returncode == 0, result.stderr
    slugs = {row["slug"] for row in json.loads(result.stdout)}
    assert {"secret", "json"} <= slugs


def test_errors_are_one_line_without_traceback() -> None:
    result = orch("block", "inspect", "secret/nope")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no secret block named 'nope' is saved"
    assert "Traceback" not in result.stderr
    debug = orch("block", "inspect", "secret/nope", "--debug")
    assert "Traceback" in debug.stderr
    bad_type = orch("block", "create", "no-such-type", "x", "--set", "a=1")
    assert bad_type.returncode == 1 and "no-such-type" in bad_type.stderr
    missing_field = orch("block", "create", "secret", "x", "--set", "valu=1")
    assert missing_field.returncode == 1
    assert "valu" in missing_field.stderr and "value" in missing_field.stderr
    # a multi-line message (one line per bad field) is still one line at the CLI
    assert missing_field.stderr.strip() == (
        "error: invalid secret block: value: Field required; "
        "valu: Extra inputs are not permitted"
    )


def test_store_info_json(orch_home: Path) -> None:
    orch("block", "create", "secret", "tok", "--set", f"value={PLAIN}")
    info = json.loads(orch("store", "info", "--json").stdout)
    assert info["backend"] == "sqlite"
    assert info["path"] == str(orch_home / "orch.db")
    assert info["blocks"] == 1 and info["key_matches"] is True


def test_rotate_key_with_env_key_needs_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "k1"
    assert orch("store", "new-key", "--out", str(key_file)).returncode == 0
    env = {"ORCH_SECRET_KEY": key_file.read_text().strip()}
    assert (
        orch("block", "create", "secret", "t", "--set", f"value={PLAIN}", env=env).returncode == 0
    )
    refused = orch("store", "rotate-key", env=env)
    assert refused.returncode == 1 and "--new-key-file" in refused.stderr
    new_file = tmp_path / "k2"
    done = orch("store", "rotate-key", "--new-key-file", str(new_file), env=env)
    assert done.returncode == 0, done.stderr
    load = "from orch.system_blocks import Secret;print(Secret.load('t').value.get_secret_value())"
    old = subprocess.run(
        [sys.executable, "-c", load],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert old.returncode == 1 and "key id" in old.stderr
    # inspect masks every secret: it still shows the block with the old key, unverified
    shown = orch("block", "inspect", "t", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["integrity"] == "not verified (wrong key)"
    env2 = {"ORCH_SECRET_KEY": new_file.read_text().strip()}
    got = subprocess.run(
        [sys.executable, "-c", load],
        capture_output=True,
        text=True,
        env={**os.environ, **env2},
        check=False,
    )
    assert got.stdout.strip() == PLAIN


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_apply_creates_updates_and_refuses_plaintext(tmp_path: Path, suffix: str) -> None:
    if suffix == ".toml":
        text = '[secret.gh]\nvalue = "env://GH_TOKEN"\n\n[json.settings]\nvalue = {batch = 5}\n'
        changed = text.replace("batch = 5", "batch = 6")
        plain = '[secret.bad]\nvalue = "hunter2-plain"\n\n[json.ok]\nvalue = 1\n'
    else:
        text = (
            "secret:\n  gh:\n    value: env://GH_TOKEN\njson:\n  settings:\n    value: {batch: 5}\n"
        )
        changed = text.replace("batch: 5", "batch: 6")
        plain = "json:\n  ok:\n    value: 1\nsecret:\n  bad:\n    value: hunter2-plain\n"
    path = tmp_path / f"blocks{suffix}"
    path.write_text(text)
    first = orch("block", "apply", str(path), "--json")
    assert first.returncode == 0, first.stderr
    assert {r["action"] for r in json.loads(first.stdout)} == {"created"}
    path.write_text(changed)
    second = {
        r["name"]: r["action"]
        for r in json.loads(orch("block", "apply", str(path), "--json").stdout)
    }
    assert second == {"secret/gh": "unchanged", "json/settings": "updated"}
    path.write_text(plain)
    refused = orch("block", "apply", str(path))
    assert refused.returncode == 1
    assert "secret/bad" in refused.stderr and "'value'" in refused.stderr
    assert "hunter2-plain" not in refused.stderr
    # nothing from the refused file was written, not even its valid block
    names = {r["name"] for r in json.loads(orch("block", "ls", "--json").stdout)}
    assert "json/ok" not in names


def test_create_prompts_field_by_field() -> None:
    # answers: value (hidden input; read from stdin when there is no terminal)
    result = orch("block", "create", "secret", "prompted", stdin=f"{PLAIN}\n")
    assert result.returncode == 0, result.stderr
    assert PLAIN not in result.stdout + result.stderr
    got = subprocess.run(
        [
            sys.executable,
            "-c",
            "from orch.system_blocks import Secret;"
            "print(Secret.load('prompted').value.get_secret_value())",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert got.stdout.strip() == PLAIN


def test_prompted_reference_is_stored_as_reference() -> None:
    result = orch("block", "create", "secret", "pref", stdin="env://SOME_TOKEN\n")
    assert result.returncode == 0, result.stderr
    shown = json.loads(orch("block", "inspect", "secret/pref", "--json").stdout)
    assert shown["fields"]["value"] == "<reference env://SOME_TOKEN>"
