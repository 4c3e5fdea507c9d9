"""orch.integration.resources: per-process clients of connector blocks, their keys, and pickling."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from orch import Block, SecretRef, SecretStr
from orch.integration.resources import (
    ProcessResources,
    ResourceSlot,
    block_fingerprint,
    fingerprint_input,
)
from pydantic import PrivateAttr


class ResApiCredentials(Block):
    """Credentials of an API (a test block).

    Example:
        ResApiCredentials(user="etl", token=SecretRef("env://API_TOKEN"))
    """

    block_type_slug = "res-api-credentials"
    user: str
    token: SecretStr


class ResApiConnector(Block):
    """A connector holding credentials, pickled by name when saved (a test block).

    Example:
        ResApiConnector(credentials=ResApiCredentials.load("prod"), timeout=5)
    """

    block_type_slug = "res-api-connector"
    credentials: ResApiCredentials
    timeout: int = 30
    _slot: ResourceSlot[Client] = PrivateAttr(default_factory=ResourceSlot)


class Client:
    """A stand-in for an SDK client: knows the process that made it and if it is closed."""

    def __init__(self, name: str = "client") -> None:
        self.name = name
        self.pid = os.getpid()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _table(**kwargs: Any) -> ProcessResources[Client]:
    return ProcessResources("test clients", close=Client.close, **kwargs)


# --- get or create -------------------------------------------------------------------------
def test_threads_racing_for_one_key_create_exactly_one() -> None:
    table = _table()
    made: list[Client] = []
    barrier = threading.Barrier(16)
    got: list[Client] = []

    def create() -> Client:
        time.sleep(0.05)  # a slow SDK call: every other thread arrives meanwhile
        client = Client()
        made.append(client)
        return client

    def work() -> None:
        barrier.wait()
        got.append(table.get_or_create("k", create))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    assert len(got) == 16 and all(c is made[0] for c in got)
    assert "k" in table and table["k"] is made[0] and len(table) == 1
    table.close_all()


def test_creations_under_other_keys_are_not_held_up() -> None:
    table = _table()
    # Each creation waits for the other one to be running: only possible if two keys are
    # created at the same time (a table-wide lock would time this barrier out).
    both_running = threading.Barrier(2, timeout=5)

    def create() -> Client:
        both_running.wait()
        return Client()

    results: dict[str, Client] = {}
    threads = [
        threading.Thread(target=lambda k=k: results.__setitem__(k, table.get_or_create(k, create)))
        for k in ("a", "b")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"a", "b"} and results["a"] is not results["b"]
    table.close_all()


def test_a_failed_creation_is_retried_by_the_next_caller() -> None:
    table = _table()
    attempts: list[int] = []

    def create() -> Client:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("server starting")
        return Client()

    with pytest.raises(ConnectionError):
        table.get_or_create("k", create)
    assert "k" not in table
    assert table.get_or_create("k", create) is table["k"]
    assert len(attempts) == 2
    table.close_all()


def test_a_slot_skips_the_key_until_its_resource_is_closed() -> None:
    table = _table()
    slot: ResourceSlot[Client] = ResourceSlot()
    keys: list[str] = []

    def key() -> str:
        keys.append("k")
        return "k"

    first = table.get_or_create(key, Client, slot=slot)
    assert table.get_or_create(key, Client, slot=slot) is first
    assert keys == ["k"]  # the hot path computed no key
    assert table.close("k") is True
    assert first.closed
    # Closed through the table (e.g. by an equal block): the slot notices.
    second = table.get_or_create(key, Client, slot=slot)
    assert second is not first and keys == ["k", "k"]
    slot.clear()
    assert slot.value is None and slot.key is None
    table.close_all()


def test_release_closes_only_when_the_last_holder_lets_go() -> None:
    # Before: closing one connector closed the client every equal connector was using.
    table = _table()
    first: ResourceSlot[Client] = ResourceSlot()
    second: ResourceSlot[Client] = ResourceSlot()
    client = table.get_or_create("k", Client, slot=first)
    assert table.get_or_create("k", Client, slot=second) is client
    assert table.get_or_create("k", Client, slot=second) is client  # one hold per slot
    assert table.holders("k") == 2
    assert table.release(first) is False and not client.closed
    assert table.release(first) is False and table.holders("k") == 1  # released once only
    assert table.get_or_create("k", Client, slot=second) is client
    assert table.release(second) is True and client.closed and "k" not in table
    assert table.release(ResourceSlot()) is False  # a slot that never held anything


def test_a_cleared_slot_drops_its_hold_without_closing() -> None:
    table = _table()
    first: ResourceSlot[Client] = ResourceSlot()
    second: ResourceSlot[Client] = ResourceSlot()
    client = table.get_or_create("k", Client, slot=first)
    table.get_or_create("k", Client, slot=second)
    first.clear()  # e.g. its block's settings changed
    assert table.holders("k") == 1 and not client.closed
    assert table.release(second) is True and client.closed


def test_a_slot_is_never_copied_or_pickled() -> None:
    slot: ResourceSlot[Client] = ResourceSlot()
    slot.key, slot.value = "k", Client()
    for clone in (copy.copy(slot), copy.deepcopy(slot), pickle.loads(pickle.dumps(slot))):
        assert clone.value is None and clone.key is None


# --- closing -------------------------------------------------------------------------------
def test_close_and_close_all_call_the_closer() -> None:
    table = _table()
    a = table.get_or_create("a", lambda: Client("a"))
    b = table.get_or_create("b", lambda: Client("b"))
    assert table.close("a") is True and a.closed and not b.closed
    assert table.close("a") is False  # nothing left under that key
    assert "a" not in table and table.values() == [b]
    c = table.get_or_create("c", lambda: Client("c"))
    table.close_all()
    assert b.closed and c.closed and len(table) == 0
    assert table.get_or_create("a", lambda: Client("a2")).name == "a2"  # usable again
    table.close_all()


def test_close_all_closes_the_others_when_one_close_fails() -> None:
    closed: list[str] = []

    def close(client: Client) -> None:
        if client.name == "bad":
            raise OSError("already gone")
        closed.append(client.name)

    table: ProcessResources[Client] = ProcessResources("flaky", close=close)
    for name in ("one", "bad", "two"):
        table.get_or_create(name, lambda name=name: Client(name))  # type: ignore[misc]
    table.close_all()
    assert sorted(closed) == ["one", "two"] and len(table) == 0


def test_resources_are_closed_at_interpreter_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    log = tmp_path / "closed.txt"
    script = f"""
