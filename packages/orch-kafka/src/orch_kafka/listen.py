"""``listen``: run a flow per batch of records of a topic (event-driven flows).

The loop polls one batch (up to ``batch_size`` records or ``max_wait`` seconds), calls the
flow with it, and commits the batch's offsets only after the flow completes. A failing
batch is retried (``max_attempts``), then sent to a dead-letter topic and committed, or,
without one, the listener stops with the error and nothing of that batch is committed.
SIGTERM (and a first Ctrl-C) stop it gracefully: the batch in hand is finished and
committed, the consumer closed. Only one batch is in memory at a time: the next is polled
after the last one is committed (librdkafka's prefetch is bounded too).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from orch_kafka.connector import KafkaTopic
from orch_kafka.errors import KafkaDeliveryError, error_text, where
from orch_kafka.tasks import commit, decode, ensure_topic, next_offsets, poll_batch

__all__ = ["listen"]

LOGGER = logging.getLogger("orch_kafka.listen")


class _Stop:
    """Set by SIGTERM/SIGINT (or ``max_batches``): finish the batch in hand, then stop."""

    def __init__(self) -> None:
        self.requested = False
        self.signals = 0

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum: int, _frame: Any) -> None:
        self.signals += 1
        if signum == signal.SIGINT and self.signals > 1:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        LOGGER.info(
            "%s received: finishing the batch in hand, then stopping", signal.Signals(signum).name
        )
        self.requested = True


def listen(
    topic: KafkaTopic,
    flow: Callable[[list[dict[str, Any]]], Any],
    *,
    group_id: str | None = None,
    batch_size: int = 500,
    max_wait: float = 5.0,
    max_attempts: int = 3,
    retry_delay: float = 1.0,
    dead_letter_topic: KafkaTopic | str | None = None,
    max_batches: int | None = None,
    idle_timeout: float | None = None,
    max_batch_seconds: float | None = None,
    from_beginning: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Run ``flow(records)`` for each batch of ``topic``, committing after each success.

    A batch is up to ``batch_size`` records or what came in ``max_wait`` seconds (records
    as :func:`~orch_kafka.tasks.kafka_consume` returns them). ``group_id`` defaults to
    ``orch-<flow name>``. A batch whose flow fails (or that cannot be decoded) is tried
    ``max_attempts`` times, ``retry_delay`` seconds apart; then it goes to
    ``dead_letter_topic`` (a ``KafkaTopic`` or a topic name on the same connection: the
    original keys and values, with headers ``orch.error``, ``orch.source.topic``,
    ``orch.source.partition``, ``orch.source.offset``, ``orch.attempts``) and is committed;
    without one, ``listen`` raises the flow's error and that batch is not committed (a new
    listener starts from it). It runs until SIGTERM or Ctrl-C (the batch in hand is
    finished and committed first), ``max_batches`` batches, or ``idle_timeout`` seconds
    without a record. A flow may take up to ``max_batch_seconds`` per batch (default: the
    connection's ``max.poll.interval.ms``, librdkafka's 300 s) before the group considers
    the listener gone. Returns counts: ``batches``, ``records``,
    ``dead_lettered``.

    Example:
        from orch import flow
        from orch_kafka import KafkaTopic, listen

        @flow
        def load_orders(records):
            ...

        listen(KafkaTopic.load("orders"), load_orders, batch_size=1000,
               dead_letter_topic="orders-dlq")
    """
    if batch_size < 1 or max_attempts < 1:
        raise ValueError("listen: batch_size and max_attempts must be at least 1")
    name = getattr(flow, "name", None) or getattr(flow, "__name__", "flow")
    group = group_id or f"orch-{name}"
    clients = topic.get_client()
    dlq = _dead_letter(topic, dead_letter_topic)
    if dlq is not None:
        ensure_topic(clients, clients.producer(), dlq, "listen: dead-letter topic")
    conf = {
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        # backpressure: librdkafka prefetches at most this much per partition set
        "queued.max.messages.kbytes": 8192,
        **(settings or {}),
    }
    if max_batch_seconds is not None:
        conf["max.poll.interval.ms"] = int(max_batch_seconds * 1000)
    consumer, lock = clients.consumer(group, (topic.topic,), conf)
    stop = _Stop()
    previous = _install(stop)
    counts = {"batches": 0, "records": 0, "dead_lettered": 0}
    idle_since = time.monotonic()
    LOGGER.info("listening to %s as group %r", where(topic.connection, topic.topic), group)
    try:
        with lock:
            while not stop():
                messages = poll_batch(clients, consumer, topic.topic, batch_size, max_wait, stop)
                if not messages:
                    if idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                        break
                    continue
                _run_batch(topic, flow, messages, max_attempts, retry_delay, dlq, counts)
                commit(clients, consumer, next_offsets(messages), topic.topic)
                counts["batches"] += 1
                counts["records"] += len(messages)
                idle_since = time.monotonic()
                if max_batches is not None and counts["batches"] >= max_batches:
                    break
    finally:
        clients.drop_consumer(consumer)  # leave the group now: its partitions move at once
        _restore(previous)
    LOGGER.info("stopped listening to %s: %s", topic.topic, counts)
    return counts


