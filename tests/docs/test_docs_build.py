"""The user docs build without a warning (broken links, missing API names fail here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    assert mkdocs.exists(), "mkdocs is installed by scripts/test (dependency group 'docs')"
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "blocks" / "index.html").exists()


def test_docstring_examples_render_as_code_and_roles_do_not_show(tmp_path: Path) -> None:
    """scripts/griffe_docstrings.py: ``>>>`` lines are a code block, not nested
    blockquotes; a Sphinx role (``:class:`X```) is code, not literal text."""
    site = tmp_path / "site"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    pages = sorted(site.glob("**/index.html"))
    for page in pages:
        html = page.read_text()
        assert "<blockquote>\n<blockquote>" not in html, page
        for role in (":class:", ":func:", ":meth:", ":mod:", ":exc:", ":attr:"):
            assert role not in html, (page, role)
    reference = (site / "reference" / "index.html").read_text()
    assert '<span class="gp">&gt;&gt;&gt; </span>' in reference  # a pycon code block
    assert "doctest:" not in reference


def test_the_extension_fences_each_run_of_prompt_lines() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from griffe_docstrings import render_docstring
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    text = (
        "Uses :class:`~orch.blocks.base.Block` and :func:`orch.flow`.\n\n"
        "Example:\n    >>> x = 1  # doctest: +SKIP\n    >>> x\n    1\n\n    Then prose.\n"
    )
    assert render_docstring(text) == (
        "Uses `Block` and `orch.flow`.\n\n"
        "Example:\n    ```pycon\n    >>> x = 1\n    >>> x\n    1\n    ```\n\n    Then prose."
    )


def test_every_package_page_has_an_api_reference() -> None:
    """Each package's docs page renders its API (``::: orch_<x>...``), as contributing.md says."""
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        module = "orch_" + pyproject.parent.name.removeprefix("orch-").replace("-", "_")
        page = ROOT / "docs" / "integrations" / f"{pyproject.parent.name.removeprefix('orch-')}.md"
        assert f"::: {module}" in page.read_text(), f"{page}: no `::: {module}...` API section"
    assert "::: orch.history" in (ROOT / "docs" / "reference.md").read_text()


def test_the_cli_reference_and_the_schemes_table_are_generated(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    cli = (site / "cli" / "index.html").read_text()
    for command in (
        "orch block apply",
        "orch block rm",
        "orch runs prune",
        "orch store rotate-key",
    ):
        assert f"<code>{command}</code>" in cli, command
    assert "<code>--dry-run</code>" in cli and "cli-reference: generated" not in cli
    blocks = (site / "blocks" / "index.html").read_text()
    from importlib.metadata import entry_points

    for ep in entry_points(group="orch.secret_resolvers"):
        # Every installed scheme is listed and marked installed.
        row = re.search(rf"<td><code>{re.escape(ep.name)}://</code></td>(.*?)</tr>", blocks, re.S)
        assert row and "<td>yes</td>" in row.group(1), ep.name
    # The table lists what the packages' entry points serve, nothing more.
    listed = set(re.findall(r"<td><code>([a-z0-9+.-]+)://</code></td>", blocks))
    assert listed == {ep.name for ep in entry_points(group="orch.secret_resolvers")}
