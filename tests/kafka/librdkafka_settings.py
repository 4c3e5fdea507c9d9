"""librdkafka's own list of settings, read from the installed library
(``rd_kafka_conf_properties_show``), and the writer of ``orch_kafka/_settings.py``.

Regenerate after a confluent-kafka upgrade: ``.venv/bin/python -m tests.kafka.librdkafka_settings``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parents[2] / "packages/orch-kafka/src/orch_kafka/_settings.py"


def installed_settings() -> tuple[str, dict[str, str]]:
    """(librdkafka's version, {setting: scope}) of the installed confluent-kafka; callbacks
    and opaque pointers (not settable from a block) left out."""
    import confluent_kafka

    libdir = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = glob.glob(str(libdir / "librdkafka*.so*"))
    lib = ctypes.CDLL(found[0]) if found else ctypes.CDLL("librdkafka.so.1")
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "props")
        fp = libc.fopen(path.encode(), b"w")
        lib.rd_kafka_conf_properties_show(ctypes.c_void_p(fp))
        libc.fclose(ctypes.c_void_p(fp))
        text = Path(path).read_text()
    rows: dict[str, str] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 6 or parts[0] in ("Property", "") or parts[0].startswith("-"):
            continue
        name, scope = parts[0], parts[1]
        if " " in name or name.endswith("_cb") or "opaque" in name:
            continue
        rows.setdefault(name, scope)
    return confluent_kafka.libversion()[0], rows


def render(version: str, rows: dict[str, str]) -> str:
    lines = [
        '"""librdkafka\'s settings and where each applies (``*`` any client, ``P`` producer,',
        "``C`` consumer), for checking ``KafkaConnection.settings``.",
        "",
        f"Generated from librdkafka {version} by tests/kafka/librdkafka_settings.py; do not edit.",
        '"""',
        "",
        "LIBRDKAFKA_SETTINGS: dict[str, str] = {",
        *(f'    "{k}": "{rows[k]}",' for k in sorted(rows)),
        "}",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(*installed_settings()))
    print(f"wrote {TARGET}")
