"""Lazy exports for a package's ``__init__``: names load with their module on first use.

So that ``import orch_x`` (and listing block types) never pays for the SDK: each public
name is looked up in its defining module only when someone reads it. For type checkers
and IDEs, the package also imports every name under ``if TYPE_CHECKING:``.

Example:
    from orch.lazy import lazy_exports

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from orch_x.connector import XConnector as XConnector

    _EXPORTS = {"XConnector": "orch_x.connector"}
    __all__ = sorted(_EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""

from __future__ import annotations

import sys
from importlib import import_module

# Not `from typing import TYPE_CHECKING`: `import orch` must not pay for `typing`.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_exports(
    module_name: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for module ``module_name``, given public name → module.

    A name is imported from its module on first access, then kept in the package's
    globals (later reads cost nothing). An unknown name raises ``AttributeError`` as for
    any module.
    ``__version__`` is the installed distribution's version, read from its metadata on
    first access (so it never disagrees with pyproject.toml, and costs nothing at import).

    Example:
        __getattr__, __dir__ = lazy_exports(__name__, {"XConnector": "orch_x.connector"})
    """

    def __getattr__(name: str) -> Any:
        if name == "__version__":
            return _version(module_name)
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(import_module(target), name)
        setattr(sys.modules[module_name], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module_name])) | set(exports))

    return __getattr__, __dir__


def _version(module_name: str) -> str:
    """The version of the distribution of ``module_name``'s top-level package, kept in it.

    By the layout, module ``orch_<x>`` is distribution ``orch-<x>`` and ``orch`` is
    ``orch-core`` (never ``orch``: PyPI's ``orch`` is another project).
    """
    from importlib.metadata import PackageNotFoundError, version

    top = module_name.partition(".")[0]
    dist = "orch-core" if top == "orch" else top.replace("_", "-")
    try:
        value = version(dist)
    except PackageNotFoundError:
        raise AttributeError(
            f"module {module_name!r} has no __version__: distribution {dist!r} is not installed"
        ) from None
    vars(sys.modules[module_name])["__version__"] = value  # later reads cost nothing
    return value


def not_in_orch(module_name: str, message: str) -> Callable[[str], Any]:
    """``__getattr__`` for a module kept at a Prefect path that orch does not fill.

    Any public name raises ``NotInOrchError`` with ``message`` (what
    to do in orch instead); dunder lookups stay ``AttributeError`` so tools that probe
    modules (doctest, pytest, ``hasattr``) work.

    Example:
        __getattr__ = not_in_orch(__name__, "orch has no artifacts: log a line instead")
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        from orch.errors import NotInOrchError

        raise NotInOrchError(f"{module_name}.{name} is Prefect's, not orch's: {message}")

    return __getattr__
