"""``shuangsuiji serve``: the Registry over HTTP for host systems in any language.

A thin adapter: every endpoint calls one public method of :class:`~shuangsuiji.registry.Registry`
(or its store) and turns the answer into JSON; the rules, the transactions and the audit events
are the library's. Install with the ``server`` extra (FastAPI and uvicorn)::

    pip install "shuangsuiji[server]"
    shuangsuiji serve --db sqlite:///ssj.db --keys keys.toml --port 8750

The schema is at ``/openapi.json`` (a copy in ``docs/openapi.json``), the interactive page at
``/docs``. How to run it, the keys and roles, and the threat model: ``docs/server.md``.

**Who acts.** Each call carries an API key (``Authorization: Bearer …``) bound to a named person
with roles (:mod:`shuangsuiji.server.auth`); an endpoint accepts the roles that may do its step
(403 otherwise) and passes the person to the registry as an :class:`~shuangsuiji.actors.Actor`
(person id, name, the role used, the request id), which the audit event records.

**Errors** by the library's families (:mod:`shuangsuiji.errors`), as
``{"error": family, "detail": message, "request_id": …}``: not found 404, invalid input 422,
refused by the rules or the state 409 (``refused``), records that disagree 409
(``integrity``); a malformed body is a 422 from the schema. A refused call stores nothing.
Any other exception is a bug and answers 500 without details (the server's log has them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shuangsuiji._version import __version__
from shuangsuiji.errors import ShuangsuijiError
from shuangsuiji.registry import Registry
from shuangsuiji.server import _draws, _records, _setup
from shuangsuiji.server._context import Service, body_reply, error_reply, http_reply
from shuangsuiji.server._limits import DEFAULT_MAX_UPLOAD_MB, BodyLimit
from shuangsuiji.server.auth import KeyRing, KeySource
from shuangsuiji.store import Store

__all__ = ["create_app", "openapi_schema"]

log = logging.getLogger("shuangsuiji.server")


def create_app(
    registry_or_url: Registry | str,
    *,
    keys: KeyRing | str | Path,
    proxy_header: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20,
) -> FastAPI:
    """The HTTP service over ``registry_or_url`` (a :class:`Registry` or a store URL, opened
    with :meth:`Registry.open`), for the people of ``keys`` (a :class:`KeyRing` or the path of
    a keys file). ``proxy_header`` names the header in which a trusted proxy names the person
    (by id) instead of a key: only for a service reachable through that proxy alone. A keys
    file is read again when it changes (:class:`~shuangsuiji.server.auth.KeySource`). A request
    body above ``max_upload_bytes`` (default 64 MB) is refused with 413 (:mod:`._limits`)."""
    registry = (
        registry_or_url if isinstance(registry_or_url, Registry) else Registry.open(registry_or_url)
    )
    source = KeySource(keys) if isinstance(keys, KeyRing) else KeySource.from_file(keys)
    app = FastAPI(
        title="shuangsuiji",
        version=__version__,
        summary="双随机、一公开: verifiable random inspections over HTTP",
        description=(__doc__ or "").split("\n\n")[0],
    )
    app.state.service = Service(registry, source, proxy_header)
    app.add_exception_handler(ShuangsuijiError, error_reply)
    app.add_exception_handler(StarletteHTTPException, http_reply)
    app.add_exception_handler(RequestValidationError, body_reply)
    for module in (_setup, _draws, _records):
        app.include_router(module.router)
    # Under the access log below (added later, so outside): refused bodies are logged too.
    app.add_middleware(BodyLimit, limit=max_upload_bytes)

    @app.middleware("http")
    async def echo_request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        rid = getattr(request.state, "request_id", None)
        if rid and "x-request-id" not in response.headers:
            response.headers["X-Request-ID"] = rid
        client = request.client.host if request.client else "-"
        person = getattr(request.state, "person", "-")
        # The access record that ties an event's request id to a source address (docs/server.md).
        log.info(
            "%s %s %s %s %s %d", rid or "-", client, person, request.method, request.url.path,
            response.status_code,
        )  # fmt: skip
        return response

    return app


def openapi_schema() -> dict[str, Any]:
    """The service's OpenAPI schema (it does not depend on the store or the keys)."""
    app = create_app(Registry(Store.open("sqlite://")), keys=KeyRing((), {}))
    return app.openapi()
