"""Deployments: flows that run themselves on a schedule, served by ``orch serve`` or
``flow.serve`` with the block store as the only coordinator (no server to start).

Layer: below ``orch.flows``; imports ``orch.history``, ``orch.schedules`` and ``orch.store``.

Example:
    >>> from orch.deployments import Deployment
    >>> from orch.schedules import Cron
    >>> Deployment("nightly", schedule=Cron("0 2 * * *")).catch_up
    0
"""

from __future__ import annotations

from orch.lazy import lazy_exports

TYPE_CHECKING = False

_EXPORTS = {
    "Deployment": "orch.deployments.model",
    "DeploymentError": "orch.deployments.model",
    "deployment_for": "orch.deployments.model",
    "Server": "orch.deployments.server",
    "serve": "orch.deployments.server",
}

if TYPE_CHECKING:
    from orch.deployments.model import Deployment as Deployment
    from orch.deployments.model import DeploymentError as DeploymentError
    from orch.deployments.model import deployment_for as deployment_for
    from orch.deployments.server import Server as Server
    from orch.deployments.server import serve as serve

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
