"""`orch ui`'s JSON endpoints, served by the real CLI over HTTP, read from a real store."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from orch import SecretRef, flow, get_run_logger, history, task
from orch.system_blocks import Secret

from tests.ui.support import SECRET, get, running_ui


@task(retries=1, retry_delay_seconds=0)
def step(i: int) -> int:
    if i == 2:
        raise ValueError(f"bad row {i}")
    return i


@flow(name="nightly")
def nightly(n: int) -> int:
    get_run_logger().info("loading %d rows", n)
    return sum(f.result() for f in step.map(range(n)) if f.state.is_completed())


@flow(name="nightly", tags=["prod"])
def nightly_prod(n: int) -> int:
    return nightly.fn(n)


@flow(name="parent-flow")
def parent() -> int:
    return nightly(1)


@flow(name="failing")
def failing(token: str) -> None:
    get_run_logger().info("using %s", Secret.load("api-token").get())
    raise RuntimeError(f"refused with {Secret.load('api-token').get()}")


def _fill() -> None:
    nightly_prod(3)
    parent()
    # A secret this process has revealed is redacted wherever it goes: a parameter, a log
    # line, an error.
    Secret(value=SECRET).save("api-token", overwrite=True)
    Secret.load("api-token").get()
    with pytest.raises(RuntimeError):
        failing(SECRET)
    history.flush()


def test_runs_filters_and_run_page() -> None:
    _fill()
    with running_ui() as base:
        runs = get(base, "/api/runs").json()["runs"]
        assert [r["flow_name"] for r in runs] == ["failing", "nightly", "parent-flow", "nightly"]
        assert {r["flow_name"] for r in get(base, "/api/runs?flow=nightly").json()["runs"]} == {
            "nightly"
        }
        failed = get(base, "/api/runs?state=Failed").json()["runs"]
        assert [r["flow_name"] for r in failed] == ["failing"]
        tagged = get(base, "/api/runs?tag=prod").json()["runs"]
        assert len(tagged) == 1 and tagged[0]["tags"] == ["prod"]
        assert tagged[0]["task_runs"] == 3
        assert get(base, "/api/runs?tag=pro").json()["runs"] == []  # a whole tag, not a prefix
        assert get(base, f"/api/runs?since={time.time() + 60}").json()["runs"] == []
        assert len(get(base, f"/api/runs?until={time.time() + 60}").json()["runs"]) == 4
        assert get(base, "/api/runs?since=yesterday").status_code == 400
        assert get(base, "/api/flows").json() == ["failing", "nightly", "parent-flow"]

        run = get(base, f"/api/runs/{tagged[0]['id']}").json()
        columns = run["task_runs"]["columns"]
        run["task_runs"] = [dict(zip(columns, r, strict=True)) for r in run["task_runs"]["rows"]]
        assert [t["state"] for t in run["task_runs"]].count("Failed") == 1
        retried = next(t for t in run["task_runs"] if t["state"] == "Failed")
        assert retried["attempts"] == 2 and "bad row 2" in retried["error"]
        assert run["parameters"] == {"n": "3"}

        outer = next(r for r in runs if r["flow_name"] == "parent-flow")
        outer_page = get(base, f"/api/runs/{outer['id']}").json()
        (child,) = outer_page["child_flow_runs"]
        assert child["flow_name"] == "nightly"
        assert get(base, f"/api/runs/{child['id']}").json()["parent"]["id"] == outer["id"]
        assert get(base, "/api/runs/no-such-run").status_code == 404


def test_logs_are_read_from_an_offset_for_tailing() -> None:
    _fill()
    with running_ui() as base:
        run_id = get(base, "/api/runs?flow=nightly&tag=prod").json()["runs"][0]["id"]
        first = get(base, f"/api/runs/{run_id}/logs").json()
        messages = [line["message"] for line in first["lines"]]
        assert "loading 3 rows" in messages
        assert first["next"] == len(first["lines"])
        assert get(base, f"/api/runs/{run_id}/logs?after={first['next']}").json() == {
            "lines": [],
            "next": first["next"],
        }


def test_paging_is_by_keyset_and_loses_no_run() -> None:
    @flow(name="many")
    def many(i: int) -> int:
        return i

    for i in range(7):
        many(i)
    history.flush()
    with running_ui() as base:
        seen: list[str] = []
        cursor = ""
        pages = 0
        while True:
            page = get(base, f"/api/runs?limit=3&before={cursor}").json()
            seen += [r["id"] for r in page["runs"]]
            pages += 1
            if page["next"] is None:
                break
            cursor = page["next"]
        assert pages == 3 and len(seen) == len(set(seen)) == 7


def test_no_secret_reaches_the_browser_and_references_show_as_references() -> None:
    _fill()
    Secret(value=SecretRef("env://ORCH_UI_TEST_TOKEN")).save("by-reference")
    with running_ui() as base:
        responses = [get(base, "/"), get(base, "/static/app.js"), get(base, "/api/blocks")]
        runs = get(base, "/api/runs").json()["runs"]
        responses.append(get(base, "/api/runs"))
        for run in runs:
            responses += [get(base, f"/api/runs/{run['id']}"),
                          get(base, f"/api/runs/{run['id']}/logs")]  # fmt: skip
        block = get(base, "/api/blocks/secret/api-token")
        reference = get(base, "/api/blocks/secret/by-reference")
        responses += [block, reference]
        assert block.json()["fields"] == {"value": "**********"}
        assert reference.json()["fields"] == {"value": "<reference env://ORCH_UI_TEST_TOKEN>"}
        assert get(base, "/api/blocks/secret/nope").status_code == 404
        for response in responses:
            assert response.status_code == 200, response.url
            assert SECRET not in response.text, response.url
        failing = next(r for r in runs if r["flow_name"] == "failing")
        assert "**********" in failing["error"]  # stored redacted, shown as stored
        assert "**********" in failing["parameters"]["token"]


def test_read_only_nothing_changes_the_store(orch_home: Path) -> None:
    _fill()
    database = orch_home / "orch.db"

    def dump() -> list[str]:
        with sqlite3.connect(database) as conn:
            return list(conn.iterdump())

    before = dump()
    with running_ui() as base:
        runs = get(base, "/api/runs").json()["runs"]
        for run in runs:
            get(base, f"/api/runs/{run['id']}")
        get(base, "/api/blocks/secret/api-token")
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            sent = httpx.request(method, f"{base}/api/runs/{runs[0]['id']}", timeout=10)
            assert sent.status_code == 405, method
    assert dump() == before


def test_beyond_loopback_a_token_is_required() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "orch.cli.main", "ui", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        env={k: v for k, v in __import__("os").environ.items() if k != "ORCH_UI_TOKEN"},
        check=False,
        timeout=30,
    )
    assert refused.returncode == 1
    assert "only with a token: set ORCH_UI_TOKEN" in refused.stderr


def test_with_a_token_every_request_must_carry_it() -> None:
    _fill()
    token = "t0ken-" + "x" * 20
    with running_ui(env={"ORCH_UI_TOKEN": token}) as base:
        assert get(base, "/api/runs").status_code == 401
        assert get(base, "/").status_code == 401
        assert get(base, "/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert get(base, "/api/runs", headers={"Authorization": f"Bearer {token}"}).is_success
        with httpx.Client(base_url=base, timeout=10) as client:
            first = client.get("/", params={"token": token})
            assert first.is_success and "orch_ui_token" in first.headers["set-cookie"]
            assert client.get("/api/blocks").is_success  # the cookie carries it from now on


def test_the_page_reading_all_the_time_never_blocks_a_flow_s_writes(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import threading

    @task
    def tiny(i: int) -> int:
        return i

    @flow(name="busy")
    def busy(n: int) -> None:
        for _ in range(10):
            tiny.map(range(n)).wait()
            history.flush()  # each batch is a write transaction while the page reads
            time.sleep(0.05)  # let the readers in between the writes, too

    busy(1)
    stop = threading.Event()
    reads = 0

    with running_ui() as base:
        run_id = get(base, "/api/runs").json()["runs"][0]["id"]

        def read_all_the_time() -> None:
            nonlocal reads
            with httpx.Client(base_url=base, timeout=10) as client:
                while not stop.is_set():
                    assert client.get("/api/runs").is_success
                    assert client.get(f"/api/runs/{run_id}").is_success
                    reads += 2

        readers = [threading.Thread(target=read_all_the_time) for _ in range(2)]
        for reader in readers:
            reader.start()
        try:
            busy(200)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        page = get(base, "/api/runs?flow=busy&limit=1").json()["runs"][0]
    assert reads > 10
    assert page["state"] == "Completed" and page["task_runs"] == 2000
    assert "not recorded" not in capfd.readouterr().err


def test_a_run_s_links_are_on_its_page() -> None:
    from orch.integration import link_run

    @flow(name="linked")
    def linked() -> None:
        link_run("mlflow run", "3f2a http://mlflow.internal/#/runs/3f2a")

    linked()
    history.flush()
    with running_ui() as base:
        run_id = get(base, "/api/runs?flow=linked").json()["runs"][0]["id"]
        page = get(base, f"/api/runs/{run_id}").json()
        assert page["links"] == {"mlflow run": "3f2a http://mlflow.internal/#/runs/3f2a"}
