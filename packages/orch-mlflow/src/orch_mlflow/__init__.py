"""orch-mlflow: MLflow experiment tracking tied to flow runs, and the model registry.

Blocks: :class:`MlflowTrackingServer`; :func:`mlflow_run` / :func:`mlflow_child_run`
open runs; tasks from :mod:`orch_mlflow.tasks`; errors from :mod:`orch_mlflow.errors`.
Every name loads with its module on first use: importing this package loads neither
MLflow nor pydantic.

Example:
    from orch_mlflow import MlflowTrackingServer, mlflow_log_metrics, mlflow_run
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_mlflow.connector import MlflowSession as MlflowSession
    from orch_mlflow.connector import MlflowTrackingServer as MlflowTrackingServer
    from orch_mlflow.errors import MlflowAuthError as MlflowAuthError
    from orch_mlflow.errors import MlflowConnectionError as MlflowConnectionError
    from orch_mlflow.errors import MlflowError as MlflowError
    from orch_mlflow.errors import MlflowInputError as MlflowInputError
    from orch_mlflow.errors import MlflowNotFoundError as MlflowNotFoundError
    from orch_mlflow.run import MlflowRun as MlflowRun
    from orch_mlflow.run import mlflow_child_run as mlflow_child_run
    from orch_mlflow.run import mlflow_run as mlflow_run
    from orch_mlflow.tasks import mlflow_load_model as mlflow_load_model
    from orch_mlflow.tasks import mlflow_log_artifact as mlflow_log_artifact
    from orch_mlflow.tasks import mlflow_log_artifacts as mlflow_log_artifacts
    from orch_mlflow.tasks import mlflow_log_metrics as mlflow_log_metrics
    from orch_mlflow.tasks import mlflow_log_model as mlflow_log_model
    from orch_mlflow.tasks import mlflow_log_params as mlflow_log_params
    from orch_mlflow.tasks import mlflow_register_model as mlflow_register_model
    from orch_mlflow.tasks import mlflow_search_runs as mlflow_search_runs
    from orch_mlflow.tasks import mlflow_set_alias as mlflow_set_alias

_BLOCKS = {
    "MlflowSession": "orch_mlflow.connector",
    "MlflowTrackingServer": "orch_mlflow.connector",
}
_ERRORS = (
    "MlflowAuthError",
    "MlflowConnectionError",
    "MlflowError",
    "MlflowInputError",
    "MlflowNotFoundError",
)
_RUNS = ("MlflowRun", "mlflow_child_run", "mlflow_run")
_TASKS = (
    "mlflow_load_model",
    "mlflow_log_artifact",
    "mlflow_log_artifacts",
    "mlflow_log_metrics",
    "mlflow_log_model",
    "mlflow_log_params",
    "mlflow_register_model",
    "mlflow_search_runs",
    "mlflow_set_alias",
)
_EXPORTS = {
    **_BLOCKS,
    **dict.fromkeys(_ERRORS, "orch_mlflow.errors"),
    **dict.fromkeys(_RUNS, "orch_mlflow.run"),
    **dict.fromkeys(_TASKS, "orch_mlflow.tasks"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
