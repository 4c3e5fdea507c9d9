"""A nightly ETL that runs itself: `python nightly_etl.py` serves it at 02:00 Paris time.

Needs `pip install orch-sqlalchemy`. The warehouse is a SQLite file under ORCH_HOME
(point the `warehouse` block at PostgreSQL for real use). While it serves:

    orch deployments ls                                  # schedule, next run, live servers
    orch deployments run nightly-etl --param day=2026-11-30 --wait   # run one day now
    orch runs ls --deployment nightly-etl                # its runs
    kill -TERM <pid>                                     # stop: running flows finish first
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from orch import flow, get_run_logger, task
from orch.settings import orch_home
from orch_sqlalchemy import (
    DatabaseCredentials,
    SqlAlchemyConnector,
    sql_fetch_all,
    sql_script,
    sql_upsert,
)


@task(retries=2, retry_delay_seconds=5)
def extract(day: str) -> list[tuple[str, str, float]]:
    """The day's orders (made up here; an API or a file drop in real life)."""
    rng = random.Random(day)
    return [
        (f"{day}-{i}", rng.choice(["FR", "DE", "IT"]), round(rng.uniform(5, 50), 2))
        for i in range(20)
    ]


@task
def load(rows: list[tuple[str, str, float]], day: str) -> int:
    db = SqlAlchemyConnector.load("warehouse")
    sql_script(
        db,
        "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, country TEXT, amount REAL);"
        "CREATE TABLE IF NOT EXISTS daily_sales (day TEXT, country TEXT, total REAL, "
        "PRIMARY KEY (day, country))",
    )
    # Upserts: a day run twice (a retry, a manual re-run) gives the same tables.
    sql_upsert(db, "orders", rows, key_columns=["id"])
    totals = sql_fetch_all(
        db,
        "SELECT country, round(sum(amount), 2) FROM orders WHERE id LIKE :day "
        "GROUP BY country ORDER BY country",
        {"day": f"{day}-%"},
    )
    sql_upsert(db, "daily_sales", [(day, c, t) for c, t in totals], key_columns=["day", "country"])
    return len(totals)


@flow(name="nightly-etl")
def nightly_etl(day: str | None = None) -> int:
    """Load one day of orders (default: yesterday) and its sales per country."""
    day = day or (date.today() - timedelta(days=1)).isoformat()
    countries = load(extract(day), day)
    get_run_logger().info("loaded %s: sales for %d countries", day, countries)
    return countries


if __name__ == "__main__":
    SqlAlchemyConnector(
        credentials=DatabaseCredentials(driver="sqlite", database=str(orch_home() / "warehouse.db"))
    ).save("warehouse", overwrite=True)
    nightly_etl.serve(
        name="nightly-etl",
        cron="0 2 * * *",
        timezone="Europe/Paris",
        catch_up=1,  # a night missed while the server was down runs when it is back
        retry_crashed=1,  # a run whose server died is run again by another server
    )
