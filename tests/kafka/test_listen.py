"""``listen`` and ``orch-kafka listen`` against Tansu: a flow per batch, commit after the
flow, retries then a dead-letter topic, a graceful stop on SIGTERM, and at-least-once
across a kill -9 of the listener mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from orch import flow
from orch_kafka import KafkaTopic, kafka_consume, kafka_produce, listen

from tests.backends.kafka import CONSUMER_TIMEOUTS, KafkaBroker
from tests.kafka.conftest import create_topic, unique

ROOT = Path(__file__).resolve().parents[2]


def test_a_flow_per_batch_committed_after_the_flow(topic: KafkaTopic) -> None:
    kafka_produce(topic, list(range(10)))
    seen: list[list[int]] = []

    @flow
    def load(records: list[dict[str, Any]]) -> None:
        seen.append([r["value"] for r in records])

    group = unique("g")
    counts = listen(topic, load, group_id=group, batch_size=4, max_wait=2, max_batches=3)
    assert counts == {"batches": 3, "records": 10, "dead_lettered": 0}
    assert all(len(batch) <= 4 for batch in seen)
    assert sorted(v for batch in seen for v in batch) == list(range(10))
    assert kafka_consume(topic, group, max_wait=1) == []  # all committed


def test_a_failing_batch_goes_to_the_dead_letter_topic_after_n_attempts(
    topic: KafkaTopic, kafka_broker: KafkaBroker
) -> None:
    dlq = create_topic(kafka_broker)
    kafka_produce(topic, ["ok-1", "poison", "ok-2"], partition=0)
    attempts: list[list[str]] = []

    def load(records: list[dict[str, Any]]) -> None:
        values = [r["value"] for r in records]
        attempts.append(values)
        if "poison" in values:
            raise ValueError("cannot load poison")

    group = unique("g")
    counts = listen(
        topic,
        load,
        group_id=group,
        batch_size=3,
        max_wait=2,
        max_attempts=2,
        retry_delay=0,
        dead_letter_topic=dlq,
        idle_timeout=2,
    )
    assert attempts == [["ok-1", "poison", "ok-2"]] * 2
    assert counts["dead_lettered"] == 3 and counts["batches"] == 1
    dead = kafka_consume(
        topic.model_copy(update={"topic": dlq}), unique("g"), max_records=3, max_wait=5
    )
    assert [r["value"] for r in dead] == ["ok-1", "poison", "ok-2"]
    headers = dead[1]["headers"]
    assert b"cannot load poison" in headers["orch.error"]
    assert headers["orch.source.topic"] == topic.topic.encode()
    assert headers["orch.source.offset"] == b"1" and headers["orch.attempts"] == b"2"
    assert kafka_consume(topic, group, max_wait=1) == []  # committed after the DLQ


def test_without_a_dead_letter_topic_the_failure_stops_and_commits_nothing(
    topic: KafkaTopic,
) -> None:
    kafka_produce(topic, [1, 2])

    def load(records: list[dict[str, Any]]) -> None:
        raise RuntimeError("warehouse down")

    group = unique("g")
    with pytest.raises(RuntimeError, match="warehouse down"):
        listen(topic, load, group_id=group, max_wait=5, max_attempts=2, retry_delay=0)
    again = kafka_consume(topic, group, max_records=2, max_wait=10)
    assert sorted(r["value"] for r in again) == [1, 2]


def _listen(
    kafka_broker: KafkaBroker,
    topic: KafkaTopic,
    group: str,
    tmp_path: Path,
    idle: float = 4,
    **env: str,
) -> subprocess.Popen[str]:
    settings = [f"--setting={k}={v}" for k, v in CONSUMER_TIMEOUTS.items()]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orch_kafka",
            "listen",
            "tests.kafka.listen_flows:record_values",
            "--topic",
            topic.topic,
            "--bootstrap-servers",
            kafka_broker.bootstrap,
            "--group",
            group,
            "--batch-size",
            "10",
            "--max-wait",
            "1",
            "--idle-timeout",
            str(idle),
            *settings,
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "ORCH_HOME": str(tmp_path / "home"),
            "OUT": str(tmp_path / "out"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the listener exited early: {proc.communicate()[1][-3000:]}")
        assert time.monotonic() < deadline, "the listener never reached the batch"
        time.sleep(0.05)


def _batches(tmp_path: Path) -> list[list[int]]:
    out = tmp_path / "out"
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_sigterm_finishes_the_batch_commits_and_exits(
    kafka_broker: KafkaBroker, topic: KafkaTopic, tmp_path: Path
) -> None:
    kafka_produce(topic, list(range(30)), partition=0)
    group = unique("g")
    started = tmp_path / "started"
    proc = _listen(
        kafka_broker, topic, group, tmp_path, HANG_AT="2", HANG_SECONDS="2", STARTED=str(started)
    )
    _wait_for(started, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    batches = _batches(tmp_path)
    assert len(batches) == 2  # the batch in hand was finished, no new one was started
    assert batches[1] == json.loads(started.read_text())
    done = sorted(v for b in batches for v in b)
    rest = kafka_consume(topic, group, max_records=10, max_wait=10)  # the 10 left
    assert sorted(done + [r["value"] for r in rest]) == list(range(30))  # no gap, no repeat


def test_at_least_once_across_a_kill_9_mid_batch(
    kafka_broker: KafkaBroker, topic: KafkaTopic, tmp_path: Path
) -> None:
    kafka_produce(topic, list(range(50)), partition=0)
    group = unique("g")
    started = tmp_path / "started"
    proc = _listen(kafka_broker, topic, group, tmp_path, HANG_AT="3", STARTED=str(started))
    _wait_for(started, proc)
    proc.kill()  # SIGKILL: no clean-up, no commit of the batch in hand
    proc.communicate(timeout=30)
    killed_batch = json.loads(started.read_text())
    before = _batches(tmp_path)
    assert len(before) == 2
    # a new listener takes over from the last commit
    again = _listen(kafka_broker, topic, group, tmp_path, idle=6)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err[-3000:]
    values = [v for b in _batches(tmp_path) for v in b]
    assert sorted(set(values)) == list(range(50))  # nothing lost
    duplicates = sorted(v for v in set(values) if values.count(v) > 1)
    assert set(duplicates) <= set(killed_batch)  # re-read: only the batch that was killed
    assert _batches(tmp_path)[2] == killed_batch


@pytest.mark.parametrize(
    "command", [["orch_kafka"], ["orch.cli.main", "kafka"]], ids=["orch-kafka", "orch kafka"]
)
def test_the_command_names_a_bad_flow_or_topic_in_one_line(
    kafka_broker: KafkaBroker, tmp_path: Path, command: list[str]
) -> None:
    env = {**os.environ, "ORCH_HOME": str(tmp_path / "home")}
    base = [sys.executable, "-m", *command, "listen"]
    out = subprocess.run(
        [*base, "tests.kafka.listen_flows:nothing", "--topic", "t", "--bootstrap-servers", "x:1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "error: flow 'tests.kafka.listen_flows:nothing': tests.kafka.listen_flows has no 'nothing'"
    )
    out = subprocess.run(
        [*base, "tests.kafka.listen_flows:record_values", "--topic", "no-such-block"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1 and "no-such-block" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
