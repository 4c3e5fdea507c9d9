"""Quickstart: save blocks on the embedded store, then run an ETL flow into SQLite.

Run it with ``scripts/demo`` (or ``python docs/examples/quickstart.py`` in the venv).
Blocks live in ``$ORCH_HOME/orch.db`` (default ``~/.orch``) and the demo's database in
``$ORCH_HOME/quickstart.sqlite``: nothing to start. Re-running it is safe.

The flow reads ``docs/examples/data/orders.csv``, drops the rows it cannot use, loads the
rest with ``sql_load_rows`` and queries a per-country summary back.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from orch import SecretRef, SecretStr, flow, get_run_context, task
from orch.system_blocks import Secret
from orch_sqlalchemy import (
    DatabaseCredentials,
    SqlAlchemyConnector,
    sql_fetch_all,
    sql_load_rows,
    sql_script,
)

DATA = Path(__file__).resolve().parent / "data" / "orders.csv"

SCHEMA = """
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (
    order_id   INTEGER PRIMARY KEY,
    ordered_at TIMESTAMP NOT NULL,
    country    VARCHAR(2) NOT NULL,
    product    VARCHAR(100) NOT NULL,
    quantity   INTEGER NOT NULL,
    amount     NUMERIC(12, 2) NOT NULL
);
"""

SUMMARY = """
SELECT country, count(*) AS orders, sum(quantity) AS items, round(sum(amount), 2) AS revenue
FROM orders
GROUP BY country
ORDER BY revenue DESC
"""


def save_blocks(home: Path) -> None:
    # A secret given as a reference: only "env://REPORTS_TOKEN" is stored.
    os.environ.setdefault("REPORTS_TOKEN", "demo-token-from-the-environment")
    Secret(value=SecretRef("env://REPORTS_TOKEN")).save("reports-token", overwrite=True)
    # A literal secret: stored encrypted with the key in $ORCH_HOME/secret.key.
    Secret(value=SecretStr("not-in-plain-text")).save("warehouse-password", overwrite=True)
    # The database the flow loads into: a SQLite file next to the store.
    SqlAlchemyConnector(
        credentials=DatabaseCredentials(driver="sqlite", database=str(home / "quickstart.sqlite"))
    ).save("local", overwrite=True)


@task
def extract(path: str) -> list[dict[str, str]]:
    """Read the CSV export as dicts."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@task
def transform(rows: list[dict[str, str]]) -> tuple[list[tuple[Any, ...]], list[str]]:
    """Typed rows for the ``orders`` table, and the ids of the rows that were rejected."""
    clean, rejected = [], []
    for row in rows:
        try:
            quantity, price = int(row["quantity"]), float(row["unit_price"])
        except ValueError:
            rejected.append(row["order_id"])
            continue
        clean.append(
            (
                int(row["order_id"]),
                datetime.fromisoformat(row["ordered_at"]),
                row["country"].strip().upper(),
                row["product"],
                quantity,
                round(quantity * price, 2),
            )
        )
    return clean, rejected


@flow(name="quickstart-etl")
def etl(csv_path: str) -> dict[str, Any]:
    db = SqlAlchemyConnector.load("local")
    sql_script(db, SCHEMA)
    rows, rejected = transform(extract(csv_path))
    loaded = sql_load_rows(db, "orders", rows)
    summary = sql_fetch_all(db, SUMMARY, as_dict=True)
    return {
        "run_id": get_run_context().flow_run.id,
        "loaded": loaded,
        "rejected": rejected,
        "summary": summary,
    }


def main() -> None:
    home = Path(os.environ.get("ORCH_HOME") or "~/.orch").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    save_blocks(home)

    token = Secret.load("reports-token")
    local = SqlAlchemyConnector.load("local")
    print(f"loaded {token!r}")
    print(f"loaded {Secret.load('warehouse-password')!r}")
    print(f"token resolved from the environment: {len(token.value.get_secret_value())} characters")
    print(f"database: {local.credentials.describe()}")

    result = etl(str(DATA))
    print(f"\nloaded {result['loaded']} orders; rejected {', '.join(result['rejected'])}")
    print(f"{'country':8} {'orders':>6} {'items':>6} {'revenue':>9}")
    for line in result["summary"]:
        print(
            f"{line['country']:8} {line['orders']:>6} {line['items']:>6} "
            f"{float(line['revenue']):>9.2f}"
        )
    print(f"\nflow run id: {result['run_id']}")


if __name__ == "__main__":
    main()
