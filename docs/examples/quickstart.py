"""Quickstart: save blocks on the embedded store, load them back and use them.

Run it with ``scripts/demo`` (or ``python docs/examples/quickstart.py`` in the venv).
Blocks live in ``$ORCH_HOME/orch.db`` (default ``~/.orch``); nothing to start.
"""

from __future__ import annotations

import os

from orch import Block, SecretRef, SecretStr
from orch.system_blocks import Json


class ReportsApi(Block):
    """Credentials of a reporting API.

    Example:
        ReportsApi(url="https://reports.internal", token=SecretRef("env://REPORTS_TOKEN"))
    """

    url: str
    token: SecretStr


class Warehouse(Block):
    """A warehouse login whose password is stored encrypted.

    Example:
        Warehouse(user="etl", password="s3cret")
    """

    user: str
    password: SecretStr


def main() -> None:
    # A secret given as a reference: only "env://REPORTS_TOKEN" is stored.
    os.environ.setdefault("REPORTS_TOKEN", "demo-token-from-the-environment")
    ReportsApi(url="https://reports.internal", token=SecretRef("env://REPORTS_TOKEN")).save(
        "demo", overwrite=True
    )
    # A literal secret: stored encrypted with the key in $ORCH_HOME/secret.key.
    Warehouse(user="etl", password=SecretStr("not-in-plain-text")).save("demo", overwrite=True)
    Json(value={"regions": ["eu", "us"], "batch": 500}).save("demo-settings", overwrite=True)

    api = ReportsApi.load("demo")
    wh = Block.load("warehouse/demo")
    settings = Json.load("demo-settings").value
    print(f"loaded {api!r}")
    print(f"loaded {wh!r}")
    token = api.token.get_secret_value()
    password = wh.password.get_secret_value()  # type: ignore[attr-defined]
    print(f"token resolved from the environment: {len(token)} characters (never printed)")
    print(f"password decrypted: {len(password)} characters (never printed)")
    for region in settings["regions"]:
        print(f"would send a report for {region} in batches of {settings['batch']}")
    print("saved blocks:", ", ".join(i.full_name for i in Block.list_saved()))


if __name__ == "__main__":
    main()
