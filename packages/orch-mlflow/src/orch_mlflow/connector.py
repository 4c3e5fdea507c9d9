"""``MlflowTrackingServer``: where MLflow runs, models and artifacts go, and how to log in.

The block is a :class:`~orch.integration.Connector`: its client is an
:class:`MlflowSession` (one ``mlflow.MlflowClient`` wired to the block's own credentials),
made on first use, shared by equal blocks in a process, made anew in a forked child.
The token or password goes straight from the block into the requests MLflow sends: it is
never copied into ``os.environ`` (MLflow's own way), so two blocks with different
credentials work side by side in one process. MLflow loads on first use, never when this
module is imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar

from orch import SecretStr
from orch.integration import Connector, remember_secret
from pydantic import Field, field_validator, model_validator

from orch_mlflow.errors import (
    MlflowConnectionError,
    MlflowNotFoundError,
    mlflow_error,
    mlflow_errors,
    where,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["MlflowSession", "MlflowTrackingServer"]

T = TypeVar("T")


class MlflowTrackingServer(Connector["MlflowSession"]):
    """An MLflow tracking server (and model registry): its address, login and defaults.

    Log in with a ``token`` (sent as a bearer token) or ``username`` and ``password``
    (basic auth), or neither for an open server; secrets may be ``SecretRef``s. Runs go to
    ``experiment_name`` (created on first use unless ``create_experiment`` is False) and
    get ``default_tags``. The first use waits up to ``connect_timeout`` seconds for the
    server to answer, then fails with a clear error.

    Example:
        from orch import SecretRef
        from orch_mlflow import MlflowTrackingServer

        MlflowTrackingServer(
            tracking_uri="https://mlflow.internal",
            token=SecretRef("env://MLFLOW_TOKEN"),
            experiment_name="churn",
            default_tags={"team": "ml"},
        ).save("mlflow-prod")
        server = MlflowTrackingServer.load("mlflow-prod")
    """

    block_type_slug = "mlflow-tracking-server"

    tracking_uri: str = Field(
        description="The tracking server's URL, e.g. https://mlflow.internal."
    )
    registry_uri: str | None = Field(
        default=None, description="The model registry's URL, when not the tracking server."
    )
    token: SecretStr | None = Field(default=None, description="A bearer token to log in with.")
    username: str | None = Field(default=None, description="User name for basic auth.")
    password: SecretStr | None = Field(default=None, description="Password for basic auth.")
    experiment_name: str = Field(
        default="Default", min_length=1, description="The experiment runs are logged to."
    )
    create_experiment: bool = Field(
        default=True, description="Create the experiment on first use when it does not exist."
    )
    default_tags: dict[str, str] = Field(
        default_factory=dict, description="Tags every run opened through this block gets."
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds the first use waits for the server to answer."
    )
    verify: bool = Field(default=True, description="Check the server's TLS certificate.")

    @field_validator("tracking_uri", "registry_uri")
    @classmethod
    def _http_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"must be an http:// or https:// URL of an MLflow server, not {value!r}"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        if self.token is not None and (self.username or self.password):
            raise ValueError("give either token or username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        return self

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            tracking_uri="https://mlflow.example.com",
            token="sample-token",  # noqa: S106 - a placeholder
            experiment_name="sample",
        )

    def _new_client(self) -> MlflowSession:
        return MlflowSession.build(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()

    def call(self, action: str, fn: Callable[[MlflowClient], T], detail: str | None = None) -> T:
        """``fn(mlflow_client)``, MLflow's errors mapped onto this package's (naming
        ``detail``, the object acted on).

        Example:
            server.call("get run", lambda c: c.get_run(run_id), f"run {run_id}")
        """
        try:
            return fn(self.get_client().client)
        except mlflow_errors() as exc:
            raise mlflow_error(exc, action=action, server=self, detail=detail) from exc

    def experiment_id(self) -> str:
        """The id of ``experiment_name`` (created when missing, unless told not to).

        Example:
            server.experiment_id()
        """
        return self.get_client().experiment_id()


class MlflowSession:
    """What ``MlflowTrackingServer.get_client()`` holds: ``client`` (an ``MlflowClient``
    whose requests carry the block's credentials), the block's experiment id once looked
    up, and artifact repositories with the same credentials.

    Example:
        session = MlflowTrackingServer.load("mlflow-prod").get_client()
        session.client.get_run(run_id)
    """

    def __init__(self, server: MlflowTrackingServer, client: MlflowClient) -> None:
        self.server = server
        self.client = client
        self._experiment_id: str | None = None

    @classmethod
    def build(cls, server: MlflowTrackingServer) -> MlflowSession:
        """A session on ``server``, after it answered its health check."""
        from mlflow import MlflowClient
        from mlflow.store.model_registry.rest_store import RestStore as RegistryRestStore
        from mlflow.store.tracking.rest_store import RestStore
        from mlflow.tracking._model_registry.client import ModelRegistryClient
        from mlflow.tracking._tracking_service.client import TrackingServiceClient

        for secret in (server.token, server.password):
            if secret is not None:
                remember_secret(secret.get_secret_value())  # never shown in a message or log
        _wait_until_up(server)
        tracking_uri = server.tracking_uri
        registry_uri = server.registry_uri or tracking_uri

        class _Tracking(TrackingServiceClient):
            def __init__(self) -> None:
                self.tracking_uri = tracking_uri
                self._orch_store = RestStore(lambda: host_creds(server, tracking_uri))  # type: ignore[no-untyped-call]

            @property
            def store(self) -> Any:
                return self._orch_store

            def _log_url(self, run_id: str) -> None:
                """MLflow prints the run's URL to stdout; the run log has it instead."""

        class _Registry(ModelRegistryClient):
            def __init__(self) -> None:
                self.registry_uri = registry_uri
                self.tracking_uri = tracking_uri
                self._orch_store = RegistryRestStore(  # type: ignore[no-untyped-call]
                    lambda: host_creds(server, registry_uri)
                )

            @property
            def store(self) -> Any:
                return self._orch_store

        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
        client._tracking_client = _Tracking()
        client._registry_client_lazy = _Registry()  # type: ignore[attr-defined]
        return cls(server, client)

    def experiment_id(self) -> str:
        """The id of the block's experiment (looked up once per session)."""
        if self._experiment_id is None:
            name = self.server.experiment_name
            detail = f"experiment {name!r}"
            experiment = self.server.call(
                "find experiment", lambda c: c.get_experiment_by_name(name), detail
            )
            if experiment is not None:
                self._experiment_id = str(experiment.experiment_id)
            elif self.server.create_experiment:
                self._experiment_id = str(
                    self.server.call(
                        "create experiment", lambda c: c.create_experiment(name), detail
                    )
                )
            else:
                raise MlflowNotFoundError(
                    f"no experiment named {name!r} on {where(self.server)} "
                    "(create it, or set create_experiment=True)"
                )
        return self._experiment_id

    def artifact_repo(self, artifact_uri: str) -> Any:
        """An artifact repository for ``artifact_uri`` sending the block's credentials."""
        from orch_mlflow._artifacts import artifact_repository

        return artifact_repository(self.server, artifact_uri)

    def close(self) -> None:
        """Nothing to release: MLflow shares its HTTP sessions across clients."""


def host_creds(server: MlflowTrackingServer, uri: str) -> Any:
    """MLflow's ``MlflowHostCreds`` for ``uri``, from the block (never the environment)."""
    from mlflow.utils.rest_utils import MlflowHostCreds

    return MlflowHostCreds(  # type: ignore[no-untyped-call]
        host=uri,
        username=server.username,
        password=server.password.get_secret_value() if server.password is not None else None,
        token=server.token.get_secret_value() if server.token is not None else None,
        ignore_tls_verification=not server.verify,
    )


def _wait_until_up(server: MlflowTrackingServer) -> None:
    """Poll ``/health`` until it answers, at most ``connect_timeout`` seconds."""
    import requests

    url = f"{server.tracking_uri}/health"
    deadline = time.monotonic() + server.connect_timeout
    delay = 0.1
    while True:
        left = deadline - time.monotonic()
        try:
            response = requests.get(url, timeout=max(0.5, min(left, 5.0)), verify=server.verify)
            if response.status_code < 500 and response.status_code != 429:
                return
        except requests.RequestException:
            pass
        if time.monotonic() + delay > deadline:
            raise MlflowConnectionError(
                f"the tracking server did not answer within {server.connect_timeout:g} s "
                f"({where(server)}); is it running at that address?"
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
