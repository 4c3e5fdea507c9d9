"""The core's docstrings name objects in backticks, not Sphinx roles (``:class:`X```),
which mkdocstrings shows as typed (scripts/griffe_docstrings.py still converts any that a
package keeps, for the site)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):`")


def test_no_sphinx_roles_in_the_core() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "shared" / "src").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ROLE.search(line)
    ]
    assert not found, found
