"""Fixtures of the orch-kafka tests: connections and fresh topics on the session's Tansu
broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from orch_kafka import KafkaConnection, KafkaTopic

from tests.backends.kafka import CONSUMER_TIMEOUTS, KafkaBroker


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def connection(kafka_broker: KafkaBroker) -> Iterator[KafkaConnection]:
    """A connection to the session's broker, with the fast consumer timeouts."""
    conn = KafkaConnection(bootstrap_servers=kafka_broker.bootstrap, settings=CONSUMER_TIMEOUTS)
    yield conn
    conn.close()


def create_topic(broker: KafkaBroker, partitions: int = 1) -> str:
    """A new topic (made with the raw AdminClient), its name."""
    name = unique("t")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # alive until the answer
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=10)
    return name


@pytest.fixture
def topic_name(kafka_broker: KafkaBroker) -> str:
    return create_topic(kafka_broker, partitions=2)


@pytest.fixture
def topic(connection: KafkaConnection, topic_name: str) -> KafkaTopic:
    """A fresh two-partition topic with JSON values and str keys."""
    return KafkaTopic(connection=connection, topic=topic_name)
