"""A prefect-aws + prefect-sqlalchemy flow, moved to orch (docs/migrating-from-prefect.md).

The flow reads a day's orders CSV from S3, drops the rows it cannot use, loads the rest
into PostgreSQL, and writes a per-country summary back to S3. Compared with the Prefect
original, only the imports and the saving of the blocks changed.

Run it with a PostgreSQL database and an S3 bucket (or moto / LocalStack):

    export WAREHOUSE_URL=postgresql://user:password@127.0.0.1:5432/warehouse
    export ORDERS_BUCKET=my-orders-bucket          # must exist
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
    export AWS_ENDPOINT_URL=http://127.0.0.1:5000  # moto or LocalStack only
    python docs/examples/migrating_from_prefect.py
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from orch import SecretRef, flow, task
from orch.cache_policies import INPUTS, TASK_SOURCE
from orch.logging import get_run_logger
from orch_aws import AwsCredentials, S3Bucket
from orch_aws.tasks import s3_upload
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector

SAMPLE = Path(__file__).resolve().parent / "data" / "orders.csv"

CREATE = """
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    country  VARCHAR(2) NOT NULL,
    quantity INTEGER NOT NULL,
    amount   NUMERIC(12, 2) NOT NULL
)
"""
INSERT = (
    "INSERT INTO orders (order_id, country, quantity, amount) "
    "VALUES (:order_id, :country, :quantity, :amount)"
)
SUMMARY = """
SELECT country, count(*) AS orders, sum(amount) AS revenue
FROM orders GROUP BY country ORDER BY revenue DESC
"""


def save_blocks() -> None:
    """Once per environment (Prefect: the same ``.save()`` calls, or its UI)."""
    # References, not values: only "env://..." is stored; resolved when the flow runs.
    credentials = AwsCredentials(
        aws_access_key_id=SecretRef("env://AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=SecretRef("env://AWS_SECRET_ACCESS_KEY"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),  # unset on real AWS
    )
    credentials.save("aws-prod", overwrite=True)
    S3Bucket(bucket_name=os.environ["ORDERS_BUCKET"], credentials=credentials).save(
        "orders", overwrite=True
    )
    SqlAlchemyConnector(credentials=DatabaseCredentials(url=SecretRef("env://WAREHOUSE_URL"))).save(
        "warehouse", overwrite=True
    )


@task(retries=2, retry_delay_seconds=1, cache_policy=INPUTS + TASK_SOURCE)
def extract(key: str) -> list[dict[str, str]]:
    raw = S3Bucket.load("orders").read_path(key)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


@task
def transform(rows: list[dict[str, str]]) -> tuple[list[dict[str, Any]], list[str]]:
    good: list[dict[str, Any]] = []
    rejected: list[str] = []
    for row in rows:
        try:
            quantity, price = int(row["quantity"]), float(row["unit_price"])
        except ValueError:
            rejected.append(row["order_id"])
            continue
        good.append(
            {
                "order_id": int(row["order_id"]),
                "country": row["country"].upper(),
                "quantity": quantity,
                "amount": round(quantity * price, 2),
            }
        )
    return good, rejected


@task
def load(rows: list[dict[str, Any]]) -> int:
    with SqlAlchemyConnector.load("warehouse") as db:
        db.execute(CREATE)
        db.execute("DELETE FROM orders")
        db.execute_many(INSERT, seq_of_parameters=rows)
    return len(rows)


@task
def summarise() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with SqlAlchemyConnector.load("warehouse") as db:
        top = db.fetch_many(SUMMARY, size=2)
        rest = db.fetch_all(SUMMARY)  # as in Prefect: the rest of the same cursor
    return [tuple(r) for r in top], [tuple(r) for r in top + rest]


@task
def publish(summary: list[tuple[Any, ...]], day: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{day}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["country", "orders", "revenue"])
            writer.writerows(summary)
        return S3Bucket.load("orders").upload_from_path(path, f"reports/{day}.csv")


@flow(name="orders-etl", log_prints=True)
def orders_etl(day: str = "2024-05-01") -> str:
    logger = get_run_logger()
    rows, rejected = transform(extract(f"incoming/{day}.csv"))
    loaded = load(rows)
    logger.info("loaded %d orders; rejected %s", loaded, ", ".join(rejected))
    top, summary = summarise()
    print("top countries:", ", ".join(str(country) for country, _, _ in top))
    for country, orders, revenue in summary:
        print(f"{country} {orders:>3} {revenue:>9}")
    return publish(summary, day)


if __name__ == "__main__":
    save_blocks()
    # The day's input: the sample CSV, uploaded with Prefect's argument names.
    s3_upload(bucket=S3Bucket.load("orders"), from_path=SAMPLE, to_path="incoming/2024-05-01.csv")
    print("report:", orders_etl("2024-05-01"))
