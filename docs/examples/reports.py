"""The README's block type, in a module: ``orch`` (the CLI) and every flow import it from
here to load a saved ``reports-api`` block (a class defined in ``__main__`` cannot be)."""

from orch import Block, SecretStr


class ReportsApi(Block):
    """Credentials of our reporting API."""

    url: str
    token: SecretStr
