"""Optional dependencies: a clear error naming the extra to install when one is missing."""

from __future__ import annotations

import importlib
from typing import Any

from orch.integration import MissingDependencyError

__all__ = ["need"]


def need(module: str, extra: str) -> Any:
    """``module``, imported; or an error saying ``pip install 'orch-gcp[EXTRA]'``.

    Example:
        bigquery = need("google.cloud.bigquery", "bigquery")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is not installed: pip install 'orch-gcp[{extra}]'"
        ) from exc
