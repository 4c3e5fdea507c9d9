"""orch-kafka: Apache Kafka connections, topics, produce/consume tasks and flows per batch.

Blocks: :class:`KafkaConnection`, :class:`KafkaTopic`; tasks from :mod:`orch_kafka.tasks`;
:func:`listen` (a flow per batch) from :mod:`orch_kafka.listen`; errors from
:mod:`orch_kafka.errors`. Every name loads with its module on first use: importing this
package loads neither confluent-kafka nor pydantic.

Example:
    from orch_kafka import KafkaConnection, KafkaTopic, kafka_produce
"""

from __future__ import annotations

from orch.integration import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_kafka.connector import KafkaClients as KafkaClients
    from orch_kafka.connector import KafkaTopic as KafkaTopic
    from orch_kafka.credentials import KafkaConnection as KafkaConnection
    from orch_kafka.errors import KafkaAuthError as KafkaAuthError
    from orch_kafka.errors import KafkaConnectionError as KafkaConnectionError
    from orch_kafka.errors import KafkaDeliveryError as KafkaDeliveryError
    from orch_kafka.errors import KafkaError as KafkaError
    from orch_kafka.errors import KafkaNotFoundError as KafkaNotFoundError
    from orch_kafka.errors import KafkaRecordTooLargeError as KafkaRecordTooLargeError
    from orch_kafka.errors import KafkaSerializationError as KafkaSerializationError
    from orch_kafka.errors import KafkaTimeoutError as KafkaTimeoutError
    from orch_kafka.errors import KafkaTopicExistsError as KafkaTopicExistsError
    from orch_kafka.listen import listen as listen
    from orch_kafka.tasks import KafkaRecord as KafkaRecord
    from orch_kafka.tasks import kafka_consume as kafka_consume
    from orch_kafka.tasks import kafka_create_topic as kafka_create_topic
    from orch_kafka.tasks import kafka_delete_topic as kafka_delete_topic
    from orch_kafka.tasks import kafka_list_topics as kafka_list_topics
    from orch_kafka.tasks import kafka_produce as kafka_produce

_BLOCKS = {
    "KafkaClients": "orch_kafka.connector",
    "KafkaConnection": "orch_kafka.credentials",
    "KafkaTopic": "orch_kafka.connector",
}
_ERRORS = (
    "KafkaAuthError",
    "KafkaConnectionError",
    "KafkaDeliveryError",
    "KafkaError",
    "KafkaNotFoundError",
    "KafkaRecordTooLargeError",
    "KafkaSerializationError",
    "KafkaTimeoutError",
    "KafkaTopicExistsError",
)
_TASKS = (
    "KafkaRecord",
    "kafka_consume",
    "kafka_create_topic",
    "kafka_delete_topic",
    "kafka_list_topics",
    "kafka_produce",
)
_EXPORTS = {
    **_BLOCKS,
    **dict.fromkeys(_ERRORS, "orch_kafka.errors"),
    **dict.fromkeys(_TASKS, "orch_kafka.tasks"),
    "listen": "orch_kafka.listen",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
