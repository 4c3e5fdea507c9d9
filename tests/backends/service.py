"""The one generic mechanism behind every real-service fixture.

A :class:`Service` is a command to start, a readiness probe and a log file. It picks a
free loopback port, starts the process, waits until the probe answers, and stops what it
started. If the service can't start, the test fails loudly with the service's log: a test
that needs a service is never silently skipped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the test runner dies.

    A pytest killed outright (a CI time-out, kill -9) never runs its fixtures' teardown;
    without this its services would outlive it and hold their ports.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def require_executable(name: str, hint: str) -> str:
    """The path of ``name`` on PATH, or a loud failure saying how to get it."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name!r} is not installed: {hint}", pytrace=False)
    return path


@dataclass
class Service:
    """A local service process started for a test session."""

    name: str
    command: Sequence[str]
    ready: Callable[[], bool]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    startup_timeout: float = 60.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(self.command),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(self.env or {})},
            cwd=self.cwd,
            start_new_session=True,  # so stop() can end the whole process group
            preexec_fn=_die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"exited with code {self.process.returncode} before it was ready")
            with contextlib.suppress(Exception):
                if self.ready():
                    return self
            time.sleep(0.1)
        self.stop()
        self._fail(f"was not ready after {self.startup_timeout:.0f} s")
        raise AssertionError("unreachable")

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """End the service's whole process group (SIGTERM, then SIGKILL after 10 s)."""
        if self in STARTED:
            STARTED.remove(self)  # its log no longer belongs to the tests that follow
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def _fail(self, why: str) -> None:
        pytest.fail(
            f"{self.name} {why}: {' '.join(self.command)}\n--- {self.log_path} ---\n"
            f"{self.log_tail()}",
            pytrace=False,
        )


# Services started in this session, so a failing test can print their logs.
STARTED: list[Service] = []
