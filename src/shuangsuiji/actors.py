"""Who acted: a structured actor (person id, name, role, request id) that is still a name.

Every step of the registry takes ``actor``, the acting person. A plain name (``"张三"``) is
enough for a script or the CLI. A host system that authenticates its users (the HTTP service,
:mod:`shuangsuiji.server`) passes an :class:`Actor` instead: it *is* the person's name (a
``str``), so every rule and record of the library that compares or keeps names (a witness is
not the requester, a back-dated publication needs a second person, ``recorded_by``) works
unchanged, and it also carries

- ``person``: the stable id of the person (an agency's staff number, a login),
- ``role``: the role the step was authorised under (``drawer``, ``recorder``…),
- ``request``: the id of the call that made the step (to find it in the service's logs).

**In the audit log** (the one normalisation point, :func:`event_actor`, used by the store for
every event): the event's ``actor`` field stays the name, hashed as before, and the payload
gains the object ``"actor": {"id": person, "name": name, "role": role, "request": request}``
(``request`` omitted when empty). The chain's rules do not change, so a log written before
structured actors verifies as it did, and an event made with a plain name has no such key.

>>> a = Actor("张三", person="p-0001", role="drawer", request="req-7")
>>> a == "张三", a.person, a.role
(True, 'p-0001', 'drawer')
>>> name, payload = event_actor(a, {"task": "T1"})
>>> name, payload["task"], payload["actor"]
('张三', 'T1', {'id': 'p-0001', 'name': '张三', 'role': 'drawer', 'request': 'req-7'})
>>> event_actor("李四", {"task": "T1"})
('李四', {'task': 'T1'})
>>> Actor("王五", person="", role="drawer")
Traceback (most recent call last):
...
ValueError: an Actor needs the person's id (person=...), e.g. a staff number
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ACTOR_KEY", "Actor", "event_actor"]

ACTOR_KEY = "actor"  # the payload key of a structured actor (docs/audit.md)


class Actor(str):
    """A person acting under a role in one request; equal to (and usable as) the name."""

    __slots__ = ("person", "request", "role")

    person: str
    role: str
    request: str

    def __new__(cls, name: str, *, person: str, role: str, request: str = "") -> Actor:
        if not name.strip():
            raise ValueError("an Actor needs the person's name")
        if not person.strip():
            raise ValueError("an Actor needs the person's id (person=...), e.g. a staff number")
        if not role.strip():
            raise ValueError("an Actor needs the role the step is done under (role=...)")
        self = super().__new__(cls, name.strip())
        self.person = person.strip()
        self.role = role.strip()
        self.request = request.strip()
        return self

    @property
    def name(self) -> str:
        """The person's name (the plain ``str`` value)."""
        return str.__str__(self)

    def to_record(self) -> dict[str, str]:
        """The structured record kept in an audit event's payload."""
        record = {"id": self.person, "name": self.name, "role": self.role}
        return record | ({"request": self.request} if self.request else {})

    def __repr__(self) -> str:
        return (
            f"Actor({self.name!r}, person={self.person!r}, role={self.role!r}, "
            f"request={self.request!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.name, self.person, self.role, self.request))


def _rebuild(name: str, person: str, role: str, request: str) -> Actor:
    return Actor(name, person=person, role=role, request=request)


def event_actor(actor: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event's ``actor`` text and payload for ``actor``: a plain name passes as it is; an
    :class:`Actor` gives its name and adds its record under :data:`ACTOR_KEY`.

    A payload that already has that key is refused (a step must not write it itself)."""
    out = dict(payload)
    if not isinstance(actor, Actor):
        return str(actor), out
    if ACTOR_KEY in out:
        raise ValueError(f"an event payload may not carry its own {ACTOR_KEY!r} key")
    return actor.name, out | {ACTOR_KEY: actor.to_record()}
