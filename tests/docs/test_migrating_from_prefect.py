"""docs/examples/migrating_from_prefect.py (the migration page's worked example) runs as
written against the local PostgreSQL and moto, twice (the second run hits the cache)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import psycopg
from orch import history

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs/examples/migrating_from_prefect.py"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_migrated_flow_runs_against_postgres_and_s3(
    orch_home: Path, moto_server: str, pg_database: str
) -> None:
    bucket = f"orders-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret",
    )
    s3.create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORCH_"))}
    env.update(
        ORCH_HOME=str(orch_home),
        ORDERS_BUCKET=bucket,
        WAREHOUSE_URL=pg_database,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing-secret",
        AWS_ENDPOINT_URL=moto_server,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
    )

    out = _run(env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "loaded 10 orders; rejected 1007, 1011" in out.stderr
    # log_prints=True: the flow's print() lines are run log records (stderr and history)
    top = r"\| INFO +\| Flow run '[a-z]+-[a-z]+' - top countries: US, FR$"
    assert re.search(top, out.stderr, re.M)
    summary = re.findall(r" - (US|FR|GB|DE) +(\d+) +([\d.]+)$", out.stderr, re.M)
    assert summary == [("US", "3", "348.00"), ("FR", "3", "176.90"), ("GB", "2", "96.60"),
                       ("DE", "2", "50.20")]  # fmt: skip
    assert "report: reports/2024-05-01.csv" in out.stdout

    # The rows are in PostgreSQL, the report in the bucket.
    with psycopg.connect(pg_database) as conn:
        row = conn.execute("SELECT count(*), sum(quantity) FROM orders").fetchone()
    assert row == (10, 61)
    report = s3.get_object(Bucket=bucket, Key="reports/2024-05-01.csv")["Body"].read()
    assert report.decode().splitlines() == [
        "country,orders,revenue",
        "US,3,348.00",
        "FR,3,176.90",
        "GB,2,96.60",
        "DE,2,50.20",
    ]
    # Only references were stored for the secrets.
    stored = (orch_home / "orch.db").read_bytes()
    assert b"testing-secret" not in stored
    assert b"env://AWS_SECRET_ACCESS_KEY" in stored

    # A second run works (blocks overwritten, table refilled); extract comes from the cache.
    again = _run(env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "loaded 10 orders" in again.stderr
    last = history.list_flow_runs(limit=1)[0]
    shown = history.get_flow_run(last["id"])
    assert shown is not None
    states = {t["name"].rsplit("-", 1)[0]: t["state"] for t in shown["task_runs"]}
    assert states == {
        "extract": "Cached",
        "transform": "Completed",
        "load": "Completed",
        "summarise": "Completed",
        "publish": "Completed",
    }
