"""orch-kafka's blocks keep the contract of :mod:`orch.testing` (against Tansu).

``KafkaConnection`` is a Connector (its client holds the producer, admin client and
consumers); ``KafkaTopic`` uses its connection's. Saved and loaded, each pickles by its
name with no secret byte in the pickle.
"""

from __future__ import annotations

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_kafka import KafkaClients, KafkaConnection, KafkaTopic

from tests.backends.kafka import KafkaBroker


class TestKafkaConnection(ConnectorContract):
    block_type = KafkaConnection

    @pytest.fixture
    def block(self, kafka_broker: KafkaBroker) -> KafkaConnection:
        return KafkaConnection(bootstrap_servers=kafka_broker.bootstrap, timeout=10)

    def probe(self, client: KafkaClients) -> None:
        client.admin().list_topics(timeout=10)


class TestKafkaConnectionScram(BlockContract):
    block_type = KafkaConnection

    @pytest.fixture
    def block(self) -> KafkaConnection:
        return KafkaConnection(
            bootstrap_servers="broker:9093",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username="etl",
            sasl_password="contract-Password-1",
            ssl_ca_location="/etc/ca.pem",
            ssl_certificate_location="/etc/client.pem",
            ssl_key="-----BEGIN PRIVATE KEY-----contract-Key-1",
            ssl_key_password="contract-KeyPassword-1",
        )


class TestKafkaTopic(BlockContract):
    block_type = KafkaTopic

    @pytest.fixture
    def block(self) -> KafkaTopic:
        return KafkaTopic(
            connection=KafkaConnection(
                bootstrap_servers="broker:9093",
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="OAUTHBEARER",
                oauth_token_url="https://idp/token",
                oauth_client_id="etl",
                oauth_client_secret="contract-Secret-1",
            ),
            topic="orders",
        )
