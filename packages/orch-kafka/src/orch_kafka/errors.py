"""Errors of orch-kafka, and the mapping of confluent-kafka's errors onto them (the one place).

Each class derives from the kit's kind (:mod:`orch.integration`), so users may catch
``ConnectError``/``AuthError``/``NotFoundError`` whatever the service, or this package's
own names. A message names the action, the topic and the connection block, never a
password or key: librdkafka's text goes through the kit's :func:`~orch.integration.redact`.
The ``KafkaException`` stays reachable as ``__cause__``; ``code`` is librdkafka's error name
(``UNKNOWN_TOPIC_OR_PART``, ``_TRANSPORT``...).
"""

from __future__ import annotations

from typing import Any

from orch.integration import (
    AlreadyExistsError,
    AuthError,
    ConnectError,
    NotFoundError,
    ServiceError,
    ServiceTimeoutError,
    TransferError,
    block_label,
    redact,
)

__all__ = [
    "KafkaAuthError",
    "KafkaConnectionError",
    "KafkaDeliveryError",
    "KafkaError",
    "KafkaNotFoundError",
    "KafkaRecordTooLargeError",
    "KafkaSerializationError",
    "KafkaTimeoutError",
    "KafkaTopicExistsError",
    "kafka_error",
    "where",
]


class KafkaError(ServiceError):
    """A Kafka call made by an orch-kafka block or task failed (``code``: librdkafka's name)."""


class KafkaConnectionError(KafkaError, ConnectError):
    """No broker could be reached within the connection's ``timeout``."""


class KafkaTimeoutError(KafkaError, ServiceTimeoutError):
    """The brokers did not answer in time."""


class KafkaAuthError(KafkaError, AuthError):
    """SASL/SSL authentication failed, or an ACL denied the operation."""


class KafkaNotFoundError(KafkaError, NotFoundError):
    """The topic (or partition) does not exist."""


class KafkaTopicExistsError(KafkaError, AlreadyExistsError):
    """``kafka_create_topic`` of a topic that already exists (without ``exists_ok``)."""


class KafkaDeliveryError(KafkaError, TransferError):
    """Some records were not acknowledged by the brokers; ``delivered`` says how many were."""

    delivered: int
    failed: int

    def __init__(
        self, message: str, code: str | None = None, *, delivered: int = 0, failed: int = 0
    ) -> None:
        super().__init__(message, code)
        self.delivered = delivered
        self.failed = failed


class KafkaRecordTooLargeError(KafkaError, ValueError):
    """A record is larger than the producer's ``message.max.bytes`` (or the broker's limit)."""


class KafkaSerializationError(KafkaError, ValueError):
    """A key or value the topic's serializer cannot encode (or a record it cannot decode)."""


def where(connection: Any, topic: str | None = None) -> str:
    """``topic 'orders' on kafka-connection/prod`` (the topic and the block, no secret)."""
    label = block_label(connection, getattr(connection, "bootstrap_servers", None))
    return f"topic {topic!r} on {label}" if topic else label


_CONNECT = {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE", "NETWORK_EXCEPTION"}
_TIMEOUT = {"_TIMED_OUT", "REQUEST_TIMED_OUT", "_MSG_TIMED_OUT"}
_AUTH = {
    "_AUTHENTICATION",
    "SASL_AUTHENTICATION_FAILED",
    "_SSL",
    "TOPIC_AUTHORIZATION_FAILED",
    "GROUP_AUTHORIZATION_FAILED",
    "CLUSTER_AUTHORIZATION_FAILED",
    "ILLEGAL_SASL_STATE",
    "UNSUPPORTED_SASL_MECHANISM",
}
_NOT_FOUND = {"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION"}
_TOO_LARGE = {"MSG_SIZE_TOO_LARGE", "MESSAGE_TOO_LARGE"}


def error_name(exc: BaseException) -> str | None:
    """librdkafka's name of the error ``exc`` (a ``KafkaException`` or a ``KafkaError``)."""
    err = exc.args[0] if getattr(exc, "args", None) else exc
    name = getattr(err, "name", None)
    return str(name()) if callable(name) else None


def error_text(err: Any) -> str:
    """The readable text of a librdkafka error (``KafkaError``), redacted."""
    text = err.str() if hasattr(err, "str") else str(err)
    return redact(str(text))


def kafka_error(
    exc: BaseException, *, action: str, connection: Any, topic: str | None = None
) -> KafkaError:
    """The orch error for ``exc`` (a ``KafkaException``, or a librdkafka ``KafkaError``)."""
    err = exc.args[0] if getattr(exc, "args", None) else exc
    name = error_name(exc) or type(exc).__name__
    text = error_text(err)
    place = where(connection, topic)
    if name in _NOT_FOUND:
        return KafkaNotFoundError(f"{action}: {place}: no such topic or partition ({text})", name)
    if name in _AUTH:
        return KafkaAuthError(
            f"{action}: authentication or authorization failed ({place}): {text}; "
            "check the connection's security settings and credentials",
            name,
        )
    if name in _TOO_LARGE:
        return KafkaRecordTooLargeError(
            f"{action}: a record is larger than the allowed size ({place}): {text}; "
            "raise message.max.bytes (settings) or send smaller records",
            name,
        )
    if name == "TOPIC_ALREADY_EXISTS":
        return KafkaTopicExistsError(f"{action}: {place} already exists", name)
    if name in _CONNECT:
        return KafkaConnectionError(f"{action}: cannot reach the brokers ({place}): {text}", name)
    if name in _TIMEOUT:
        return KafkaTimeoutError(f"{action}: no answer in time from the brokers ({place})", name)
    return KafkaError(f"{action} failed ({place}): {text}", name)
