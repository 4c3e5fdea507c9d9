"""Tasks on Kafka: produce, consume a batch (commit after success), and topic admin.

Each task takes a block first (``KafkaTopic``, or ``KafkaConnection`` for the admin
tasks), then plain values, and returns plain data. They use the connection's cached
clients (``get_client()``) and raise this package's errors (:mod:`orch_kafka.errors`),
which name the topic and the connection block.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orch import task

from orch_kafka.connector import KafkaClients, KafkaTopic
from orch_kafka.credentials import KafkaConnection
from orch_kafka.errors import (
    KafkaDeliveryError,
    KafkaNotFoundError,
    KafkaSerializationError,
    KafkaTopicExistsError,
    error_text,
    where,
)

__all__ = [
    "KafkaRecord",
    "kafka_consume",
    "kafka_create_topic",
    "kafka_delete_topic",
    "kafka_list_topics",
    "kafka_produce",
]

Headers = Mapping[str, str | bytes] | Sequence[tuple[str, str | bytes]]


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """One record to produce, when it needs its own key, headers or partition.

    Example:
        kafka_produce(orders, [KafkaRecord({"id": 1}, key="customer-7")])
    """

    value: Any
    key: Any = None
    headers: Headers | None = None
    partition: int | None = None
    timestamp: int | None = None  # milliseconds since the epoch; default: now


def _headers(headers: Headers | None) -> list[tuple[str, str | bytes]] | None:
    if headers is None:
        return None
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _delivery_timeout(connection: KafkaConnection) -> float:
    settings = connection.settings
    ms = settings.get("delivery.timeout.ms", settings.get("message.timeout.ms", 300_000))
    return float(ms) / 1000 + 5.0


def ensure_topic(clients: KafkaClients, producer: Any, topic: str, action: str) -> None:
    """Fail fast (not after the delivery timeout) when ``topic`` does not exist."""
    if topic in clients.known_topics:
        return
    connection = clients.connection
    try:
        metadata = producer.list_topics(topic, timeout=connection.timeout)
    except Exception as exc:
        if type(exc).__name__ != "KafkaException":
            raise
        raise clients.check(exc, action, topic) from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        if found is not None and found.error.name() not in ("UNKNOWN_TOPIC_OR_PART",):
            raise clients.check(_exception(found.error), action, topic)
        raise KafkaNotFoundError(
            f"{action}: {where(connection, topic)} does not exist (and the producer does not "
            "create topics: create it with kafka_create_topic, or set "
            "allow.auto.create.topics in the connection's settings)",
            "UNKNOWN_TOPIC_OR_PART",
        )
    clients.known_topics.add(topic)


def _exception(err: Any) -> Exception:
    from confluent_kafka import KafkaException

    return KafkaException(err)


@task
def kafka_produce(
    topic: KafkaTopic,
    records: Any,
    *,
    key: Any = None,
    headers: Headers | None = None,
    partition: int | None = None,
    idempotent: bool = True,
) -> dict[str, Any]:
    """Send one record or many to ``topic`` and wait until the brokers acknowledge each.

    ``records`` is one value or a list (any iterable) of values, encoded with the topic's
    value serializer; a :class:`KafkaRecord` carries its own key, headers, partition or
    timestamp (wrap a list in one to send it as a single JSON value). ``key``,
    ``headers`` and ``partition`` apply to the plain values. The producer is idempotent
    by default (acks=all, no duplicates from its retries). Every delivery report is
    checked: if any record is not acknowledged, the task fails with a
    ``KafkaDeliveryError`` saying how many were delivered. Returns
    ``{"topic": ..., "delivered": n}``.

    Example:
        kafka_produce(KafkaTopic.load("orders"), [{"id": 1}, {"id": 2}], key="batch-7")
    """
    from confluent_kafka import KafkaException

    clients = topic.get_client()
    producer = clients.producer(idempotent)
    name = topic.topic
    ensure_topic(clients, producer, name, "kafka_produce")
    if isinstance(records, str | bytes | bytearray | dict | KafkaRecord) or not isinstance(
        records, Iterable
    ):
        records = (records,)
    encode = topic.encode
    plain_value = topic.value_serializer == "bytes"
    default_key = encode("key", key)
    default_headers = _headers(headers)
    default_partition = -1 if partition is None else partition
    failures = clients.delivery_failures(name)
    before = len(failures)
    produce = producer.produce
    # Nothing but what differs from the defaults: every keyword costs the C call.
    plain: dict[str, Any] = {}
    if default_partition != -1:
        plain["partition"] = default_partition
    if default_headers is not None:
        plain["headers"] = default_headers
    sent = 0
    try:
        for record in records:
            if type(record) is KafkaRecord:
                value = encode("value", record.value)
                record_key = encode("key", record.key) if record.key is not None else default_key
                kwargs: dict[str, Any] = {
                    "partition": default_partition
                    if record.partition is None
                    else record.partition,
                    "headers": _headers(record.headers)
                    if record.headers is not None
                    else default_headers,
                }
                if record.timestamp is not None:
                    kwargs["timestamp"] = record.timestamp
            else:
                value = record if plain_value and type(record) is bytes else encode("value", record)
                record_key, kwargs = default_key, plain
            try:
                produce(name, value, record_key, **kwargs)
            except BufferError:  # the local queue is full: let deliveries drain it
                while True:
                    producer.poll(0.05)
                    try:
                        produce(name, value, record_key, **kwargs)
                        break
                    except BufferError:
                        continue
            sent += 1
    except (KafkaException, KafkaSerializationError) as exc:
        delivered = _finish(clients, producer, sent, failures, before)
        sofar = f"{delivered} earlier record(s) of {sent} delivered"
        if isinstance(exc, KafkaSerializationError):
            raise KafkaSerializationError(f"{exc} (record #{sent + 1}; {sofar})") from exc
        error = clients.check(exc, "kafka_produce", name)
        raise type(error)(f"{error} (record #{sent + 1}; {sofar})", error.code) from exc
    left = producer.flush(_delivery_timeout(topic.connection))
    # A concurrent batch to the same topic on this connection may add its failures here
    # too: counted as ours, the task fails rather than report an undelivered record.
    failed = failures[before:]
    not_failed = max(sent - len(failed), 0)
    delivered = not_failed - min(left, not_failed)
    if failed or delivered < sent:
        reasons = sorted({error_text(err) for err in failed})
        raise KafkaDeliveryError(
            f"kafka_produce: {sent - delivered} of {sent} record(s) not acknowledged by the "
            f"brokers, {delivered} delivered ({where(topic.connection, name)})"
            + (
                f": {'; '.join(reasons[:3])}"
                if reasons
                else ": still queued after the delivery timeout"
            ),
            failed[0].name() if failed else "_MSG_TIMED_OUT",
            delivered=delivered,
            failed=sent - delivered,
        )
    return {"topic": name, "delivered": delivered}


def _finish(
    clients: KafkaClients, producer: Any, sent: int, failures: list[Any], before: int
) -> int:
    left = producer.flush(_delivery_timeout(clients.connection))
    return max(sent - len(failures[before:]) - int(left), 0)


@task
def kafka_consume(
    topic: KafkaTopic,
    group_id: str,
    *,
    max_records: int = 500,
    max_wait: float = 5.0,
    process: Callable[[list[dict[str, Any]]], Any] | None = None,
    from_beginning: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> Any:
    """A batch of up to ``max_records`` records of ``topic``, or what came in ``max_wait`` s.

    The consumer of ``group_id`` is cached on the connection (no group join per call);
    ``max_wait`` counts from when it has its partitions (a first join is not counted).
    Its offsets are committed only after the task succeeds: after ``process(records)``
    returns when given (the task then returns what ``process`` returns), else when the
    records are returned. If anything fails (decoding, ``process``, the commit), nothing
    is committed, the consumer is closed, and the next call (a retry) reads the same
    records again: at-least-once. Each record is a dict: ``topic``, ``partition``,
    ``offset``, ``key``, ``value`` (decoded with the topic's serializers), ``headers``
    (a dict or ``None``), ``timestamp`` (ms). A new group starts at the earliest offset
    (``from_beginning=False``: at the end). ``settings`` are more consumer settings.

    Example:
        records = kafka_consume(KafkaTopic.load("orders"), "billing", max_records=1000)
    """
    if max_records < 1:
        raise ValueError(f"kafka_consume: max_records must be at least 1, not {max_records}")
    clients = topic.get_client()
    conf = {"auto.offset.reset": "earliest" if from_beginning else "latest", **(settings or {})}
    consumer, lock = clients.consumer(group_id, (topic.topic,), conf)
    with lock:
        try:
            records: list[dict[str, Any]] = []
            ends: dict[tuple[str, int], int] = {}

            def sink(chunk: list[Any]) -> None:
                # decoded as it comes: librdkafka's messages are let go chunk by chunk
                records.extend(decode(topic, chunk))
                ends.update(next_offsets(chunk))

            poll_batch(clients, consumer, topic.topic, max_records, max_wait, sink=sink)
            result = records if process is None else process(records)
            commit(clients, consumer, ends, topic.topic)
        except BaseException:
            clients.drop_consumer(consumer)  # the next call re-reads from the last commit
            raise
    return result


def poll_batch(
    clients: KafkaClients,
    consumer: Any,
    name: str,
    max_records: int,
    max_wait: float,
    stop: Callable[[], bool] | None = None,
    sink: Callable[[list[Any]], None] | None = None,
) -> list[Any]:
    """Up to ``max_records`` messages, polling for at most ``max_wait`` seconds (less when
    ``stop()`` turns true). With ``sink``, each polled chunk goes to it instead (so it can
    be decoded and let go at once) and the list returned is empty."""
    batch: list[Any] = []
    count = 0
    consume = consumer.consume

    def take(timeout: float) -> None:
        nonlocal count
        got = consume(min(max_records - count, 100_000), timeout)
        good = [msg for msg in got if msg.error() is None]
        if len(good) < len(got):
            for msg in got:
                err = msg.error()
                if err is not None and err.name() != "_PARTITION_EOF":
                    raise clients.check(_exception(err), "kafka_consume", name)
        count += len(good)
        if sink is None:
            batch.extend(good)
        elif good:
            sink(good)

    # Joining the group is not part of max_wait: the wait starts once partitions are
    # assigned (or after the connection's timeout, for a group with nothing to assign).
    join_deadline = time.monotonic() + clients.connection.timeout
    while not consumer.assignment() and time.monotonic() < join_deadline:
        if stop is not None and stop():
            return batch
        take(0.1)
        if count >= max_records:
            return batch
    deadline = time.monotonic() + max_wait
    while count < max_records and not (stop is not None and stop()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        take(min(remaining, 1.0))
    return batch


def decode(topic: KafkaTopic, messages: list[Any]) -> list[dict[str, Any]]:
    """The records of ``messages``, decoded with the topic's serializers."""
    key_of, value_of = topic.decoders()
    raw_key, raw_value = topic.key_serializer == "bytes", topic.value_serializer == "bytes"
    records: list[dict[str, Any]] = []
    append = records.append
    msg = None
    # Many small dicts: the cyclic GC would scan them again and again while they are made
    # (none of them is part of a cycle).
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for msg in messages:
            headers = msg.headers()
            append(
                {
                    "topic": msg.topic(),
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "key": msg.key() if raw_key else key_of(msg.key()),
                    "value": msg.value() if raw_value else value_of(msg.value()),
                    "headers": dict(headers) if headers else None,
                    "timestamp": msg.timestamp()[1],
                }
            )
    except ValueError as exc:  # bad UTF-8 or JSON
        assert msg is not None
        raise KafkaSerializationError(
            f"kafka_consume: the record at partition {msg.partition()} offset "
            f"{msg.offset()} cannot be decoded ({where(topic.connection, topic.topic)}, "
            f"{topic.key_serializer}/{topic.value_serializer}): {exc}"
        ) from exc
    finally:
        if gc_was_on:
            gc.enable()
    return records


def next_offsets(messages: list[Any]) -> dict[tuple[str, int], int]:
    """``{(topic, partition): offset after its last message}`` of a batch."""
    last: dict[tuple[str, int], int] = {}
    for msg in messages:
        last[(msg.topic(), msg.partition())] = msg.offset() + 1
    return last


def commit(
    clients: KafkaClients, consumer: Any, ends: dict[tuple[str, int], int], name: str
) -> None:
    """Commit, synchronously, ``ends`` (from :func:`next_offsets`)."""
    if not ends:
        return
    from confluent_kafka import KafkaException, TopicPartition

    offsets = [TopicPartition(t, p, o) for (t, p), o in ends.items()]
    try:
        answered = consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as exc:
        raise clients.check(exc, "kafka_consume: commit", name) from exc
    for tp in answered or ():
        if tp.error is not None:
            raise clients.check(_exception(tp.error), "kafka_consume: commit", name)


# --- admin -----------------------------------------------------------------------------------
def _target(block: KafkaConnection | KafkaTopic, name: str | None) -> tuple[KafkaConnection, str]:
    if isinstance(block, KafkaTopic):
        return block.connection, name or block.topic
    if not name:
        raise ValueError("name the topic: a KafkaConnection was given without a topic name")
    return block, name


def _admin_result(connection: KafkaConnection, future: Any, action: str, name: str) -> None:
    from confluent_kafka import KafkaException

    clients = connection.get_client()
    try:
        future.result(timeout=connection.timeout + 5)
    except KafkaException as exc:
        raise clients.check(exc, action, name) from exc
    except TimeoutError as exc:
        raise clients.check(_timeout(), action, name) from exc


def _timeout() -> Exception:
    from confluent_kafka import KafkaError as SdkError

    return _exception(SdkError(SdkError._TIMED_OUT))


@task
def kafka_create_topic(
    block: KafkaConnection | KafkaTopic,
    name: str | None = None,
    *,
    partitions: int = 1,
    replication_factor: int = -1,
    config: Mapping[str, str] | None = None,
    exists_ok: bool = False,
) -> str:
    """Create a topic (``name``, or the ``KafkaTopic``'s); returns its name.

    ``replication_factor=-1`` uses the brokers' default; ``config`` holds topic settings
    (``{"retention.ms": "86400000"}``). An existing topic is a ``KafkaTopicExistsError``
    unless ``exists_ok``.

    Example:
        kafka_create_topic(KafkaConnection.load("prod"), "orders", partitions=6)
    """
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    connection, name = _target(block, name)
    clients = connection.get_client()
    new = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config=dict(config or {}),
    )
    futures = clients.admin().create_topics(
        [new], request_timeout=connection.timeout, operation_timeout=connection.timeout
    )
    try:
        _admin_result(connection, futures[name], "kafka_create_topic", name)
    except KafkaTopicExistsError:
        if not exists_ok:
            raise
    return name