def _run_batch(
    topic: KafkaTopic,
    flow: Callable[[list[dict[str, Any]]], Any],
    messages: list[Any],
    max_attempts: int,
    retry_delay: float,
    dlq: str | None,
    counts: dict[str, int],
) -> None:
    for attempt in range(1, max_attempts + 1):
        try:
            flow(decode(topic, messages))
            return
        except Exception as exc:
            first = messages[0]
            LOGGER.warning(
                "batch of %d record(s) from %s partition %d offset %d: attempt %d of %d failed: %s",
                len(messages),
                topic.topic,
                first.partition(),
                first.offset(),
                attempt,
                max_attempts,
                exc,
            )
            if attempt == max_attempts:
                if dlq is None:
                    raise
                _send_to_dead_letter(topic, dlq, messages, exc, attempt)
                counts["dead_lettered"] += len(messages)
                return
            time.sleep(retry_delay)


def _dead_letter(topic: KafkaTopic, dead_letter_topic: KafkaTopic | str | None) -> str | None:
    if dead_letter_topic is None:
        return None
    if isinstance(dead_letter_topic, KafkaTopic):
        if dead_letter_topic.connection != topic.connection:
            raise ValueError("listen: the dead-letter topic must be on the topic's connection")
        return dead_letter_topic.topic
    return dead_letter_topic


def _send_to_dead_letter(
    topic: KafkaTopic, dlq: str, messages: list[Any], exc: BaseException, attempts: int
) -> None:
    clients = topic.get_client()
    producer = clients.producer()
    reason = "".join(traceback.format_exception_only(exc)).strip()[-2000:]
    failed: list[Any] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        failed.append(err)

    for msg in messages:
        headers = list(msg.headers() or ())
        headers += [
            ("orch.error", reason),
            ("orch.source.topic", msg.topic()),
            ("orch.source.partition", str(msg.partition())),
            ("orch.source.offset", str(msg.offset())),
            ("orch.attempts", str(attempts)),
        ]
        while True:
            try:
                producer.produce(
                    dlq, msg.value(), msg.key(), headers=headers, on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.05)
    left = producer.flush(topic.connection.timeout + 300)
    if failed or left:
        raise KafkaDeliveryError(
            f"listen: the failed batch could not be sent to the dead-letter topic {dlq!r} "
            f"({where(topic.connection, topic.topic)}): "
            + "; ".join(sorted({error_text(e) for e in failed})[:3]),
            delivered=len(messages) - len(failed) - left,
            failed=len(failed) + left,
        ) from exc
    LOGGER.warning("sent %d record(s) to the dead-letter topic %r", len(messages), dlq)


def _install(stop: _Stop) -> dict[int, Any] | None:
    if threading.current_thread() is not threading.main_thread():
        return None  # signals reach only the main thread
    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, stop.handle)
    return previous


def _restore(previous: dict[int, Any] | None) -> None:
    for sig, handler in (previous or {}).items():
        signal.signal(sig, handler)
