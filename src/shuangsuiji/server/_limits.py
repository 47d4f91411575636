"""The request body limit: a body larger than the service's limit is refused with 413 before it
is stored anywhere, and without reading it whole.

A raw ASGI middleware, because it must sit under the framework's body parsing: a request that
declares a ``Content-Length`` above the limit is answered at once, without reading one byte of
its body; a body sent without a length (chunked) is counted chunk by chunk as the framework
pulls it, and the first chunk that crosses the limit stops the parsing (the multipart parser
spools an upload to a temporary file as it reads, so memory never holds more than a chunk). In
both cases the answer is the house error shape, and no endpoint has run, so nothing is stored.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_MAX_UPLOAD_MB",
    "BodyLimit",
    "request_id_for",
    "too_large_detail",
]

DEFAULT_MAX_UPLOAD_MB = 64

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def too_large_detail(limit: int) -> str:
    """What a refused body is told: the limit and how to raise it.

    >>> too_large_detail(64 * 2**20)[:70]
    'the request body is larger than the limit of 64 MB (67108864 bytes): s'
    >>> too_large_detail(1000)[:50]
    'the request body is larger than the limit of 1000 '
    """
    mb = limit / 2**20
    size = f"{mb:g} MB" if mb >= 1 else f"{limit} bytes"
    return (
        f"the request body is larger than the limit of {size} ({limit} bytes): split the file, "
        "or raise the limit with `shuangsuiji serve --max-upload-mb N` "
        "(create_app(max_upload_bytes=...))"
    )


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when the counted body crosses the limit; the framework lets an
    ``HTTPException`` from the body through, and the service's handler answers it (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def request_id_for(given: str) -> str:
    """``given`` (a caller's ``X-Request-ID``) when well formed, else a new id."""
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _request_id(scope: Scope) -> str:
    """The caller's well-formed ``X-Request-ID``, else a new one; kept in the request state so
    that a refusal before authentication carries the same id as the rest of the request."""
    state: dict[str, Any] = scope.setdefault("state", {})
    if "request_id" not in state:
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        state["request_id"] = request_id_for(given)
    return str(state["request_id"])


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes (413, ``{error, detail, request_id}``)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, rid)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _BodyTooLarge:
            if started:  # pragma: no cover - the endpoints read their body before answering
                raise
            await self._refuse(send, rid)

    async def _refuse(self, send: Send, rid: str) -> None:
        body = json.dumps(
            {"error": "too_large", "detail": too_large_detail(self.limit), "request_id": rid},
            ensure_ascii=False,
        ).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"x-request-id", rid.encode("ascii")),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
