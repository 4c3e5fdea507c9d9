"""``KafkaConnection``: how to reach and log in to a Kafka cluster.

The block is a :class:`~orch.integration.Connector`: its client is a
:class:`orch_kafka.connector.KafkaClients` (one producer, one admin client and the
consumers of each group, made on first use), shared by equal blocks in a process, flushed
and closed at exit, made anew in a forked child. No SDK is imported here:
confluent-kafka loads in :mod:`orch_kafka.connector`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Self

from orch import SecretStr
from orch.integration import Connector, did_you_mean
from pydantic import Field, field_validator, model_validator

from orch_kafka._settings import LIBRDKAFKA_SETTINGS

if TYPE_CHECKING:
    from orch_kafka.connector import KafkaClients

__all__ = ["KafkaConnection", "SaslMechanism", "SecurityProtocol", "SettingValue"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
SettingValue = str | int | float | bool

# librdkafka settings a field of the block owns: in ``settings`` they are refused, naming
# the field (a secret among them would otherwise be stored in plain text).
OWNED_SETTINGS = {
    "bootstrap.servers": "bootstrap_servers",
    "metadata.broker.list": "bootstrap_servers",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_username",
    "sasl.password": "sasl_password",
    "sasl.oauthbearer.method": "oauth_token_url",
    "sasl.oauthbearer.client.id": "oauth_client_id",
    "sasl.oauthbearer.client.secret": "oauth_client_secret",
    "sasl.oauthbearer.token.endpoint.url": "oauth_token_url",
    "sasl.oauthbearer.scope": "oauth_scope",
    "sasl.oauthbearer.config": "oauth_config",
    "ssl.ca.location": "ssl_ca_location",
    "ssl.certificate.location": "ssl_certificate_location",
    "ssl.key.location": "ssl_key_location",
    "ssl.key.pem": "ssl_key",
    "ssl.key.password": "ssl_key_password",
    "client.id": "client_id",
}
# Settings a task or the connector decides (callbacks, offsets handling): not for users.
RESERVED_SETTINGS = {
    "group.id": "give group_id to kafka_consume or listen",
    "enable.auto.commit": "offsets are committed after success by kafka_consume and listen",
    "enable.auto.offset.store": "offsets are stored by kafka_consume and listen",
    "enable.idempotence": "pass idempotent= to kafka_produce",
    "delivery.report.only.error": "kafka_produce checks every delivery itself",
}
_SECRET_WORDS = ("password", "secret", "key.pem", "token")


class KafkaConnection(Connector["KafkaClients"]):
    """The brokers of a Kafka cluster and how to log in to them.

    ``security_protocol`` is ``PLAINTEXT`` (default), ``SSL``, ``SASL_PLAINTEXT`` or
    ``SASL_SSL``; with SASL, ``sasl_mechanism`` is ``PLAIN`` or ``SCRAM-SHA-256/512``
    (``sasl_username`` and ``sasl_password``) or ``OAUTHBEARER`` (OIDC client credentials:
    ``oauth_token_url``, ``oauth_client_id``, ``oauth_client_secret``). With SSL,
    ``ssl_ca_location`` checks the brokers and a client certificate
    (``ssl_certificate_location``) goes with its key, as a secret PEM (``ssl_key``) or a
    file (``ssl_key_location``). ``settings`` are more librdkafka settings
    (``{"linger.ms": 20}``), checked against librdkafka's own list: a typo is an error.

    Example:
        from orch import SecretRef
        from orch_kafka import KafkaConnection

        KafkaConnection(
            bootstrap_servers="broker-1:9093,broker-2:9093",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="etl",
            sasl_password=SecretRef("env://KAFKA_PASSWORD"),
            settings={"compression.type": "zstd"},
        ).save("prod")
    """

    block_type_slug = "kafka-connection"
    # Addresses, names and file paths, not secrets.
    block_not_secret = frozenset(
        {
            "ssl_ca_location",
            "ssl_certificate_location",
            "ssl_key_location",
            "oauth_client_id",
            "oauth_token_url",
        }
    )

    bootstrap_servers: str = Field(
        min_length=1, description="Brokers to start from: host:port[,host:port...]."
    )
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None,
        description="With SASL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER.",
    )
    sasl_username: str | None = Field(default=None, description="SASL user (PLAIN and SCRAM).")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (PLAIN and SCRAM)."
    )
    oauth_token_url: str | None = Field(
        default=None, description="OAUTHBEARER: the OIDC token endpoint (client credentials)."
    )
    oauth_client_id: str | None = Field(default=None, description="OAUTHBEARER: client id.")
    oauth_client_secret: SecretStr | None = Field(
        default=None, description="OAUTHBEARER: client secret."
    )
    oauth_scope: str | None = Field(default=None, description="OAUTHBEARER: scope to ask for.")
    oauth_config: str | None = Field(
        default=None,
        description="OAUTHBEARER without an OIDC endpoint: librdkafka's unsecured JWT "
        "settings (sasl.oauthbearer.config), for test clusters.",
    )
    ssl_ca_location: str | None = Field(
        default=None, description="CA bundle file to check the brokers' certificates with."
    )
    ssl_certificate_location: str | None = Field(
        default=None, description="Client certificate file (PEM), for mutual TLS."
    )
    ssl_key: SecretStr | None = Field(
        default=None, description="Client private key, PEM text (a secret)."
    )
    ssl_key_location: str | None = Field(
        default=None, description="Client private key file (instead of ssl_key)."
    )
    ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of the client private key."
    )
    client_id: str = Field(default="orch", min_length=1, description="Client id brokers log.")
    timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for the brokers (metadata, admin calls, a first connect).",
    )
    settings: dict[str, SettingValue] = Field(
        default_factory=dict,
        description="More librdkafka settings, e.g. {'linger.ms': 20}; checked against "
        "librdkafka's list (a typo is an error).",
    )

    @field_validator("settings")
    @classmethod
    def _check_settings(cls, value: dict[str, SettingValue]) -> dict[str, SettingValue]:
        problems = []
        for key in value:
            if key in OWNED_SETTINGS:
                problems.append(f"{key!r} is set by the field {OWNED_SETTINGS[key]!r}")
            elif key in RESERVED_SETTINGS:
                problems.append(f"{key!r} is not a connection setting: {RESERVED_SETTINGS[key]}")
            elif key not in LIBRDKAFKA_SETTINGS:
                hint = did_you_mean(key, LIBRDKAFKA_SETTINGS)
                problems.append(f"{key!r} is not a librdkafka setting{hint}")
            elif any(word in key for word in _SECRET_WORDS):
                problems.append(f"{key!r} holds a secret: it has no place in plain settings")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        sasl = self.security_protocol.startswith("SASL")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError(
                f"sasl_mechanism is set but security_protocol is {self.security_protocol}: "
                "use SASL_SSL or SASL_PLAINTEXT"
            )
        user_fields = ("sasl_username", "sasl_password")
        oauth_fields = ("oauth_token_url", "oauth_client_id", "oauth_client_secret")
        oauth_extra = ("oauth_scope", "oauth_config")
        if self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            self._need(user_fields, f"sasl_mechanism {self.sasl_mechanism}")
            self._refuse((*oauth_fields, *oauth_extra), f"sasl_mechanism {self.sasl_mechanism}")
        elif self.sasl_mechanism == "OAUTHBEARER":
            self._refuse(user_fields, "sasl_mechanism OAUTHBEARER")
            if self.oauth_config is None:
                self._need(oauth_fields, "sasl_mechanism OAUTHBEARER (OIDC)")
            elif self.oauth_token_url is not None:
                raise ValueError("give oauth_token_url (OIDC) or oauth_config, not both")
        else:
            self._refuse((*user_fields, *oauth_fields, *oauth_extra), "no SASL")
        ssl = self.security_protocol in ("SSL", "SASL_SSL")
        ssl_fields = (
            "ssl_ca_location",
            "ssl_certificate_location",
            "ssl_key",
            "ssl_key_location",
            "ssl_key_password",
        )
        if not ssl:
            self._refuse(ssl_fields, f"security_protocol {self.security_protocol} (no TLS)")
        if self.ssl_key is not None and self.ssl_key_location is not None:
            raise ValueError("give ssl_key (PEM) or ssl_key_location (a file), not both")
        has_key = self.ssl_key is not None or self.ssl_key_location is not None
        if has_key != (self.ssl_certificate_location is not None):
            raise ValueError(
                "a client certificate (ssl_certificate_location) goes with its key "
                "(ssl_key or ssl_key_location): give both or neither"
            )
        return self

    def _need(self, names: tuple[str, ...], why: str) -> None:
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{why} needs {', '.join(missing)}")

    def _refuse(self, names: tuple[str, ...], why: str) -> None:
        extra = [n for n in names if getattr(self, n) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} not used with {why}: remove them")

    @classmethod
    def block_sample(cls) -> Self:
        return cls(
            bootstrap_servers="broker-1.example.com:9093",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="etl",
            sasl_password="sample-password",  # noqa: S106 - a placeholder
        )

    def config(self) -> dict[str, Any]:
        """The librdkafka settings of this connection (secrets resolved): for any client.

        Example:
            Producer(KafkaConnection.load("prod").config())
        """
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "client.id": self.client_id,
            "socket.connection.setup.timeout.ms": int(self.timeout * 1000),
        }
        if self.sasl_mechanism is not None:
            conf["sasl.mechanism"] = self.sasl_mechanism
        optional: dict[str, Any] = {
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "sasl.oauthbearer.client.id": self.oauth_client_id,
            "sasl.oauthbearer.client.secret": self.oauth_client_secret,
            "sasl.oauthbearer.token.endpoint.url": self.oauth_token_url,
            "sasl.oauthbearer.scope": self.oauth_scope,
            "sasl.oauthbearer.config": self.oauth_config,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.pem": self.ssl_key,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
        }
        if self.oauth_token_url is not None:
            conf["sasl.oauthbearer.method"] = "oidc"
        for key, value in optional.items():
            if value is None:
                continue
            secret = getattr(value, "get_secret_value", None)
            conf[key] = secret() if secret is not None else value
        conf.update(self.settings)
        return conf

    def settings_for(self, role: Literal["producer", "consumer", "admin"]) -> dict[str, Any]:
        """:meth:`config` less the settings librdkafka ignores (with a warning) in ``role``."""
        skip = {"producer": "C", "consumer": "P", "admin": "PC"}[role]
        return {
            k: v for k, v in self.config().items() if LIBRDKAFKA_SETTINGS.get(k, "*") not in skip
        }

    def _new_client(self) -> KafkaClients:
        from orch_kafka.connector import KafkaClients

        return KafkaClients(self)

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()
