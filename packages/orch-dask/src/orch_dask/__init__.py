"""orch-dask: run orch flows on a Dask cluster.

:class:`DaskTaskRunner` (a temporary cluster or an existing scheduler) and
:func:`get_dask_client`; errors from :mod:`orch_dask.errors`. Every name loads with its
module on first use: importing this package does not import ``distributed``.

Example:
    from orch_dask import DaskTaskRunner, get_dask_client
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_dask.errors import DaskCodeMissingError as DaskCodeMissingError
    from orch_dask.errors import DaskConnectError as DaskConnectError
    from orch_dask.errors import DaskError as DaskError
    from orch_dask.errors import DaskWorkerLostError as DaskWorkerLostError
    from orch_dask.task_runners import DaskTaskRunner as DaskTaskRunner
    from orch_dask.utils import get_dask_client as get_dask_client

_ERRORS = ("DaskCodeMissingError", "DaskConnectError", "DaskError", "DaskWorkerLostError")
_EXPORTS = {
    "DaskTaskRunner": "orch_dask.task_runners",
    "get_dask_client": "orch_dask.utils",
    **dict.fromkeys(_ERRORS, "orch_dask.errors"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
