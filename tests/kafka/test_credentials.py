"""``KafkaConnection`` validation and the librdkafka settings it builds (no broker)."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer
from orch.integration import BlockValidationError as ValidationError
from orch_kafka import KafkaConnection, KafkaTopic
from orch_kafka._settings import LIBRDKAFKA_SETTINGS

from tests.kafka.librdkafka_settings import installed_settings


def test_a_typo_in_settings_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(ValidationError) as info:
        KafkaConnection(bootstrap_servers="b:9092", settings={"linger.mss": 5})
    assert "'linger.mss' is not a librdkafka setting (did you mean 'linger.ms'?)" in str(info.value)
    assert "settings" in str(info.value)


def test_settings_owned_by_a_field_or_reserved_are_refused() -> None:
    with pytest.raises(
        ValidationError, match=r"'sasl\.password' is set by the field 'sasl_password'"
    ):
        KafkaConnection(bootstrap_servers="b:9092", settings={"sasl.password": "x"})
    with pytest.raises(ValidationError, match=r"'group\.id' is not a connection setting"):
        KafkaConnection(bootstrap_servers="b:9092", settings={"group.id": "g"})
    with pytest.raises(ValidationError, match="holds a secret"):
        KafkaConnection(bootstrap_servers="b:9092", settings={"ssl.keystore.password": "x"})


def test_settings_values_are_typed() -> None:
    with pytest.raises(ValidationError):
        KafkaConnection(bootstrap_servers="b:9092", settings={"linger.ms": [1]})
    conn = KafkaConnection(bootstrap_servers="b:9092", settings={"linger.ms": 5, "acks": "all"})
    assert conn.config()["linger.ms"] == 5


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism"),
        ({"sasl_mechanism": "PLAIN"}, "use SASL_SSL or SASL_PLAINTEXT"),
        (
            {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": "u",
            },
            "needs sasl_password",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
            "needs oauth_token_url, oauth_client_id, oauth_client_secret",
        ),
        (
            {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "OAUTHBEARER",
                "oauth_config": "principal=a",
                "sasl_username": "u",
            },
            "sasl_username not used with sasl_mechanism OAUTHBEARER",
        ),
        ({"sasl_username": "u"}, "sasl_username not used with no SASL"),
        ({"ssl_ca_location": "/ca.pem"}, "not used with security_protocol PLAINTEXT"),
        (
            {"security_protocol": "SSL", "ssl_certificate_location": "/c.pem"},
            "goes with its key",
        ),
        (
            {"security_protocol": "SSL", "ssl_key": "k", "ssl_key_location": "/k.pem"},
            "not both",
        ),
    ],
)
def test_security_choices_are_checked(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaConnection(bootstrap_servers="b:9092", **fields)


def test_config_maps_fields_and_resolves_secrets() -> None:
    conn = KafkaConnection(
        bootstrap_servers="b1:9093,b2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="etl",
        sasl_password="pw-Secret-1",
        ssl_ca_location="/ca.pem",
        client_id="nightly",
        settings={"fetch.min.bytes": 10, "linger.ms": 7},
    )
    conf = conn.config()
    assert conf["bootstrap.servers"] == "b1:9093,b2:9093"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-256"
    assert conf["sasl.password"] == "pw-Secret-1"
    assert conf["ssl.ca.location"] == "/ca.pem"
    assert conf["client.id"] == "nightly"
    assert "pw-Secret-1" not in repr(conn) and "pw-Secret-1" not in str(conn.model_dump())
    # A consumer-only setting is not given to a producer (librdkafka would warn), and back.
    assert "fetch.min.bytes" not in conn.settings_for("producer")
    assert "linger.ms" not in conn.settings_for("consumer")
    assert conn.settings_for("consumer")["fetch.min.bytes"] == 10


def test_oauth_oidc_sets_the_method() -> None:
    conn = KafkaConnection(
        bootstrap_servers="b:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        oauth_token_url="https://idp/token",
        oauth_client_id="etl",
        oauth_client_secret="cs-Secret-1",
        oauth_scope="kafka",
    )
    conf = conn.config()
    assert conf["sasl.oauthbearer.method"] == "oidc"
    assert conf["sasl.oauthbearer.client.secret"] == "cs-Secret-1"
    assert conf["sasl.oauthbearer.scope"] == "kafka"


def test_the_settings_list_is_the_installed_librdkafkas() -> None:
    _, installed = installed_settings()
    assert installed == LIBRDKAFKA_SETTINGS, (
        "regenerate: .venv/bin/python -m tests.kafka.librdkafka_settings"
    )
    # and librdkafka accepts a setting from the list (a producer is made, no broker needed)
    Producer({"bootstrap.servers": "127.0.0.1:1", "linger.ms": 3}).flush(0)


def test_topic_names_are_checked() -> None:
    conn = KafkaConnection(bootstrap_servers="b:9092")
    with pytest.raises(ValidationError, match="topic"):
        KafkaTopic(connection=conn, topic="bad name")
    with pytest.raises(ValidationError, match="value_serializer"):
        KafkaTopic(connection=conn, topic="ok", value_serializer="avro")  # type: ignore[arg-type]