from pathlib import Path
from orch.integration.resources import ProcessResources
log = Path({str(log)!r})
table = ProcessResources("exit", close=lambda name: log.open("a").write(name + "\\n"))
table.get_or_create("k", lambda: "engine-1")
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    assert log.read_text() == "engine-1\n"


# --- fork ----------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_forgets_the_parents_resource_and_makes_its_own(tmp_path: Path) -> None:
    log = tmp_path / "events.txt"

    def record(event: str, client: Client) -> None:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {event} {client.name}\n")

    table: ProcessResources[Client] = ProcessResources(
        "forked",
        close=lambda c: record("closed", c),
        forget=lambda c: record("forgot", c),
    )
    parent = table.get_or_create("k", lambda: Client("parent"))
    slot: ResourceSlot[Client] = ResourceSlot()
    assert table.get_or_create("k", Client, slot=slot) is parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's exit hooks
        try:
            child = table.get_or_create("k", lambda: Client("child"), slot=slot)
            table.close_all()  # what the child's exit does
            os.write(write, f"{child.name} {child.pid} {child is parent}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == f"child {pid} False"
    assert log.read_text().splitlines() == [f"{pid} forgot parent", f"{pid} closed child"]
    # The parent's resource is untouched and still the one of the parent.
    assert table.get_or_create("k", Client, slot=slot) is parent and table["k"] is parent
    table.close_all()
    assert log.read_text().splitlines()[-1] == f"{os.getpid()} closed parent"


# --- fingerprints --------------------------------------------------------------------------
def _connector(token: str | SecretRef = "tok-Plain-4242", timeout: int = 30) -> ResApiConnector:
    return ResApiConnector(credentials=ResApiCredentials(user="etl", token=token), timeout=timeout)


def test_equal_blocks_have_equal_fingerprints_and_changes_show() -> None:
    fp = block_fingerprint(_connector())
    assert block_fingerprint(_connector()) == fp
    assert block_fingerprint(_connector(token="tok-Other-1")) != fp  # literal secret changed
    assert block_fingerprint(_connector(timeout=5)) != fp  # setting changed
    changed = _connector()
    changed.credentials.user = "other"
    assert block_fingerprint(changed) != fp  # nested block changed


def test_the_secret_is_not_derivable_from_the_fingerprint() -> None:
    secret = "tok-Plain-4242"
    block = _connector(secret)
    doc = json.dumps(fingerprint_input(block), sort_keys=True)
    assert secret not in doc
    # Not even its plain hash: a guessable secret can't be found by hashing candidates.
    for encoded in (secret.encode(), json.dumps(secret).encode()):
        assert hashlib.sha256(encoded).hexdigest() not in doc
    assert secret not in block_fingerprint(block)
    assert fingerprint_input(block)["$type"] == "res-api-connector"


def test_a_reference_enters_as_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RES_API_TOKEN", "tok-From-Env-77")
    block = _connector(SecretRef("env://RES_API_TOKEN"))
    doc = json.dumps(fingerprint_input(block))
    assert "env://RES_API_TOKEN" in doc and "tok-From-Env-77" not in doc
    assert block_fingerprint(block) != block_fingerprint(_connector("tok-From-Env-77"))


# --- pickling ------------------------------------------------------------------------------
def test_a_saved_block_pickles_by_name_without_its_secret() -> None:
    secret = "tok-Pickle-Secret-9"
    block = _connector(secret)
    block.credentials.save("pickled-creds")
    block.save("pickled")
    loaded = ResApiConnector.load("pickled")
    loaded._slot.key, loaded._slot.value = "k", Client()
    data = pickle.dumps(loaded)
    assert secret.encode() not in data
    assert b"res-api-connector/pickled" in data
    back = pickle.loads(data)
    assert back == loaded and back.block_document_name == "res-api-connector/pickled"
    assert back.credentials.token.get_secret_value() == secret
    assert back._slot.value is None


def test_a_saved_block_changed_after_loading_pickles_by_value() -> None:
    block = _connector("tok-Changed-1")
    block.credentials.save("changed-creds")
    block.save("changed")
    loaded = ResApiConnector.load("changed")
    changed = loaded.model_copy(update={"timeout": 99})
    assert pickle.loads(pickle.dumps(changed)).timeout == 99
    loaded.timeout = 42
    assert pickle.loads(pickle.dumps(loaded)).timeout == 42
    unchanged = ResApiConnector.load("changed")
    assert b"res-api-connector/changed" in pickle.dumps(unchanged)  # still by name


def test_an_unsaved_block_pickles_by_value_without_its_client() -> None:
    block = _connector()
    block._slot.key, block._slot.value = "k", Client()
    back = pickle.loads(pickle.dumps(block))
    assert back == block and back.block_document_name is None
    assert back._slot.value is None
