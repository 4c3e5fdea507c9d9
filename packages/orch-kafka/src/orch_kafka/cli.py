"""``orch kafka listen module:flow --topic ...`` (also ``orch-kafka listen``): run a flow
per batch from the shell.

``--topic`` names a saved ``kafka-topic`` block, or, with ``--connection`` (a saved
``kafka-connection`` block) or ``--bootstrap-servers``, a topic. The flow is ``module:name``
or ``path/to/file.py:name``. Errors print one line and exit 1; SIGTERM stops after the
batch in hand (exit 0).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["load_flow", "main"]


def load_flow(spec: str) -> Any:
    """The object ``module:name`` or ``file.py:name`` names."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"flow {spec!r}: expected module:name or path/to/file.py:name")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        loader_spec = importlib.util.spec_from_file_location(path.stem, path)
        if loader_spec is None or loader_spec.loader is None or not path.exists():
            raise ValueError(f"flow {spec!r}: no file {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[path.stem] = module
        loader_spec.loader.exec_module(module)
    else:
        sys.path.insert(0, str(Path.cwd()))
        module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"flow {spec!r}: {module_name} has no {attr!r}") from None


def _parser() -> argparse.ArgumentParser:
    prog = "orch kafka" if Path(sys.argv[0]).name == "orch" else "orch-kafka"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("listen", help="Run a flow per batch of records of a topic.")
    p.add_argument("flow", help="module:name or path/to/file.py:name of the flow")
    p.add_argument("--topic", required=True, help="a saved kafka-topic block, or a topic name")
    p.add_argument("--connection", help="a saved kafka-connection block (--topic is a topic)")
    p.add_argument("--bootstrap-servers", help="brokers, when no block is saved")
    p.add_argument("--value-serializer", default="json", choices=["bytes", "str", "json"])
    p.add_argument("--key-serializer", default="str", choices=["bytes", "str", "json"])
    p.add_argument("--group", help="consumer group (default: orch-<flow name>)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--max-wait", type=float, default=5.0, help="seconds to fill a batch")
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--retry-delay", type=float, default=1.0)
    p.add_argument("--dead-letter-topic", help="topic for batches that failed every attempt")
    p.add_argument("--max-batches", type=int)
    p.add_argument("--idle-timeout", type=float, help="stop after this long with no record")
    p.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a consumer setting (repeatable)",
    )
    return parser


def _topic(args: argparse.Namespace) -> Any:
    from orch_kafka.connector import KafkaTopic
    from orch_kafka.credentials import KafkaConnection

    if args.connection or args.bootstrap_servers:
        connection = (
            KafkaConnection.load(args.connection)
            if args.connection
            else KafkaConnection(bootstrap_servers=args.bootstrap_servers)
        )
        return KafkaTopic(
            connection=connection,
            topic=args.topic,
            key_serializer=args.key_serializer,
            value_serializer=args.value_serializer,
        )
    return KafkaTopic.load(args.topic)


def _settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--setting {pair!r}: expected KEY=VALUE")
        settings[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value
    return settings


def main(argv: list[str] | None = None) -> None:
    """The ``orch-kafka`` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from orch.integration import OrchError, redact

    from orch_kafka.listen import listen

    try:
        counts = listen(
            _topic(args),
            load_flow(args.flow),
            group_id=args.group,
            batch_size=args.batch_size,
            max_wait=args.max_wait,
            max_attempts=args.max_attempts,
            retry_delay=args.retry_delay,
            dead_letter_topic=args.dead_letter_topic,
            max_batches=args.max_batches,
            idle_timeout=args.idle_timeout,
            settings=_settings(args.setting),
        )
    except (OrchError, ValueError, ImportError) as exc:
        sys.stderr.write(f"error: {redact(str(exc))}\n")
        raise SystemExit(1) from None
    print(counts, flush=True)


if __name__ == "__main__":
    main()
