"""README.md, typed in order on a fresh clone: every shell line and every ``>>>`` session
runs as written, in one shell, in a copy of the repository with its own ``.venv`` and
``ORCH_HOME`` — twice, since a reader runs it again. A README that drifts fails here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Lines another test runs as written, so the first run does not repeat them.
RUN_ELSEWHERE = {
    "scripts/test": "it is this suite (CI runs it: .ci/run)",
    "scripts/build": "tests/packaging/test_wheels.py builds every wheel",
    "pip install --find-links dist orch-snowflake": "tests/packaging/test_wheels.py "
    "installs each wheel so, in a fresh venv",
}
# A placeholder the reader fills in from the line before: the newest run's id.
NEWEST_RUN = "import json, sys; print(json.load(sys.stdin)[0]['id'])"
PLACEHOLDERS = {"RUN_ID": f'"$(orch runs ls --json | python -c "{NEWEST_RUN}")"'}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
THIS_IS = re.compile(r"this is `([^`]+\.py)`", re.I)


def _blocks() -> list[tuple[str, str, str]]:
    """(language, body, the text before the block) of each fenced block, in order."""
    text = README.read_text()
    found, last = [], 0
    for match in FENCE.finditer(text):
        found.append((match.group(1), match.group(2), text[last : match.start()]))
        last = match.end()
    return found


def _code(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.strip())


def _command(line: str) -> str:
    for name, value in PLACEHOLDERS.items():
        line = line.replace(name, value)
    return line


def _script(tmp: Path) -> tuple[str, list[str]]:
    """The bash script typing the README, and the lines skipped (run elsewhere)."""
    steps: list[str] = []
    skipped: list[str] = []
    for number, (language, body, before) in enumerate(_blocks()):
        if language == "python":
            # Shown, not typed: the README quotes a file of the repository.
            named = THIS_IS.findall(before)
            assert named, f"README python block {number} does not say which file it is"
            # Blank lines aside: the README's copy may be tighter than ruff's format.
            assert _code(body) in _code((ROOT / named[-1]).read_text()), (
                f"README's copy of {named[-1]} differs from the file"
            )
        elif language == "pycon":
            session = tmp / f"readme-session-{number}.txt"
            session.write_text(body)
            steps.append(
                f"python -m doctest -o ELLIPSIS -o NORMALIZE_WHITESPACE {shlex.quote(str(session))}"
            )
        elif language == "bash":
            for line in body.splitlines():
                bare = line.split("#", 1)[0].strip()
                if not bare:
                    continue
                if bare in RUN_ELSEWHERE:
                    skipped.append(bare)
                    continue
                steps.append(_command(line))
        else:
            pytest.fail(f"README block {number} has a language this test cannot run: {language!r}")
    lines = ["set -uo pipefail"]
    for step in steps:
        quoted = shlex.quote(step)
        lines.append(f"printf '\\n$ %s\\n' {quoted}")
        lines.append(f'eval {quoted} || {{ echo "README line failed: "{quoted} >&2; exit 1; }}')
    return "\n".join(lines) + "\n", skipped


def _fresh_copy(dest: Path) -> None:
    """The repository's files as a clone has them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the worktree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode)
    if (ROOT / ".tools").is_dir():
        # uv itself, as scripts/lib.sh installs it on a first run (a pip install, no more).
        (dest / ".tools").symlink_to(ROOT / ".tools")


def test_every_readme_line_runs_in_order_twice(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    _fresh_copy(clone)
    script, skipped = _script(tmp_path)
    assert sorted(skipped) == sorted(RUN_ELSEWHERE), "a line RUN_ELSEWHERE is no longer in README"
    venv = str(ROOT / ".venv")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORCH_", "VIRTUAL_ENV", "PYTHON", "REPORTS_", "UV_PROJECT"))
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if venv not in p)
    env["ORCH_HOME"] = str(tmp_path / "orch-home")
    # The packages come from this machine's uv cache (a clone would fill its own .cache/).
    env.setdefault("UV_CACHE_DIR", str(ROOT / ".cache" / "uv"))
    env["COLUMNS"] = "200"
    for attempt in ("first", "second"):
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, (
            f"{attempt} run:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        out = result.stdout
        assert "reports-api/prod" in out and "<reference env://REPORTS_TOKEN>" in out
        assert "example-token" not in out.split("$ orch block ls", 1)[1], "a secret was printed"
        assert "greeted 2 people" in result.stderr + out
