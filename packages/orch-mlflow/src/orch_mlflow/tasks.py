"""Tasks on an MLflow tracking server: params, metrics, artifacts, models, the registry.

Each task takes the ``MlflowTrackingServer`` block first, then the run id (or model name)
and plain values, and returns plain data. Logging goes through ``MlflowClient.log_batch``
in as few requests as MLflow's limits allow (1,000 metrics or 100 params per request);
no task calls ``search_runs`` behind the user's back. Errors are this package's
(:mod:`orch_mlflow.errors`) and name the block and the run, model or path.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from orch import task

from orch_mlflow.connector import MlflowTrackingServer
from orch_mlflow.errors import MlflowInputError, MlflowNotFoundError, where
from orch_mlflow.run import MlflowRun

__all__ = [
    "mlflow_load_model",
    "mlflow_log_artifact",
    "mlflow_log_artifacts",
    "mlflow_log_metrics",
    "mlflow_log_model",
    "mlflow_log_params",
    "mlflow_register_model",
    "mlflow_search_runs",
    "mlflow_set_alias",
]

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100


def _run_id(run: MlflowRun | str) -> str:
    return run.run_id if isinstance(run, MlflowRun) else str(run)


def _log_batch(client: Any, run_id: str, **items: Any) -> None:
    client.log_batch(run_id, **items)


def _experiment_by_name(client: Any, name: str) -> Any:
    return client.get_experiment_by_name(name)


def _search_page(client: Any, ids: list[str], **options: Any) -> Any:
    return client.search_runs(ids, **options)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@task
def mlflow_log_params(
    server: MlflowTrackingServer, run: MlflowRun | str, params: Mapping[str, Any]
) -> int:
    """Log ``params`` (values turned to text) to a run, 100 per request; returns the count.

    Example:
        mlflow_log_params(server, run.run_id, {"lr": 0.01, "depth": 6})
    """
    from mlflow.entities import Param

    run_id = _run_id(run)
    items = [Param(str(k), str(v)) for k, v in params.items()]
    for chunk in _chunks(items, MAX_PARAMS_PER_BATCH):
        server.call(
            "log params",
            functools.partial(_log_batch, run_id=run_id, params=chunk),
            f"run {run_id}",
        )
    return len(items)


def _number(key: str, value: Any, server: MlflowTrackingServer, run_id: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MlflowInputError(
            f"log metrics: metric {key!r} is {type(value).__name__} {value!r}, not a number "
            f"({where(server, f'run {run_id}')})"
        )
    number = float(value)
    if math.isnan(number) and not isinstance(value, float):
        raise MlflowInputError(f"log metrics: metric {key!r} is not a number")
    return number


@task
def mlflow_log_metrics(
    server: MlflowTrackingServer,
    run: MlflowRun | str,
    metrics: Mapping[str, Any] | Iterable[tuple[str, Any, int]],
    step: int = 0,
    *,
    timestamp_ms: int | None = None,
) -> int:
    """Log many metrics in as few requests as possible (1,000 per request).

    ``metrics`` is ``{key: value}`` (all at ``step``), or ``(key, value, step)`` triples for
    a history. A value that is not a number is refused, naming its key, before anything
    is sent. Returns how many metrics were logged.

    Example:
        mlflow_log_metrics(server, run.run_id, {"loss": 0.12, "auc": 0.91}, step=3)
        mlflow_log_metrics(server, run.run_id, [("loss", l, i) for i, l in enumerate(losses)])
    """
    from mlflow.entities import Metric

    run_id = _run_id(run)
    when = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    triples = (
        [(k, v, step) for k, v in metrics.items()] if isinstance(metrics, Mapping) else metrics
    )
    items = [
        Metric(str(k), _number(str(k), v, server, run_id), when, int(s)) for k, v, s in triples
    ]
    for chunk in _chunks(items, MAX_METRICS_PER_BATCH):
        server.call(
            "log metrics",
            functools.partial(_log_batch, run_id=run_id, metrics=chunk),
            f"run {run_id}",
        )
    return len(items)


def _repo(server: MlflowTrackingServer, run_id: str) -> Any:
    info = server.call("get run", lambda c: c.get_run(run_id), f"run {run_id}").info
    return server.get_client().artifact_repo(info.artifact_uri)


@task
def mlflow_log_artifact(
    server: MlflowTrackingServer,
    run: MlflowRun | str,
    item: str | os.PathLike[str] | Mapping[str, Any] | Any,
    artifact_path: str | None = None,
    *,
    name: str | None = None,
) -> str:
    """Upload one artifact to a run: a file or folder path, a dict (saved as JSON under
    ``name``, default ``data.json``) or a matplotlib-like figure (``savefig``; saved as
    ``name``, default ``figure.png``). Returns the artifact's path in the run.

    Example:
        mlflow_log_artifact(server, run.run_id, "report.html")
        mlflow_log_artifact(server, run.run_id, {"features": cols}, name="features.json")
    """
    run_id = _run_id(run)
    with tempfile.TemporaryDirectory(prefix="orch-mlflow-") as tmp:
        if isinstance(item, Mapping):
            local = Path(tmp, name or "data.json")
            local.write_text(json.dumps(item, indent=2, default=str))
        elif hasattr(item, "savefig"):
            local = Path(tmp, name or "figure.png")
            item.savefig(local)
        else:
            local = Path(os.fspath(item))
            if not local.exists():
                raise MlflowInputError(
                    f"log artifact: {str(local)!r} does not exist "
                    f"({where(server, f'run {run_id}')})"
                )
        repo = _repo(server, run_id)
        detail = f"run {run_id}, artifact {local.name}"
        if local.is_dir():
            server.call(
                "log artifact", lambda _c: repo.log_artifacts(str(local), artifact_path), detail
            )
        else:
            server.call(
                "log artifact", lambda _c: repo.log_artifact(str(local), artifact_path), detail
            )
    return f"{artifact_path}/{local.name}" if artifact_path else local.name


@task
def mlflow_log_artifacts(
    server: MlflowTrackingServer,
    run: MlflowRun | str,
    folder: str | os.PathLike[str],
    artifact_path: str | None = None,
) -> int:
    """Upload every file under ``folder`` to a run (under ``artifact_path``); returns the
    number of files.

    Example:
        mlflow_log_artifacts(server, run.run_id, "out/plots", "plots")
    """
    run_id = _run_id(run)
    local = Path(os.fspath(folder))
    if not local.is_dir():
        raise MlflowInputError(
            f"log artifacts: {str(local)!r} is not a folder ({where(server, f'run {run_id}')})"
        )
    repo = _repo(server, run_id)
    server.call(
        "log artifacts",
        lambda _c: repo.log_artifacts(str(local), artifact_path),
        f"run {run_id}, folder {local.name}",
    )
    return sum(1 for p in local.rglob("*") if p.is_file())


def _flavor(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"mlflow.{name}")
    except ImportError as exc:
        raise MlflowInputError(
            f"no MLflow flavor {name!r} here (mlflow.{name}: {exc}); install what it needs"
        ) from exc


@task
def mlflow_log_model(
    server: MlflowTrackingServer,
    run: MlflowRun | str,
    model: Any,
    name: str = "model",
    *,
    flavor: str = "pyfunc",
    **flavor_options: Any,
) -> str:
    """Log a model with a flavor (``pyfunc``: a ``PythonModel``; ``sklearn``, ...) as an
    MLflow 3 logged model of the run; returns its model id (``m-...``), which
    :func:`mlflow_register_model` takes.

    The flavor saves the model to a temporary folder; the files are uploaded with the
    block's credentials. ``flavor_options`` go to the flavor's ``save_model``.

    Example:
        model_id = mlflow_log_model(server, run.run_id, MyPythonModel(), "churn")
    """
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    run_id = _run_id(run)
    module = _flavor(flavor)
    detail = f"run {run_id}, model {name!r}"
    info = server.call("get run", lambda c: c.get_run(run_id), f"run {run_id}").info
    logged = server.call(
        "log model",
        lambda c: c.create_logged_model(
            info.experiment_id, name=name, source_run_id=run_id, tags={"orch.flavor": flavor}
        ),
        detail,
    )
    server.call(
        "log model",
        lambda c: c.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)]),
        detail,
    )
    meta = Model(
        artifact_path=logged.artifact_location,
        run_id=run_id,
        model_uuid=logged.model_id,
        model_id=logged.model_id,
    )
    with tempfile.TemporaryDirectory(prefix="orch-mlflow-model-") as tmp:
        local = os.path.join(tmp, "model")
        if flavor == "pyfunc":
            module.save_model(path=local, mlflow_model=meta, python_model=model, **flavor_options)
        else:  # every other flavor takes the model first: save_model(sk_model, path, ...)
            module.save_model(model, path=local, mlflow_model=meta, **flavor_options)
        repo = server.get_client().artifact_repo(logged.artifact_location)
        server.call("log model", lambda _c: repo.log_artifacts(local), detail)
    server.call(
        "log model",
        lambda c: c.finalize_logged_model(logged.model_id, LoggedModelStatus.READY),
        detail,
    )
    return str(logged.model_id)


@task
def mlflow_register_model(
    server: MlflowTrackingServer, model_id: str, name: str, *, tags: Mapping[str, Any] | None = None
) -> int:
    """Register a logged model (its id from :func:`mlflow_log_model`) as a new version of
    the registered model ``name`` (created when missing); returns the version number.

    Example:
        version = mlflow_register_model(server, model_id, "churn")
    """
    from mlflow.exceptions import MlflowException

    detail = f"registered model {name!r}"
    logged = server.call(
        "register model", lambda c: c.get_logged_model(model_id), f"model {model_id}"
    )

    def ensure(c: Any) -> None:
        try:
            c.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    server.call("register model", ensure, detail)
    version = server.call(
        "register model",
        lambda c: c.create_model_version(
            name,
            source=logged.artifact_location,
            run_id=logged.source_run_id,
            tags={k: str(v) for k, v in (tags or {}).items()} or None,
            model_id=model_id,
        ),
        detail,
    )
    return int(version.version)


@task
def mlflow_set_alias(server: MlflowTrackingServer, name: str, alias: str, version: int) -> None:
    """Point ``alias`` (``champion``, ``staging``...) of registered model ``name`` at
    ``version``: promotion by alias (MLflow's stages are retired).

    Example:
        mlflow_set_alias(server, "churn", "champion", 3)
    """
    server.call(
        "set alias",
        lambda c: c.set_registered_model_alias(name, alias, str(version)),
        f"registered model {name!r} version {version}, alias {alias!r}",
    )


def _model_source(
    server: MlflowTrackingServer, name: str, alias: str | None, version: int | None
) -> Any:
    if (alias is None) == (version is None):
        raise MlflowInputError("load model: give exactly one of alias or version")
    if alias is not None:
        return server.call(
            "load model",
            lambda c: c.get_model_version_by_alias(name, alias),
            f"registered model {name!r}, alias {alias!r}",
        )
    return server.call(
        "load model",
        lambda c: c.get_model_version(name, str(version)),
        f"registered model {name!r} version {version}",
    )


@task
def mlflow_load_model(
    server: MlflowTrackingServer,
    name: str,
    *,
    alias: str | None = None,
    version: int | None = None,
    flavor: str = "pyfunc",
) -> Any:
    """Load version ``version`` or the one ``alias`` points at of registered model ``name``
    (downloaded with the block's credentials), with ``flavor``'s ``load_model``.

    Example:
        model = mlflow_load_model(server, "churn", alias="champion")
        model.predict(frame)
    """
    found = _model_source(server, name, alias, version)
    module = _flavor(flavor)
    repo = server.get_client().artifact_repo(found.source)
    tmp = tempfile.mkdtemp(prefix="orch-mlflow-load-")
    label = f"registered model {name!r} version {found.version}"
    local = server.call("load model", lambda _c: repo.download_artifacts("", dst_path=tmp), label)
    return module.load_model(local)


@task
def mlflow_search_runs(
    server: MlflowTrackingServer,
    filter_string: str = "",
    *,
    order_by: list[str] | None = None,
    max_results: int = 1000,
    experiment_names: list[str] | None = None,
    as_frame: bool = False,
) -> Any:
    """Runs of the block's experiment (or ``experiment_names``) matching ``filter_string``
    (MLflow's syntax: ``metrics.auc > 0.8 and tags.team = 'ml'``), as a list of dicts
    (``run_id``, ``run_name``, ``status``, ``start_time``, ``params``, ``metrics``,
    ``tags``), or a pandas DataFrame with ``as_frame`` (extra ``orch-mlflow[pandas]``).
    One ``search_runs`` request per 1,000 runs.

    Example:
        best = mlflow_search_runs(server, "metrics.auc > 0.8", order_by=["metrics.auc DESC"])
    """
    names = experiment_names or [server.experiment_name]
    ids = []
    for exp_name in names:
        if exp_name == server.experiment_name:
            ids.append(server.experiment_id())
            continue
        found = server.call(
            "search runs",
            functools.partial(_experiment_by_name, name=exp_name),
            f"experiment {exp_name!r}",
        )
        if found is None:
            raise MlflowNotFoundError(
                f"search runs: no experiment named {exp_name!r} ({where(server)})"
            )
        ids.append(found.experiment_id)
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while len(rows) < max_results:
        page = server.call(
            "search runs",
            functools.partial(
                _search_page,
                ids=ids,
                filter_string=filter_string,
                max_results=min(1000, max_results - len(rows)),
                order_by=order_by,
                page_token=token,
            ),
            f"filter {filter_string!r}" if filter_string else None,
        )
        rows.extend(_as_dict(r) for r in page)
        token = page.token
        if not token:
            break
    if not as_frame:
        return rows
    import pandas as pd

    return pd.json_normalize(rows)


def _as_dict(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment_id": run.info.experiment_id,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
        | {k: v for k, v in run.data.tags.items() if k == "mlflow.parentRunId"},
    }
