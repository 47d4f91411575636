"""The service's shared parts: the registry and key ring, the acting person, errors, paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from enum import Enum
from typing import Annotated, Any, TypeVar

import attrs
from fastapi import Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shuangsuiji.actors import Actor
from shuangsuiji.errors import (
    IntegrityFailure,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    ShuangsuijiError,
)
from shuangsuiji.registry import Registry
from shuangsuiji.server._limits import request_id_for
from shuangsuiji.server.auth import KeyRing, KeySource, Person
from shuangsuiji.store.paging import Page

_T = TypeVar("_T")

READ = ("admin", "planner", "drawer", "supervisor", "recorder", "publisher", "auditor")


@attrs.frozen
class Service:
    """What every endpoint works on: the registry, who may call, and the proxy header if any."""

    registry: Registry
    source: KeySource
    proxy_header: str | None = None

    @property
    def keys(self) -> KeyRing:
        """The people in force now (the keys file is read again when it changed)."""
        return self.source.current()


def service(request: Request) -> Service:
    """The app's :class:`Service`."""
    found: Service = request.app.state.service
    return found


def request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` when well formed, else a new one (echoed in the reply)."""
    known = getattr(request.state, "request_id", None)
    if isinstance(known, str):
        return known  # given to it by the body limit, which runs first
    given = request.headers.get("x-request-id", "")
    rid = request_id_for(given)
    request.state.request_id = rid
    return rid


def _person(request: Request, svc: Service) -> Person:
    """The authenticated person: the trusted proxy's header, else the bearer key (401 if none)."""
    if svc.proxy_header is not None and request.headers.get(svc.proxy_header):
        person = svc.keys.by_id(request.headers[svc.proxy_header])
        if person is None:
            raise HTTPException(401, f"the proxy names an unknown person ({svc.proxy_header})")
        return person
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    person = svc.keys.by_key(key.strip()) if scheme.lower() == "bearer" and key else None
    if person is None:
        raise HTTPException(
            401,
            "send a valid API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return person


def acting(*roles: str) -> Callable[..., Actor]:
    """A dependency giving the caller as an :class:`Actor` under the first of ``roles`` they
    hold; 403 naming the roles needed when they hold none."""

    def dependency(request: Request, svc: Annotated[Service, Depends(service)]) -> Actor:
        rid = request_id(request)
        person = _person(request, svc)
        request.state.person = person.id
        role = next((r for r in roles if r in person.roles), None)
        if role is None:
            raise HTTPException(
                403,
                f"{person.name} ({person.id}) holds {', '.join(sorted(person.roles))}; "
                f"this call needs one of: {', '.join(roles)}",
            )
        return Actor(person.name, person=person.id, role=role, request=rid)

    ROLES_OF[dependency] = roles
    return dependency


ROLES_OF: dict[Callable[..., Actor], tuple[str, ...]] = {}
"""The roles each :func:`acting` dependency accepts (the tests walk every route with it)."""


Reader = Annotated[Actor, Depends(acting(*READ))]
Svc = Annotated[Service, Depends(service)]


def approver(svc: Service, name: str) -> str:
    """A second person named in a body (``approved_by``) must be one the service knows."""
    if name.strip() and svc.keys.by_name(name.strip()) is None:
        raise BadInput(f"approved_by {name!r} is not a person of the keys file")
    return name


_FAMILIES: tuple[tuple[type[ShuangsuijiError], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (InvalidInputError, 422, "invalid_input"),
    (IntegrityFailure, 409, "integrity"),
    (RefusedError, 409, "refused"),
)


def error_reply(request: Request, exc: Exception) -> JSONResponse:
    """A library refusal as ``{"error": family, "detail": message}`` with its status."""
    assert isinstance(exc, ShuangsuijiError)
    status, family = next(
        ((s, f) for cls, s, f in _FAMILIES if isinstance(exc, cls)), (400, "error")
    )
    rid = getattr(request.state, "request_id", "")
    return JSONResponse(
        {"error": family, "detail": str(exc), "request_id": rid},
        status_code=status,
        headers={"X-Request-ID": rid} if rid else None,
    )


_HTTP_FAMILIES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method",
    413: "too_large",
}


def http_reply(request: Request, exc: Exception) -> JSONResponse:
    """The service's own refusals (401, 403, an unknown path) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    rid = getattr(request.state, "request_id", "")
    family = _HTTP_FAMILIES.get(exc.status_code, "error")
    return JSONResponse(
        {"error": family, "detail": exc.detail, "request_id": rid},
        status_code=exc.status_code,
        headers=dict(exc.headers or {}) | ({"X-Request-ID": rid} if rid else {}),
    )


def body_reply(request: Request, exc: Exception) -> JSONResponse:
    """A body or parameter that does not fit the schema: 422 naming each field at fault."""
    assert isinstance(exc, RequestValidationError)
    rid = getattr(request.state, "request_id", "")
    detail = jsonable_encoder(exc.errors())
    return JSONResponse(
        {"error": "invalid_input", "detail": detail, "request_id": rid}, status_code=422
    )


class BadInput(InvalidInputError):
    """A request body the library's value classes refused while it was being built."""


def built(make: Callable[[], _T], what: str) -> _T:
    """``make()`` — a value built from a request body — with its ``ValueError``/``TypeError``
    turned into a 422 naming ``what``; the value classes validate, the service does not."""
    try:
        return make()
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{what}: {exc}") from exc


def plain(value: Any) -> Any:
    """A library value as JSON data: its ``to_dict()``, attrs fields, dates as ISO text."""
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    if attrs.has(type(value)):
        return plain(attrs.asdict(value, recurse=False))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, description="rows to skip")]


def page(rows: Sequence[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of ``rows``, a short list already in memory (plans, tasks, items); the long
    lists are paged in the store (:func:`paged`)."""
    return paged(Page(list(rows[offset : offset + limit]), len(rows), offset, limit))


def paged(found: Page[Any]) -> dict[str, Any]:
    """A page read from the store as ``{"items", "total", "limit", "offset", "next"}``
    (``next`` is the offset of the following page, or null)."""
    return {
        "items": [plain(r) for r in found.items],
        "total": found.total,
        "limit": found.limit,
        "offset": found.offset,
        "next": found.next,
    }
