"""An MLflow tracking server 3.x (sqlite backend, artifacts served over HTTP), and an
auth-checking proxy in front of it.

The server comes from pip ``mlflow`` (~600 MB, with Flask, SQLAlchemy, pandas...), which
the workspace does not install: the first session installs it with uv into its own venv
under the clone's ``.cache/`` (about a minute from a cold uv cache, bytecode compiled),
at the version of the ``mlflow-skinny`` client installed here, and later sessions reuse
it. One server per test session, one worker, job execution off (~10 s start),
``--artifacts-destination`` so clients upload and download artifacts over HTTP, never
on the server's disk.

The open-source server's own basic-auth app needs another database and an admin step;
the auth tests instead go through :func:`mlflow_auth_proxy`, a small proxy that answers
401 to a request without the expected bearer token or basic credentials and forwards the
rest to the real server (so what is checked is that the client sends them).
"""

from __future__ import annotations

import base64
import http.client
import importlib.metadata
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
AUTH_TOKEN = "mlflow-Test-Token-7f3a"
AUTH_USER, AUTH_PASSWORD = "mlflow-user", "mlflow-Pass-9c1e"

SERVICE_OF_FIXTURE = {"mlflow_server": "mlflow", "mlflow_auth_proxy": "mlflow"}


@dataclass(frozen=True)
class MlflowServer:
    """A running tracking server: its URL and its process (to check it stays up)."""

    url: str


def _uv() -> str:
    for candidate in (ROOT / ".tools" / "bin" / "uv", Path(sys.executable).parent / "uv"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("uv")
    if not found:
        pytest.fail("uv is not installed: run `bash scripts/test` once (it puts uv in .tools/)")
    return found


def server_venv() -> Path:
    """The venv holding the ``mlflow`` server, installed on first use (then reused)."""
    version = importlib.metadata.version("mlflow-skinny")
    venv = ROOT / ".cache" / f"mlflow-server-{version}"
    done = venv / ".installed"
    if done.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    env = {
        **os.environ,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(ROOT / ".cache" / "uv")),
        "UV_LINK_MODE": "copy",
        # Precompiled, the server starts in ~10 s; otherwise it compiles its ~600 MB of
        # modules on its first start (45-70 s on a busy 2-core machine). Install: ~1 min
        # from a cold uv cache.
        "UV_COMPILE_BYTECODE": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    for step in (
        [_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)],
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            f"mlflow=={version}",
        ],
    ):
        out = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            pytest.fail(
                f"could not install the MLflow server ({' '.join(step)}):\n{out.stderr[-3000:]}",
                pytrace=False,
            )
    done.write_text(version)
    return venv


def _answers(port: int) -> bool:
    if not port_open(port):
        return False
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
        return bool(response.status == 200)


def start_mlflow(base: Path) -> tuple[Service, MlflowServer]:
    venv = server_venv()
    port = free_port()
    base.mkdir(parents=True, exist_ok=True)
    service = Service(
        name="mlflow",
        command=[
            str(venv / "bin" / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{base}/mlflow.db",
            "--artifacts-destination",
            str(base / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        ready=lambda: _answers(port),
        log_path=base / "mlflow.log",
        env={
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "HOME": str(base),
            "MLFLOW_TRACKING_URI": "",
        },
        cwd=base,
        startup_timeout=180.0,
    ).start()
    STARTED.append(service)
    return service, MlflowServer(url=f"http://127.0.0.1:{port}")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """An MLflow tracking server for this session (artifacts served over HTTP)."""
    service, server = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield server
    service.stop()


def _authorized(header: str | None) -> bool:
    basic = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
    return header in (f"Bearer {AUTH_TOKEN}", f"Basic {basic}")


@dataclass
class AuthProxy:
    """The proxy's URL, and how many requests it refused and let through."""

    url: str
    refused: int = 0
    passed: int = 0
    throttle: int = 0  # answer this many next requests with 429 (Retry-After: 1)
    throttled: int = 0


@pytest.fixture(scope="session")
def mlflow_auth_proxy(mlflow_server: MlflowServer) -> Iterator[AuthProxy]:
    """A proxy to the session's server that requires ``AUTH_TOKEN`` (bearer) or
    ``AUTH_USER``/``AUTH_PASSWORD`` (basic) on every request but ``/health``."""
    target = mlflow_server.url.removeprefix("http://")
    proxy = AuthProxy(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.path != "/health" and not _authorized(self.headers.get("Authorization")):
                proxy.refused += 1
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if proxy.throttle > 0:
                proxy.throttle -= 1
                proxy.throttled += 1
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            proxy.passed += 1
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "authorization", "connection", "content-length")
            }
            conn = http.client.HTTPConnection(target, timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    proxy.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield proxy
    httpd.shutdown()
    httpd.server_close()
