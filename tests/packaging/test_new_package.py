"""Adding an integration package edits no central file: everything finds it by glob.

The last test copies the repository, adds ``packages/orch-demo/`` (a block, a secret
scheme), its docs page, its backend module and its tests — nothing else — and checks each
mechanism that used to need a hand edit: the generated catalog (install hints before the
package is installed) and README table, the uv workspace, mypy's file list, the docs nav
and API paths, and the test backends.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p for p in (ROOT / "packages").glob("*") if (p / "pyproject.toml").exists())


def _project(member: Path) -> dict:
    return tomllib.loads((member / "pyproject.toml").read_text())["project"]


def _run(*cmd: str | Path, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **env},
    )


def test_generated_catalog_and_readme_are_current() -> None:
    # Fails when a package's entry points changed and scripts/catalog.py was not run.
    result = _run(sys.executable, "scripts/catalog.py", "--check")
    assert result.returncode == 0, result.stderr


def test_central_files_name_no_package() -> None:
    central = [
        "pyproject.toml",
        "mkdocs.yml",
        "scripts/test",
        "scripts/build",
        "scripts/lib.sh",
        "tests/conftest.py",
        "tests/backends/plugin.py",
        "shared/src/orch/secrets/references.py",
        "shared/src/orch/blocks/registry.py",
    ]
    names = [_project(p)["name"] for p in PACKAGES]
    names += [n.replace("-", "_") for n in names]
    for path in central:
        text = (ROOT / path).read_text()
        named = [n for n in names if re.search(rf"\b{re.escape(n)}\b", text)]
        assert not named, f"{path} names {named}: find packages by glob instead"


@pytest.mark.parametrize("member", PACKAGES, ids=lambda m: m.name)
def test_version_from_metadata_and_core_range_bounded(member: Path) -> None:
    project = _project(member)
    module = import_module(project["name"].replace("-", "_"))
    assert module.__version__ == version(project["name"]) == project["version"]
    init = (member / "src" / project["name"].replace("-", "_") / "__init__.py").read_text()
    assert not re.search(r"^__version__\s*=", init, re.M), "hard-coded beside pyproject.toml"
    (core,) = [r for r in map(Requirement, project["dependencies"]) if r.name == "orch-core"]
    assert any(s.operator in ("<", "<=", "~=", "==") for s in core.specifier), str(core)


def test_core_version_from_metadata() -> None:
    import orch

    assert orch.__version__ == version("orch-core")


@pytest.mark.timeout(900)
def test_hints_name_the_package_when_only_the_core_is_installed(
    wheel_python: Callable[..., Path], tmp_path: Path
) -> None:
    py = wheel_python("orch-core")  # a user's venv: the core's wheel, no package
    script = textwrap.dedent(
        """
        from orch.errors import BlockTypeNotFoundError, SecretReferenceError
        from orch.secrets.references import SecretRef
        from orch.blocks.registry import get_block_class
        try:
            SecretRef("aws-sm://prod/db#password").resolve()
        except SecretReferenceError as exc:
            print(exc)
        try:
            get_block_class("snowflake-credentials")
        except BlockTypeNotFoundError as exc:
            print(exc)
        """
    )
    result = _run(py, "-c", script, ORCH_HOME=str(tmp_path / "home"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "no resolver is installed for aws-sm:// references: pip install orch-aws",
        "block type 'snowflake-credentials' is not installed: pip install orch-snowflake",
    ]


# --- a new package, added with no central edit ---------------------------------------------

DEMO_PYPROJECT = """\
[project]
name = "orch-demo"
version = "0.3.0"
description = "orch blocks for Demo: a token and the demo:// secret references."
requires-python = ">=3.11"
dependencies = ["orch-core>=0.1.0,<0.2"]

[project.entry-points."orch.blocks"]
demo-token = "orch_demo:DemoToken"

[project.entry-points."orch.secret_resolvers"]
demo = "orch_demo:resolve_demo"

