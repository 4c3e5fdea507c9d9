"""``orch ui``: the read-only web page over the run history and the blocks."""

from __future__ import annotations

from typing import Annotated

import typer


def ui(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on. Anything but loopback needs ORCH_UI_TOKEN set."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 4300,
) -> None:
    """Serve a web page of the flow runs, their task runs and logs, and the saved blocks.

    Read-only, from the store this command uses (ORCH_STORE_URL or the local SQLite file);
    secrets are never decrypted, only masked. Needs `pip install 'orch-core[ui]'`.
    """
    from orch.ui.server import serve

    serve(host=host, port=port)
