"""Check that every integration package imports the core only through ``orch`` (the public
names) and ``orch.integration`` (the kit): an import-linter ``forbidden`` contract over
``packages/*/src/orch_*``, found by glob so that a new package needs no edit here.

Run by scripts/test: ``.venv/bin/python scripts/package_imports.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "shared" / "src" / "orch"
# Where packages may go: the top-level package itself (`from orch import task`) and the kit.
ALLOWED = {"integration"}


def private_core_modules() -> list[str]:
    """Every module and folder of the core except the kit (and ``orch`` itself)."""
    names = {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in CORE.iterdir() if (p / "__init__.py").is_file()}
    return sorted(f"orch.{n}" for n in names - ALLOWED)


def main() -> int:
    packages = sorted(p.name for p in ROOT.glob("packages/*/src/orch_*") if p.is_dir())
    if not packages:
        return 0
    lines = [
        "[importlinter]",
        "root_packages =",
        "    orch",
        *(f"    {p}" for p in packages),
        "exclude_type_checking_imports = True",
        "",
        "[importlinter:contract:packages]",
        "name = Packages import only orch and orch.integration",
        "type = forbidden",
        # The kit itself uses the core: only a package's own imports count.
        "allow_indirect_imports = True",
        "source_modules =",
        *(f"    {p}" for p in packages),
        "forbidden_modules =",
        *(f"    {m}" for m in private_core_modules()),
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as config:
        config.write("\n".join(lines) + "\n")
    try:
        lint = Path(sys.executable).parent / "lint-imports"
        return subprocess.call([str(lint), "--no-cache", "--config", config.name], cwd=ROOT)
    finally:
        Path(config.name).unlink()


if __name__ == "__main__":
    sys.exit(main())