[build-system]
requires = ["hatchling>=1.24"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/orch_demo"]
"""

DEMO_INIT = '''\
"""orch-demo: a token block and the ``demo://`` secret references."""

from __future__ import annotations

from orch import Block, SecretRef, SecretStr


class DemoToken(Block):
    """A token for Demo."""

    token: SecretStr


def resolve_demo(ref: SecretRef) -> str:
    """``demo://NAME`` resolves to ``NAME`` reversed."""
    return ref.location[::-1]
'''

DEMO_BACKEND = '''\
"""A stand-in service for the demo package's tests."""

import pytest

SERVICE_OF_FIXTURE = {"demo_server": "demo"}


@pytest.fixture(scope="session")
def demo_server() -> str:
    return "demo://olleh"
'''

DEMO_TEST = """\
from orch_demo import DemoToken, resolve_demo
from orch import SecretRef
from tests.backends.plugin import service_of_fixture


def test_demo(demo_server: str) -> None:
    assert resolve_demo(SecretRef(demo_server)) == "hello"
    assert DemoToken.block_type_slug == "demo-token"
    assert service_of_fixture()["demo_server"] == "demo"
"""

_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".tools", ".cache", "dist", "site", "__pycache__", "*_cache", "node_modules"
)


def _uv() -> str:
    uv = ROOT / ".tools" / "bin" / "uv"
    found = str(uv) if uv.exists() else shutil.which("uv")
    assert found, "uv is installed into .tools/ by scripts/test"
    return found


@pytest.mark.timeout(120)
def test_a_new_package_needs_no_central_edit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=_NOT_COPIED)
    demo = repo / "packages" / "orch-demo"
    (demo / "src" / "orch_demo").mkdir(parents=True)
    (demo / "pyproject.toml").write_text(DEMO_PYPROJECT)
    (demo / "src" / "orch_demo" / "__init__.py").write_text(DEMO_INIT)
    (repo / "docs" / "integrations" / "demo.md").write_text(
        "# Demo (orch-demo)\n\nA token block.\n\n## API\n\n::: orch_demo\n"
    )
    (repo / "tests" / "backends" / "demo.py").write_text(DEMO_BACKEND)
    (repo / "tests" / "demo").mkdir()
    (repo / "tests" / "demo" / "__init__.py").write_text("")
    (repo / "tests" / "demo" / "test_demo.py").write_text(DEMO_TEST)
    core_only = {"PYTHONPATH": str(repo / "shared" / "src")}

    # The generated files are stale until the generator runs (the first test catches that)…
    stale = _run(sys.executable, "scripts/catalog.py", "--check", cwd=repo)
    assert stale.returncode == 1
    assert "shared/src/orch/_catalog.py" in stale.stderr and "README.md" in stale.stderr
    # …as before: before the package is installed, no hint names it.
    hint = "from orch.blocks.registry import get_block_class; get_block_class('demo-token')"
    before = _run(sys.executable, "-c", hint, cwd=repo, **core_only)
    assert "orch-demo" not in before.stderr
    assert _run(sys.executable, "scripts/catalog.py", cwd=repo).returncode == 0
    assert "| `orch-demo` | orch blocks for Demo" in (repo / "README.md").read_text()

    # Install hints, with orch-demo not installed (only the copy's core on the path).
    script = textwrap.dedent(
        """
        from orch.errors import BlockTypeNotFoundError, SecretReferenceError
        from orch.secrets.references import SecretRef
        from orch.blocks.registry import get_block_class
        try:
            SecretRef("demo://olleh").resolve()
        except SecretReferenceError as exc:
            print(exc)
        try:
            get_block_class("demo-token")
        except BlockTypeNotFoundError as exc:
            print(exc)
        """
    )
    hints = _run(sys.executable, "-c", script, cwd=repo, **core_only)
    assert hints.stdout.splitlines() == [
        "no resolver is installed for demo:// references: pip install orch-demo",
        "block type 'demo-token' is not installed: pip install orch-demo",
    ], hints.stderr

    # The uv workspace takes the new member (discovery only: no resolution, so no network
    # and no cache is needed), and the flags scripts/test syncs with bring every member's
    # own test group along (read from the committed lock, which a real change re-locks).
    uv_env = {"UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1"}
    members = _run(_uv(), "workspace", "list", cwd=repo, **uv_env)
    assert members.returncode == 0, members.stderr
    assert "orch-demo" in members.stdout.split()
    exported = _run(
        _uv(), "export", "--frozen", "--all-packages", "--all-groups", "--all-extras",
        "--no-hashes", cwd=repo, **uv_env,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "moto" in exported.stdout  # every member's own test group comes along

    # mypy's file list (the globs of [tool.mypy] files), without a cold type check.
    listed = _run(
        sys.executable,
        "-c",
        "import sys; from mypy.options import Options;"
        "from mypy.config_parser import parse_config_file;"
        "from mypy.find_sources import create_source_list;"
        "o = Options();"
        "parse_config_file(o, lambda: None, 'pyproject.toml', sys.stdout, sys.stderr);"
        "print(sorted(s.module for s in create_source_list(o.files or [], o)))",
        cwd=repo,
    )
    assert listed.returncode == 0, listed.stderr
    assert "'orch_demo'" in listed.stdout and "'orch.secrets.references'" in listed.stdout

    # Docs: the nav glob lists the page; the API paths glob finds the module (strict build).
    mkdocs = Path(sys.executable).parent / "mkdocs"
    site = tmp_path / "site"
    built = _run(mkdocs, "build", "--strict", "--site-dir", site, cwd=repo)
    assert built.returncode == 0, built.stderr[-4000:]
    assert 'href="integrations/demo/"' in (site / "index.html").read_text()
    assert "DemoToken" in (site / "integrations" / "demo" / "index.html").read_text()

    # Tests: the backend plugin finds tests/backends/demo.py; the package's tests run.
    ran = _run(
        sys.executable, "-m", "pytest", "tests/demo", "-q", "-p", "no:cacheprovider",
        cwd=repo, PYTHONPATH=f"{repo / 'shared' / 'src'}:{demo / 'src'}",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-4000:]
    assert "1 passed" in ran.stdout
