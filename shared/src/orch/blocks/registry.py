"""The registry of block types, by slug.

Types come from two places: packages declare theirs in the entry-point group
``orch.blocks`` (name = slug, value = ``module:Class``), and any ``Block`` subclass
registers itself when its class statement runs (users' own blocks). Looking up one slug
imports only that type's module; a saved block whose package is missing names the
distribution to install, as does any type of an orch package (``orch._catalog``).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING

from orch.errors import BlockTypeNotFoundError, did_you_mean

if TYPE_CHECKING:
    from orch.blocks.base import Block

_lock = threading.Lock()
_by_slug: dict[str, type[Block]] = {}
_entry_points: dict[str, EntryPoint] | None = None


@dataclass(frozen=True)
class TypeOrigin:
    """Where a block type comes from, stored with each document to explain a failed load."""

    module: str
    distribution: str | None


def register(cls: type[Block]) -> None:
    """Register ``cls`` under its slug; a later definition replaces an earlier one."""
    with _lock:
        _by_slug[cls.block_type_slug] = cls


def _scan() -> dict[str, EntryPoint]:
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        _entry_points = {ep.name: ep for ep in entry_points(group="orch.blocks")}
    return _entry_points


def get_block_class(slug: str, origin: TypeOrigin | None = None) -> type[Block]:
    """The class for ``slug``, importing only its module; a clear error if not installed."""
    cls = _by_slug.get(slug)
    if cls is not None:
        return cls
    entry = _scan().get(slug)
    if entry is not None:
        try:
            loaded = entry.load()
        except (ImportError, AttributeError) as exc:
            # A stale install (a module renamed since) names what to reinstall, not a bare
            # ImportError from deep inside importlib.
            dist = entry.dist.name if entry.dist is not None else "the package that declares it"
            raise BlockTypeNotFoundError(
                f"block type {slug!r} is declared by {dist} as {entry.value!r}, which cannot "
                f"be imported ({type(exc).__name__}: {exc}); reinstall {dist}"
            ) from exc
        register(loaded)
        return _by_slug[slug]
    if origin is not None and origin.module:
        module_name = origin.module.partition(":")[0]
        if origin.distribution is None and module_name != "__main__":
            # A user's own block type: importing its module defines (and registers) it.
            with contextlib.suppress(ImportError):
                importlib.import_module(module_name)
            if slug in _by_slug:
                return _by_slug[slug]
    if origin is not None and origin.distribution:
        raise BlockTypeNotFoundError(
            f"block type {slug!r} is not installed: pip install {origin.distribution}"
        )
    from orch._catalog import BLOCK_TYPES

    # A type of an orch package that is not installed here: name it before any import.
    if slug in BLOCK_TYPES:
        raise BlockTypeNotFoundError(
            f"block type {slug!r} is not installed: pip install {BLOCK_TYPES[slug]}"
        )
    # Said for a person at a prompt: the closest known type (and its package), and where
    # to see the list; Python users learn that their own types must be imported first.
    hint = did_you_mean(slug, known_slugs())
    close = hint.removeprefix(" (did you mean ").removesuffix("?)").strip("'")
    if close in BLOCK_TYPES:
        hint = f" (did you mean {close!r}, from the package {BLOCK_TYPES[close]}?)"
    where = f", defined in {origin.module}" if origin is not None and origin.module else ""
    raise BlockTypeNotFoundError(
        f"unknown block type {slug!r}{hint}{where}; `orch block types` lists the installed "
        "types (a type of your own is known once the module that defines it is imported)"
    )


def known_slugs() -> set[str]:
    """Every slug this process knows: defined, installed, or of an orch package."""
    from orch._catalog import BLOCK_TYPES

    return set(_by_slug) | set(_scan()) | set(BLOCK_TYPES)


def origin_of(cls: type[Block]) -> TypeOrigin:
    """The module and (for packaged types) distribution that define ``cls``."""
    module = f"{cls.__module__}:{cls.__qualname__}"
    entry = _scan().get(cls.block_type_slug)
    dist = entry.dist.name if entry is not None and entry.dist is not None else None
    return TypeOrigin(module=module, distribution=dist)


def installed_types() -> list[type[Block]]:
    """Every installed and defined block type, sorted by slug.

    Imports the block modules named in ``orch.blocks`` (they import no SDK by rule),
    nothing else. A declared type whose module cannot be imported is left out with a
    warning, so one broken install does not hide every other type.
    """
    import warnings

    for slug in list(_scan()):
        if slug not in _by_slug:
            try:
                get_block_class(slug)
            except BlockTypeNotFoundError as exc:
                warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
    return [_by_slug[s] for s in sorted(_by_slug)]
