"""Prefect's ``prefect.logging`` names: ``get_run_logger``, ``get_logger``,
``disable_run_logger``.

Example:
    >>> from orch.logging import get_logger
    >>> get_logger("etl").name
    'orch.etl'
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from orch.engine.run_logging import RUN_LOGGER_NAME, get_run_logger

__all__ = ["disable_run_logger", "get_logger", "get_run_logger"]


def get_logger(name: str | None = None) -> logging.Logger:
    """A logger under ``orch`` (``orch.<name>``), for code outside a flow or task run.

    Example:
        >>> get_logger().name
        'orch'
    """
    return logging.getLogger("orch" if not name else f"orch.{name}")


@contextmanager
def disable_run_logger() -> Iterator[None]:
    """Silence run logging; ``get_run_logger()`` outside a run returns a silent logger.

    For unit tests that call ``my_task.fn(...)`` on code that calls ``get_run_logger()``.

    Example:
        >>> with disable_run_logger():
        ...     get_run_logger().info("not shown")
    """
    logger = logging.getLogger(RUN_LOGGER_NAME)
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was