@task
def kafka_list_topics(connection: KafkaConnection, *, internal: bool = False) -> list[str]:
    """The names of the cluster's topics, sorted (``internal``: with ``__consumer_offsets``...).

    Example:
        kafka_list_topics(KafkaConnection.load("prod"))
    """
    from confluent_kafka import KafkaException

    clients = connection.get_client()
    try:
        metadata = clients.admin().list_topics(timeout=connection.timeout)
    except KafkaException as exc:
        raise clients.check(exc, "kafka_list_topics") from exc
    return sorted(t for t in metadata.topics if internal or not t.startswith("__"))


@task
def kafka_delete_topic(
    block: KafkaConnection | KafkaTopic, name: str | None = None, *, missing_ok: bool = False
) -> str:
    """Delete a topic (``name``, or the ``KafkaTopic``'s) and its records; returns its name.

    A missing topic is a ``KafkaNotFoundError`` unless ``missing_ok``.

    Example:
        kafka_delete_topic(KafkaConnection.load("prod"), "scratch")
    """
    connection, name = _target(block, name)
    clients = connection.get_client()
    futures = clients.admin().delete_topics([name], operation_timeout=connection.timeout)
    try:
        _admin_result(connection, futures[name], "kafka_delete_topic", name)
    except KafkaNotFoundError:
        if not missing_ok:
            raise
    clients.known_topics.discard(name)
    return name
