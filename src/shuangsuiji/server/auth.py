"""Who may call the service: API keys bound to named people with roles, and the duties kept apart.

**Keys.** The service never stores a key, only ``key_sha256`` = lower-hex SHA-256 of the key's
UTF-8 text; a caller sends the key as ``Authorization: Bearer <key>``. ``shuangsuiji serve
--new-key`` prints a fresh key (32 random bytes, URL-safe base64) with the line to put in the
keys file. A trusted proxy (an agency's single sign-on) may instead name the person in a header
(``--trusted-proxy-header``); the service then must be reachable only through that proxy.
The keys file is read again when it changes, and a malformed new one leaves the keys in force
(:class:`KeySource`).

**The keys file** (TOML)::

    [separation]                       # optional; these are the defaults
    exclusive = [["recorder", "publisher"], ["drawer", "supervisor"]]
    recorder_not_publisher = true

    [[person]]
    id = "p-0001"                      # a stable id: staff number, login
    name = "张三"                       # unique in the file; the name the records carry
    roles = ["drawer"]
    key_sha256 = "…"                   # one or more keys: key_sha256 = ["…", "…"]

**Roles** (:data:`ROLES`): ``admin`` 管理员 (pools, item list, policy, departments,
categories), ``planner`` 计划 (plans, tasks), ``drawer`` 抽取人 (freeze, seed, draw, teams,
replacements, changes of a team), ``supervisor`` 监督人 (a seed party of its own, witness of
a change, the second person of a re-draw), ``recorder`` 录入人 (results), ``publisher``
公示审核 (publication), ``auditor`` 审计 (reads and checks only). Every role may read.

**Separation of duties** (:class:`Separation`): the pairs of roles in ``exclusive`` may not be
held by one person (the file is refused at start); with ``recorder_not_publisher`` the service
refuses to let a person publish an entity's results that they recorded. The library itself
refuses a witness who asked for the change, a re-draw or back-dated publication approved by the
actor, and counts a seed party as independent only when entered by another person than the
drawer.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import threading
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from shuangsuiji.errors import InvalidInputError

__all__ = [
    "ROLES",
    "KeyRing",
    "KeySource",
    "KeysFileError",
    "Person",
    "Separation",
    "hash_key",
    "load_keys",
    "new_key",
]

ROLES: dict[str, str] = {
    "admin": "管理员",
    "planner": "计划",
    "drawer": "抽取人",
    "supervisor": "监督人",
    "recorder": "录入人",
    "publisher": "公示审核",
    "auditor": "审计",
}

log = logging.getLogger("shuangsuiji.server")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class KeysFileError(InvalidInputError):
    """The keys file is malformed or breaks the separation of duties."""


def hash_key(key: str) -> str:
    """The stored form of an API key: lower-hex SHA-256 of its UTF-8 text.

    >>> hash_key("test-key")[:16]
    '62af8704764faf8e'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh API key: 32 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


@attrs.frozen
class Person:
    """A named person with roles, as the keys file lists them."""

    id: str
    name: str
    roles: frozenset[str]


@attrs.frozen
class Separation:
    """Duties kept apart: role pairs no one may hold together, and whether a person who
    recorded an entity's result may publish it."""

    exclusive: tuple[tuple[str, str], ...] = (("recorder", "publisher"), ("drawer", "supervisor"))
    recorder_not_publisher: bool = True

    def problems(self, people: Iterable[Person]) -> list[str]:
        """Each person holding both roles of an exclusive pair."""
        return [
            f"{p.name} ({p.id}) holds both {a} and {b}, which [separation] exclusive keeps apart"
            for p in people
            for a, b in self.exclusive
            if a in p.roles and b in p.roles
        ]


@attrs.frozen
class KeyRing:
    """The people the service knows, found by the hash of a key or by their id."""

    people: tuple[Person, ...]
    by_hash: Mapping[str, Person]
    separation: Separation = Separation()

    def by_key(self, key: str) -> Person | None:
        """The person holding ``key``, or None."""
        return self.by_hash.get(hash_key(key))

    def by_id(self, person: str) -> Person | None:
        """The person with id ``person`` (a trusted proxy's header), or None."""
        return next((p for p in self.people if p.id == person), None)

    def by_name(self, name: str) -> Person | None:
        """The person named ``name`` (names are unique in a keys file), or None."""
        return next((p for p in self.people if p.name == name), None)


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KeysFileError(f"{where}: {key!r} must be non-empty text")
    return value.strip()


def _person(entry: Mapping[str, Any], where: str) -> tuple[Person, list[str]]:
    roles = entry.get("roles")
    if not isinstance(roles, list) or not roles or not all(r in ROLES for r in roles):
        raise KeysFileError(f"{where}: 'roles' must be a non-empty list of {', '.join(ROLES)}")
    hashes = entry.get("key_sha256", [])
    hashes = [hashes] if isinstance(hashes, str) else hashes
    if not isinstance(hashes, list) or not all(
        isinstance(h, str) and _HEX64.match(h) for h in hashes
    ):
        raise KeysFileError(
            f"{where}: 'key_sha256' must be 64 lower-case hex digits (or a list of them); "
            "`shuangsuiji serve --new-key` prints a key and its hash"
        )
    person = Person(_text(entry, "id", where), _text(entry, "name", where), frozenset(roles))
    return person, hashes


