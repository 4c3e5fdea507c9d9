"""The `orch ui` web app: a read-only page over the run history and the blocks.

Starlette serves one static page (``static/``, plain JavaScript, no build step) and the
JSON endpoints it reads; every endpoint is a GET, so nothing the browser sends can change
the store. With a token (required when bound beyond loopback), each request must carry it
as ``Authorization: Bearer``, the ``orch_ui_token`` cookie, or once as ``?token=`` (which
sets the cookie).

JSON endpoints (documented in docs/ui.md):
``/api/runs`` (``flow``, ``state``, ``tag``, ``since``, ``until``, ``before``, ``limit``),
``/api/flows``, ``/api/runs/{id}``, ``/api/runs/{id}/logs`` (``after``), ``/api/blocks``,
``/api/blocks/{type}/{name}``, ``/api/health``.

Example:
    >>> app = create_app(token=None)
    >>> sorted(r.path for r in app.routes)[:2]
    ['/', '/api/blocks']
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.ui import queries

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).with_name("static")
COOKIE = "orch_ui_token"
_HEADERS = {
    # The page loads only its own script and style; no frame may embed it.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _number(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        from starlette.exceptions import HTTPException

        raise HTTPException(400, f"{name} must be a number (seconds since the epoch)") from None


def create_app(token: str | None) -> Starlette:
    """The Starlette app; ``token``: what every request must carry (``None``: nothing).

    Example:
        >>> create_app(token="t0ken").routes[0].path
        '/'
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from orch.errors import BlockNotFoundError, OrchError

    # The store is read by plain functions, which Starlette runs in its thread pool: a slow
    # read never stalls the event loop (and each thread has its own store connection).

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    def runs(request: Request) -> Response:
        q = request.query_params
        where = queries.RunFilter(
            flow=q.get("flow") or None,
            state=q.get("state") or None,
            tag=q.get("tag") or None,
            since=_number(request, "since"),
            until=_number(request, "until"),
        )
        limit = int(_number(request, "limit") or 50)
        return JSONResponse(queries.list_runs(where, before=q.get("before") or None, limit=limit))

    def flows(request: Request) -> Response:
        return JSONResponse(queries.flow_names())

    def run(request: Request) -> Response:
        found = queries.run_page(request.path_params["run_id"])
        if found is None:
            raise HTTPException(404, "no flow run with this id")
        return JSONResponse(found)

    def run_logs(request: Request) -> Response:
        after = int(_number(request, "after") or 0)
        return JSONResponse(queries.logs(request.path_params["run_id"], after))

    def blocks(request: Request) -> Response:
        return JSONResponse(queries.blocks())

    def block(request: Request) -> Response:
        try:
            page = queries.block_page(request.path_params["slug"], request.path_params["name"])
        except BlockNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        return JSONResponse(page)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def guard(request: Request, call_next: RequestResponseEndpoint) -> Response:
        given = _token_of(request)
        if token is not None and (given is None or not hmac.compare_digest(given, token)):
            response: Response = PlainTextResponse(
                "orch ui: a token is required (open the address `orch ui` printed, with "
                "?token=..., or send Authorization: Bearer ...)",
                status_code=401,
            )
        else:
            try:
                response = await call_next(request)
            except OrchError as exc:  # a store that cannot be read: said, not a traceback
                from orch.secrets.redaction import redact

                response = PlainTextResponse(f"orch ui: {redact(str(exc))}", status_code=503)
            if token is not None and request.query_params.get("token") and given == token:
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        response.headers.update(_HEADERS)
        return response

    routes = [
        Route("/", index),
        Route("/api/runs", runs),
        Route("/api/flows", flows),
        Route("/api/runs/{run_id}", run),
        Route("/api/runs/{run_id}/logs", run_logs),
        Route("/api/blocks", blocks),
        Route("/api/blocks/{slug}/{name}", block),
        Route("/api/health", health),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)])


def _token_of(request: Any) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return str(header[7:].strip())
    given = request.query_params.get("token") or request.cookies.get(COOKIE)
    return str(given) if given else None
