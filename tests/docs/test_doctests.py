"""Every ``>>>`` example in the core's and the packages' docstrings runs, in a fresh
``ORCH_HOME`` (the autouse fixture of tests/conftest.py), so the examples stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

# The core and every integration package installed in this environment (the workspace).
_PACKAGES = sorted(m.name for m in pkgutil.iter_modules() if m.name.startswith("orch_"))
_TOP_LEVEL = ["orch", *_PACKAGES]


def _modules() -> list[str]:
    names: list[str] = []
    for top in _TOP_LEVEL:
        package = importlib.import_module(top)
        names.append(top)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{top}."):
            names.append(info.name)
    return sorted(names)


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    return [t for t in doctest.DocTestFinder(exclude_empty=True).find(module) if t.examples]


MODULES = _modules()


def test_the_doctests_are_found() -> None:
    # Guards the discovery itself: if it silently found nothing, every test below passes.
    assert "orch.secrets" in MODULES and any(m.startswith("orch_") for m in MODULES)
    found = sum(
        len(t.examples) for name in MODULES for t in _doctests(importlib.import_module(name))
    )
    assert found >= 50, found


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in _doctests(module):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
