"""The `orch` CLI as a newcomer meets it: typos, long identifiers, confirmations, help."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from orch import flow, task


def orch(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orch.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        input=stdin,
        check=False,
    )


# (1) typos get "did you mean" and a non-zero exit


def test_unknown_block_type_filter_suggests_the_known_one() -> None:
    assert orch("block", "create", "secret", "tok", "--ref", "value=env://T").returncode == 0
    result = orch("block", "ls", "--type", "secrets")
    assert result.returncode == 2
    assert "unknown block type 'secrets'" in result.stderr
    assert "did you mean 'secret'?" in result.stderr
    assert result.stdout == ""


def test_unknown_state_filter_suggests_the_known_one() -> None:
    result = orch("runs", "ls", "--state", "Fialed")
    assert result.returncode == 2
    assert "unknown state 'Fialed'" in result.stderr
    assert "did you mean 'Failed'?" in result.stderr
    # a known state in any case is still accepted
    assert orch("runs", "ls", "--state", "failed").returncode == 0


def test_unregistered_type_names_the_package_and_the_listing_command() -> None:
    result = orch("block", "create", "database-credential", "x", "--set", "a=1")
    assert result.returncode == 1
    assert "did you mean 'database-credentials'" in result.stderr
    assert "orch-sqlalchemy" in result.stderr
    assert "orch block types" in result.stderr
    assert "import or define" not in result.stderr


def test_registry_suggests_close_slugs() -> None:
    from orch.blocks.registry import get_block_class
    from orch.errors import BlockTypeNotFoundError

    with pytest.raises(BlockTypeNotFoundError, match="did you mean 'secret'"):
        get_block_class("secrte")


def test_unknown_block_name_suggests_a_saved_one() -> None:
    assert (
        orch("block", "create", "secret", "github-token", "--ref", "value=env://T").returncode == 0
    )
    result = orch("block", "inspect", "secret/github-tokn")
    assert result.returncode == 1
    assert "did you mean 'secret/github-token'?" in result.stderr


# (2) identifiers are never cut


def test_block_names_are_whole_at_80_columns() -> None:
    name = "warehouse-reporting-readonly-prod-eu-west-1"
    assert orch("block", "create", "json", name, "--set", "value=1").returncode == 0
    listing = orch("block", "ls")
    assert listing.returncode == 0, listing.stderr
    assert f"json/{name}" in listing.stdout
    assert "…" not in listing.stdout


def test_run_and_task_ids_are_whole_at_80_columns(orch_home: Path) -> None:
    @task
    def greet_everyone_in_the_long_named_team(who: str) -> str:
        return f"hello {who}"

    @flow
    def a_flow_with_a_rather_long_and_descriptive_name() -> None:
        greet_everyone_in_the_long_named_team("x")

    a_flow_with_a_rather_long_and_descriptive_name()
    runs = json.loads(orch("runs", "ls", "--json").stdout)
    run_id = runs[0]["id"]
    listing = orch("runs", "ls")
    assert run_id in listing.stdout, listing.stdout
    assert "…" not in listing.stdout
    # the other columns are wrapped or the table widened, never cut off
    assert "tasks" in listing.stdout and "Completed" in listing.stdout
    shown = orch("runs", "show", run_id)
    task_run = json.loads(orch("runs", "show", run_id, "--json").stdout)["task_runs"][0]
    assert task_run["id"] in shown.stdout, shown.stdout
    assert task_run["name"] in shown.stdout
    assert "…" not in shown.stdout


# (3) --version, completion, --debug, rm confirmation, apply diff


def test_version_names_the_core_and_the_installed_packages() -> None:
    from importlib.metadata import version

    result = orch("--version")
    assert result.returncode == 0, result.stderr
    assert f"orch-core {version('orch-core')}" in result.stdout


def test_help_lists_debug_version_and_completion() -> None:
    result = orch("--help")
    assert result.returncode == 0
    for option in ("--debug", "--version", "--install-completion", "--show-completion"):
        assert option in result.stdout, option


def test_show_completion_prints_a_script() -> None:
    result = orch("--show-completion", env={"SHELL": "/bin/bash"})
    assert result.returncode == 0, result.stderr
    assert "_ORCH_COMPLETE" in result.stdout


def test_rm_refuses_without_yes_when_stdin_is_not_a_terminal() -> None:
    assert orch("block", "create", "secret", "tok", "--ref", "value=env://T").returncode == 0
    refused = orch("block", "rm", "secret/tok", stdin="")
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert json.loads(orch("block", "ls", "--json").stdout) != []
    deleted = orch("block", "rm", "secret/tok", "-y")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(orch("block", "ls", "--json").stdout) == []


def test_apply_shows_a_field_diff_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "blocks.toml"
    path.write_text(
        '[database-credentials.prod]\ndriver = "postgresql"\nhost = "db.old"\nusername = "etl"\n'
        'password = "env://PG_OLD"\n'
    )
    pytest.importorskip("orch_sqlalchemy")
    first = orch("block", "apply", str(path))
    assert first.returncode == 0, first.stderr
    assert "created   database-credentials/prod" in first.stdout
    assert "+ host: 'db.old'" in first.stdout
    path.write_text(
        '[database-credentials.prod]\ndriver = "postgresql"\nhost = "db.new"\nusername = "etl"\n'
        'password = "env://PG_NEW"\n'
    )
    dry = orch("block", "apply", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "~ host: 'db.old' → 'db.new'" in dry.stdout
    assert "~ password: <reference env://PG_OLD> → <reference env://PG_NEW>" in dry.stdout
    assert "username" not in dry.stdout  # unchanged fields are not listed
    assert "dry run: nothing written" in dry.stdout
    still = json.loads(orch("block", "inspect", "database-credentials/prod", "--json").stdout)
    assert still["fields"]["host"] == "db.old"
    applied = orch("block", "apply", str(path))
    assert "~ host: 'db.old' → 'db.new'" in applied.stdout
    now = json.loads(orch("block", "inspect", "database-credentials/prod", "--json").stdout)
    assert now["fields"]["host"] == "db.new"


# (4) help written for people


COMMANDS = [
    (),
    *(("block", c) for c in ("", "types", "ls", "inspect", "create", "rm", "apply")),
    *(("store", c) for c in ("", "info", "new-key", "rotate-key", "upgrade")),
    *(("runs", c) for c in ("", "ls", "show", "logs", "prune")),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c).strip() or "orch")
def test_help_has_no_raw_markup(command: tuple[str, ...]) -> None:
    result = orch(*(word for word in command if word), "--help")
    assert result.returncode == 0, result.stderr
    for raw in ("``", "<bool>", "<list[str]>", "{name}", ":class:", "[default: 20]ms"):
        assert raw not in result.stdout, (raw, result.stdout)


def test_unknown_bare_name_suggests_the_full_name() -> None:
    assert (
        orch("block", "create", "secret", "github-token", "--ref", "value=env://T").returncode == 0
    )
    result = orch("block", "inspect", "github-tokn")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: no saved block is named 'github-tokn' (did you mean 'secret/github-token'?)"
    )


def test_rm_asks_at_a_terminal(tmp_path: Path) -> None:
    """At a terminal, `block rm` asks first; "n" keeps the block, "y" deletes it."""
    import pty

    assert orch("block", "create", "secret", "tok", "--ref", "value=env://T").returncode == 0

    def answer(reply: bytes) -> tuple[int, str]:
        pid, fd = pty.fork()
        if pid == 0:  # the child: `orch block rm` with the pty as its terminal
            os.execv(sys.executable, [sys.executable, "-m", "orch.cli.main", "block", "rm", "tok"])
        seen = b""
        while b"Delete secret/tok?" not in seen:
            seen += os.read(fd, 1024)
        os.write(fd, reply + b"\n")
        with contextlib.suppress(OSError):  # EIO once the child has exited
            while chunk := os.read(fd, 1024):
                seen += chunk
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), seen.decode()

    code, output = answer(b"n")
    assert code == 1 and "not deleting secret/tok" in output
    assert json.loads(orch("block", "ls", "--json").stdout) != []
    code, output = answer(b"y")
    assert code == 0 and "deleted secret/tok" in output
    assert json.loads(orch("block", "ls", "--json").stdout) == []


def test_a_shared_type_is_not_a_close_name() -> None:
    assert orch("block", "create", "secret", "mixed", "--ref", "value=env://T").returncode == 0
    assert orch("block", "create", "json", "tok", "--set", "value=1").returncode == 0
    far = orch("block", "inspect", "secret/nope")
    assert far.stderr == "error: no secret block named 'nope' is saved\n"
    other_type = orch("block", "inspect", "secret/tok")
    assert "(did you mean 'json/tok'?)" in other_type.stderr


def test_completion_offers_commands_states_and_types() -> None:
    def complete(words: str) -> list[str]:
        env = {"_ORCH_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - 1)
        result = orch(env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("orch bl") == ["block"]
    assert complete("orch runs ls --state F") == ["Failed"]
    assert "secret" in complete("orch block ls --type s")


def test_unknown_flow_filter_suggests_a_recorded_flow() -> None:
    @flow
    def nightly_report() -> None:
        pass

    nightly_report()
    result = orch("runs", "ls", "--flow", "nightly-reprot")
    assert result.returncode == 2
    assert result.stderr == (
        "error: no flow named 'nightly-reprot' has runs on record "
        "(did you mean 'nightly-report'?)\n"
    )
    assert orch("runs", "ls", "--flow", "nightly-report").returncode == 0


def test_a_stale_entry_point_is_named_and_does_not_hide_the_other_types(tmp_path: Path) -> None:
    # A distribution whose entry point names a module that no longer exists (a rename
    # since it was installed): the listing warns about it and still shows the rest.
    info = tmp_path / "site" / "stale_pkg-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stale-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[orch.blocks]\nstale-thing = orch_stale_module_gone:Thing\n"
    )
    env = {
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])
    }
    listing = orch("block", "types", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "secret" in listing.stdout
    assert "warning: block type 'stale-thing' is declared by stale-pkg" in listing.stderr
    assert "reinstall stale-pkg" in listing.stderr
    created = orch("block", "create", "stale-thing", "x", "--set", "a=1", env=env)
    assert created.returncode == 1
    assert "reinstall stale-pkg" in created.stderr
    assert "Traceback" not in created.stderr


def test_a_package_command_runs_as_orch_name(tmp_path: Path) -> None:
    # A distribution declares `orch hello` in the entry-point group orch.commands; the
    # rest of the line reaches its function untouched (its own --help included).
    site = tmp_path / "site"
    info = site / "hello_pkg-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[orch.commands]\nhello = orch_hello_cmd:main\nruns = orch_hello_cmd:main\n"
    )
    (site / "orch_hello_cmd.py").write_text("def main(argv):\n    print('argv', argv)\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    ran = orch("hello", "greet", "--loud", "--help", env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "argv ['greet', '--loud', '--help']\n"
    listed = orch("--help", env=env)
    assert "From hello-pkg" in listed.stdout
    # A package never replaces a core command.
    assert "argv" not in orch("runs", "ls", env=env).stdout