def _separation(data: Mapping[str, Any]) -> Separation:
    raw = data.get("separation", {})
    pairs = raw.get("exclusive", Separation().exclusive)
    if not all(len(p) == 2 and all(r in ROLES for r in p) for p in pairs):
        raise KeysFileError(f"[separation] exclusive: pairs of roles among {', '.join(ROLES)}")
    flag = raw.get("recorder_not_publisher", True)
    if not isinstance(flag, bool):
        raise KeysFileError("[separation] recorder_not_publisher must be true or false")
    return Separation(tuple((str(a), str(b)) for a, b in pairs), flag)


def keyring(data: Mapping[str, Any], source: str = "<keys>") -> KeyRing:
    """A :class:`KeyRing` from the parsed keys file; refused with every problem named."""
    entries: Sequence[Any] = data.get("person", [])
    people: list[Person] = []
    by_hash: dict[str, Person] = {}
    for n, entry in enumerate(entries, 1):
        person, hashes = _person(entry, f"{source}: person {n}")
        for h in hashes:
            if h in by_hash:
                raise KeysFileError(f"{source}: a key of {person.name} is also {by_hash[h].name}'s")
            by_hash[h] = person
        people.append(person)
    for attr in ("id", "name"):
        seen = [getattr(p, attr) for p in people]
        twice = sorted({v for v in seen if seen.count(v) > 1})
        if twice:
            raise KeysFileError(f"{source}: person {attr} given twice: {', '.join(twice)}")
    separation = _separation(data)
    problems = separation.problems(people)
    if problems:
        raise KeysFileError(f"{source}: " + "; ".join(problems))
    return KeyRing(tuple(people), by_hash, separation)


def load_keys(path: str | Path) -> KeyRing:
    """Read a keys file (TOML, see the module docstring)."""
    return _parse(Path(path).read_bytes(), str(path))


def _parse(raw: bytes, source: str) -> KeyRing:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise KeysFileError(f"{source}: not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise KeysFileError(f"{source}: not valid TOML: {exc}") from None
    return keyring(data, source)


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written or replaced: modification time, size, inode."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class KeySource:
    """The keys in force: a fixed :class:`KeyRing`, or a keys file read again when it changes.

    **Why on each request, not on SIGHUP.** :meth:`current` compares the file's modification
    time, size and inode with the last ones seen (one ``stat``, microseconds) and reads the file
    only when they differ. That needs no signal plumbing (uvicorn owns the process's signals,
    Windows has no SIGHUP, a container's mounted secret is swapped without anyone signalling),
    reaches every worker process by itself, and a test can drive it without timing. A change
    that keeps the same size, time and inode is not seen (a file system with coarse times,
    rewritten in place within one tick): replace the file (write a new one and rename it), which
    changes the inode, as every editor's safe-save and ``kubectl`` do.

    **A bad new file locks no one out.** A file that does not parse or breaks the rules
    (:func:`keyring`), or that vanished, is refused: the keys in force stay, the error goes to
    the log ``shuangsuiji.server`` once per change of the file, and :meth:`status` (shown by
    ``GET /health``) reports it until a good file is in place. A file that cannot be read at
    start is still an error (there are no keys in force yet).
    """

    def __init__(self, ring: KeyRing, path: Path | None = None, digest: str = "") -> None:
        self._ring = ring
        self._path = path
        self._digest = digest
        self._seen = None if path is None else _signature(path)
        self._refused: tuple[str, str] | None = None  # (sha256 or "", error)
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> KeySource:
        """The keys of ``path``, watched for changes (refused at start if malformed)."""
        where = Path(path)
        raw = where.read_bytes()
        return cls(_parse(raw, str(where)), where, hashlib.sha256(raw).hexdigest())

    def current(self) -> KeyRing:
        """The key ring in force, after reading the file again if it changed."""
        if self._path is None:
            return self._ring
        seen = _signature(self._path)
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    self._seen = seen
                    self._reload(self._path)
        return self._ring

    def _reload(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self._refuse(path, "", exc)
            return
        digest = hashlib.sha256(raw).hexdigest()
        try:
            ring = self._ring if digest == self._digest else _parse(raw, str(path))
        except KeysFileError as exc:
            self._refuse(path, digest, exc)
            return
        if digest != self._digest:
            log.info(
                "keys file %s reloaded: %d people (sha256 %s, was %s)",
                path,
                len(ring.people),
                digest[:12],
                self._digest[:12],
            )
        elif self._refused is not None:
            log.info("keys file %s is again the one in force (sha256 %s)", path, digest[:12])
        self._ring, self._digest, self._refused = ring, digest, None

    def _refuse(self, path: Path, digest: str, exc: Exception) -> None:
        self._refused = (digest, str(exc))
        log.error(
            "keys file %s changed but was refused; the keys loaded before (sha256 %s) stay in "
            "force: %s",
            path,
            self._digest[:12],
            exc,
        )

    def status(self) -> dict[str, Any]:
        """For ``GET /health``: whether the file in force is the file on disk, without names."""
        current = self.current()
        out: dict[str, Any] = {
            "source": "file" if self._path is not None else "fixed",
            "people": len(current.people),
            "sha256": self._digest,
            "status": "ok" if self._refused is None else "refused",
        }
        if self._refused is not None:
            out["refused_sha256"] = self._refused[0]
            out["detail"] = (
                "the keys file changed but was refused; the keys before stay in force. "
                "The reason is in the server log (shuangsuiji.server); correct the file"
            )
        return out
