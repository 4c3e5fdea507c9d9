"""General-purpose blocks that ship with orch-core."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orch.blocks.base import Block
from orch.secrets.types import SecretStr


class Secret(Block):
    """One secret value (an API token, a webhook URL), stored encrypted or as a reference.

    Example:
        from orch import SecretRef
        from orch.system_blocks import Secret

        Secret(value=SecretRef("env://GITHUB_TOKEN")).save("github-token")
        token = Secret.load("github-token").get()
    """

    value: SecretStr = Field(description="The secret, or a reference to where it is kept.")

    def get(self) -> str:
        """The secret's plain value (Prefect's ``Secret.get()``; resolves a reference).

        Example:
            ``Secret.load("github-token").get()``
        """
        return self.value.get_secret_value()


class Json(Block):
    """Any JSON-compatible configuration value (not secret).

    Example:
        from orch.system_blocks import Json

        Json(value={"regions": ["eu", "us"], "batch": 500}).save("etl-settings")
        settings = Json.load("etl-settings").value
    """

    value: Any = Field(description="Any JSON value: object, list, string, number, boolean.")


# Prefect's spelling (``prefect.blocks.system.JSON``): the same block type.
JSON = Json
