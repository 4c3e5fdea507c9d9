"""Start the `orch ui` server (uvicorn) on a host and port, with the token rule.

Example:
    >>> check_binding("127.0.0.1", None)
    >>> check_binding("0.0.0.0", None)
    Traceback (most recent call last):
    ...
    orch.errors.OrchError: orch ui binds to 0.0.0.0 only with a token: set ORCH_UI_TOKEN
"""

from __future__ import annotations

import ipaddress
import os

from orch.errors import MissingDependencyError, OrchError

__all__ = ["check_binding", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    Example:
        >>> is_loopback("localhost"), is_loopback("::1"), is_loopback("10.0.0.5")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_binding(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token (anyone on the network would read
    the run history and the block names)."""
    if not is_loopback(host) and not token:
        raise OrchError(f"orch ui binds to {host} only with a token: set ORCH_UI_TOKEN")


def serve(host: str = "127.0.0.1", port: int = 4300) -> None:
    """Serve the page until interrupted; the token comes from ``ORCH_UI_TOKEN``."""
    token = os.environ.get("ORCH_UI_TOKEN") or None
    check_binding(host, token)
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError(
            "orch ui needs its web server: pip install 'orch-core[ui]'"
        ) from None
    from orch.store import get_store
    from orch.ui.app import create_app

    app = create_app(token)
    where = get_store().where()
    shown = "localhost" if host in ("127.0.0.1", "localhost") else host
    address = f"http://{shown if ':' not in shown else f'[{shown}]'}:{port}/"
    print(f"orch ui: {address} (read-only view of the store {where})", flush=True)
    if token:
        print(
            "orch ui: a token is required: open the address with ?token=<ORCH_UI_TOKEN>",
            flush=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
