"""Artifact repositories that send the block's credentials (MLflow's own read them from
``os.environ``). Imported with MLflow, on first use of an artifact."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from mlflow.entities import FileInfo
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository
from mlflow.utils import rest_utils

from orch_mlflow.connector import host_creds

if TYPE_CHECKING:
    from orch_mlflow.connector import MlflowTrackingServer

_ROOT = "/api/2.0/mlflow-artifacts/artifacts"


class _BlockArtifactsRepository(MlflowArtifactsRepository):
    """``mlflow-artifacts:`` served by the tracking server, with the block's credentials."""

    def __init__(self, server: MlflowTrackingServer, artifact_uri: str) -> None:
        self._orch_server = server
        super().__init__(artifact_uri, tracking_uri=server.tracking_uri)

    @property
    def _host_creds(self) -> Any:
        return host_creds(self._orch_server, self.artifact_uri)

    @property
    def _artifact_server_host_creds(self) -> Any:
        uri, _, _ = self.artifact_uri.partition(_ROOT)
        return host_creds(self._orch_server, uri.rstrip("/"))

    def list_artifacts(self, path: str | None = None) -> list[Any]:
        endpoint = "/mlflow-artifacts/artifacts"
        url, tail = self.artifact_uri.split(endpoint, maxsplit=1)
        root = tail.lstrip("/")
        params = {"path": posixpath.join(root, path) if path else root}
        creds = host_creds(self._orch_server, url)
        resp = rest_utils.http_request(creds, endpoint, "GET", params=params)  # type: ignore[no-untyped-call]
        rest_utils.augmented_raise_for_status(resp)  # type: ignore[attr-defined,no-untyped-call]
        infos = [
            FileInfo(
                posixpath.join(path, f["path"]) if path else f["path"],
                f["is_dir"],
                int(f["file_size"]) if "file_size" in f else None,
            )
            for f in resp.json().get("files", [])
            if ".." not in f["path"].split("/")
        ]
        if (
            len(infos) == 1
            and not infos[0].is_dir
            and path is not None
            and infos[0].path == posixpath.join(path, posixpath.basename(path))
        ):
            return []
        return sorted(infos, key=lambda f: f.path)


def artifact_repository(server: MlflowTrackingServer, artifact_uri: str) -> Any:
    """The repository for ``artifact_uri``: the block's credentials for the server's own
    artifacts; MLflow's repository (its cloud SDK's credentials) for any other store."""
    if artifact_uri.startswith("mlflow-artifacts:"):
        return _BlockArtifactsRepository(server, artifact_uri)
    return get_artifact_repository(artifact_uri, tracking_uri=server.tracking_uri)
