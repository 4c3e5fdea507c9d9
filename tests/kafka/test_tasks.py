"""The tasks against Tansu: produce (delivery checked), consume (commit after success),
topic admin, and the errors of bad input or a broken cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orch.integration import AuthError, ConnectError, NotFoundError
from orch_kafka import (
    KafkaConnection,
    KafkaDeliveryError,
    KafkaNotFoundError,
    KafkaRecord,
    KafkaRecordTooLargeError,
    KafkaSerializationError,
    KafkaTopic,
    KafkaTopicExistsError,
    kafka_consume,
    kafka_create_topic,
    kafka_delete_topic,
    kafka_list_topics,
    kafka_produce,
)

from tests.backends.kafka import KafkaBroker, start_tansu
from tests.backends.service import Service, free_port
from tests.kafka.conftest import create_topic, unique


def test_produce_many_then_consume_them(topic: KafkaTopic) -> None:
    result = kafka_produce(topic, [{"n": i} for i in range(50)], key="k1", headers={"src": "t"})
    assert result == {"topic": topic.topic, "delivered": 50}
    records = kafka_consume(topic, unique("g"), max_records=50, max_wait=20)
    assert sorted(r["value"]["n"] for r in records) == list(range(50))
    first = records[0]
    assert first["key"] == "k1" and first["headers"] == {"src": b"t"}
    assert first["topic"] == topic.topic and isinstance(first["timestamp"], int)


def test_produce_one_record_and_records_of_their_own(topic: KafkaTopic) -> None:
    assert kafka_produce(topic, {"one": 1})["delivered"] == 1
    kafka_produce(
        topic,
        [
            KafkaRecord([1, 2], key="list", partition=1, headers=[("h", b"v")]),
            KafkaRecord("text", timestamp=1_700_000_000_000),
        ],
    )
    records = kafka_consume(topic, unique("g"), max_records=3, max_wait=20)
    by_key = {r["key"]: r for r in records}
    assert by_key["list"]["value"] == [1, 2] and by_key["list"]["partition"] == 1
    assert by_key["list"]["headers"] == {"h": b"v"}
    assert sorted(str(r["value"]) for r in records) == ["[1, 2]", "text", "{'one': 1}"]
    texts = [r for r in records if r["value"] == "text"]
    assert texts[0]["timestamp"] == 1_700_000_000_000


@pytest.mark.parametrize(("keys", "values"), [("bytes", "bytes"), ("str", "str")])
def test_bytes_and_str_serializers(
    connection: KafkaConnection, topic_name: str, keys: str, values: str
) -> None:
    topic = KafkaTopic(
        connection=connection, topic=topic_name, key_serializer=keys, value_serializer=values
    )
    value: Any = b"\x00\xff" if values == "bytes" else "héllo"
    key: Any = b"k" if keys == "bytes" else "k"
    kafka_produce(topic, [value], key=key)
    [record] = kafka_consume(topic, unique("g"), max_records=1, max_wait=20)
    assert record["value"] == value and record["key"] == key


def test_consume_stops_at_max_records_and_after_max_wait(topic: KafkaTopic) -> None:
    kafka_produce(topic, list(range(30)))
    group = unique("g")
    assert len(kafka_consume(topic, group, max_records=10, max_wait=20)) == 10
    assert len(kafka_consume(topic, group, max_records=100, max_wait=3)) == 20
    started = time.monotonic()
    assert kafka_consume(topic, group, max_records=100, max_wait=1) == []
    assert time.monotonic() - started < 5


def test_offsets_are_committed_only_after_success(topic: KafkaTopic) -> None:
    kafka_produce(topic, list(range(10)))
    group = unique("g")

    def fail(records: list[dict[str, Any]]) -> None:
        raise RuntimeError("downstream broke")

    with pytest.raises(RuntimeError, match="downstream broke"):
        kafka_consume(topic, group, max_records=10, max_wait=20, process=fail)
    # the consumer was closed, not kept with its position past the failed batch
    assert topic.get_client()._consumers == {}
    again = kafka_consume(
        topic, group, max_records=10, max_wait=20, process=lambda rs: [r["value"] for r in rs]
    )
    assert sorted(again) == list(range(10))
    assert kafka_consume(topic, group, max_records=10, max_wait=1) == []
    # committed: a brand-new consumer of the group (another process) starts after them
    topic.connection.close()
    fresh = topic.model_copy(
        update={"connection": topic.connection.model_copy(update={"client_id": "other"})}
    )
    assert kafka_consume(fresh, group, max_records=10, max_wait=2) == []
    fresh.connection.close()


def test_a_record_that_cannot_be_decoded_fails_without_commit(
    connection: KafkaConnection, topic_name: str
) -> None:
    raw = KafkaTopic(connection=connection, topic=topic_name, value_serializer="bytes")
    kafka_produce(raw, [b"{not json"])
    as_json = KafkaTopic(connection=connection, topic=topic_name)
    group = unique("g")
    with pytest.raises(KafkaSerializationError, match=f"cannot be decoded .topic '{topic_name}'"):
        kafka_consume(as_json, group, max_records=1, max_wait=20)
    [record] = kafka_consume(raw, group, max_records=1, max_wait=20)
    assert record["value"] == b"{not json"


def test_a_value_the_serializer_cannot_encode(topic: KafkaTopic) -> None:
    with pytest.raises(KafkaSerializationError) as info:
        kafka_produce(topic, [{"ok": 1}, {"bad": {1, 2}}])
    message = str(info.value)
    assert topic.topic in message and "json serializer cannot encode" in message
    assert "record #2" in message and "1 earlier record(s) of 1 delivered" in message
    str_topic = topic.model_copy(update={"value_serializer": "str"})
    with pytest.raises(KafkaSerializationError, match="expected str, got int"):
        kafka_produce(str_topic, [1])


def test_a_record_over_message_max_bytes(kafka_broker: KafkaBroker, topic_name: str) -> None:
    small = KafkaConnection(
        bootstrap_servers=kafka_broker.bootstrap, settings={"message.max.bytes": 1000}
    )
    topic = KafkaTopic(connection=small, topic=topic_name, value_serializer="bytes")
    with pytest.raises(KafkaRecordTooLargeError, match=topic_name) as info:
        kafka_produce(topic, [b"x" * 10, b"x" * 5000])
    assert "message.max.bytes" in str(info.value) and "record #2" in str(info.value)
    small.close()


def test_produce_to_a_missing_topic_fails_fast(connection: KafkaConnection) -> None:
    missing = KafkaTopic(connection=connection, topic=unique("missing"))
    started = time.monotonic()
    with pytest.raises(KafkaNotFoundError) as info:
        kafka_produce(missing, [1])
    assert time.monotonic() - started < 10
    assert missing.topic in str(info.value) and "kafka_create_topic" in str(info.value)
    assert isinstance(info.value, NotFoundError)
    assert missing.topic not in kafka_list_topics(connection)  # not auto-created


def test_topic_admin(connection: KafkaConnection) -> None:
    name = unique("admin")
    assert kafka_create_topic(connection, name, partitions=3) == name
    assert name in kafka_list_topics(connection)
    with pytest.raises(KafkaTopicExistsError, match=name):
        kafka_create_topic(connection, name)
    assert kafka_create_topic(connection, name, exists_ok=True) == name
    topic = KafkaTopic(connection=connection, topic=name)
    assert kafka_produce(topic, [1, 2, 3])["delivered"] == 3
    assert kafka_delete_topic(topic) == name
    assert name not in kafka_list_topics(connection)
    with pytest.raises(KafkaNotFoundError, match=name):
        kafka_delete_topic(connection, name)
    assert kafka_delete_topic(connection, name, missing_ok=True) == name
    with pytest.raises(ValueError, match="without a topic name"):
        kafka_delete_topic(connection)


def test_broker_down_is_a_clear_error_after_a_bounded_wait() -> None:
    conn = KafkaConnection(bootstrap_servers=f"127.0.0.1:{free_port()}", timeout=2)
    started = time.monotonic()
    with pytest.raises(ConnectError) as info:
        kafka_list_topics(conn)
    assert time.monotonic() - started < 10
    assert "cannot reach the brokers" in str(info.value)
    with pytest.raises(ConnectError, match="'orders'"):
        kafka_produce(KafkaTopic(connection=conn, topic="orders"), [1])
    conn.close()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Service, KafkaBroker]]:
    service, broker = start_tansu(tmp_path, "tansu-own")
    yield service, broker
    service.stop()


def test_unacknowledged_records_fail_the_task_and_say_how_many_were_delivered(
    own_broker: tuple[Service, KafkaBroker],
) -> None:
    service, broker = own_broker
    name = create_topic(broker)
    conn = KafkaConnection(
        bootstrap_servers=broker.bootstrap, settings={"message.timeout.ms": 1500}
    )
    topic = KafkaTopic(connection=conn, topic=name)
    assert kafka_produce(topic, [1, 2])["delivered"] == 2
    service.stop()  # the broker dies: nothing more can be acknowledged
    with pytest.raises(KafkaDeliveryError) as info:
        kafka_produce(topic, list(range(5)))
    assert info.value.delivered == 0 and info.value.failed == 5
    assert "5 of 5 record(s) not acknowledged" in str(info.value)
    assert "0 delivered" in str(info.value) and name in str(info.value)
    # The connection's delivery failures are per batch: the next call counts its own only.
    with pytest.raises(KafkaDeliveryError) as again:
        kafka_produce(topic, list(range(3)))
    assert again.value.delivered == 0 and again.value.failed == 3
    assert "3 of 3 record(s) not acknowledged" in str(again.value)
    conn.close()


def test_authentication_failure_names_no_password(tmp_path: Path) -> None:
    # `--authentication`: the broker requires SASL and knows no user
    service, broker = start_tansu(tmp_path, "tansu-auth", "--authentication")
    conn = KafkaConnection(
        bootstrap_servers=broker.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="etl",
        sasl_password="pw-Hunter2-never-shown",
        timeout=3,
    )
    try:
        with pytest.raises(AuthError) as info:
            kafka_list_topics(conn)
        message = str(info.value)
        assert "authentication failed" in message and "SCRAM" in message
        assert "pw-Hunter2-never-shown" not in message
    finally:
        conn.close()
        service.stop()


def test_close_flushes_and_closes_the_clients(topic: KafkaTopic) -> None:
    clients = topic.get_client()
    kafka_consume(topic, unique("g"), max_records=1, max_wait=1)
    clients.producer().produce(topic.topic, b'"left in the queue"')  # not flushed
    assert clients._consumers and clients._producers
    topic.connection.close()  # the last hold: flushes the producer, closes the consumer
    assert not clients._consumers and not clients._producers
    [record] = kafka_consume(topic, unique("g"), max_records=1, max_wait=10)
    assert record["value"] == "left in the queue"


def test_a_record_for_a_missing_partition_says_how_many_were_delivered(
    topic: KafkaTopic,
) -> None:
    with pytest.raises(KafkaNotFoundError) as info:
        kafka_produce(topic, [1, 2, KafkaRecord(3, partition=7), 4])
    message = str(info.value)
    assert "record #3; 2 earlier record(s) of 2 delivered" in message and topic.topic in message
    values = [r["value"] for r in kafka_consume(topic, unique("g"), max_records=3, max_wait=3)]
    assert sorted(values) == [1, 2]  # the records before it went, none after it
