"""A real uvicorn on 127.0.0.1 serving a store, the people of its keys file, and a client that
walks the whole cycle over HTTP (shared by tests/test_server*.py and benchmarks/bench_server.py).
"""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import uvicorn

from shuangsuiji.io import write_conflicts_csv, write_entities_csv, write_inspectors_csv
from shuangsuiji.registry import Registry
from shuangsuiji.seeds import party_commitment
from shuangsuiji.server import create_app
from shuangsuiji.server.auth import KeyRing, hash_key, keyring
from shuangsuiji.synth import City, make_city

PEOPLE = {
    # role: (person id, name, key)
    "admin": ("p-01", "管理员-赵", "key-admin"),
    "planner": ("p-02", "计划-钱", "key-planner"),
    "drawer": ("p-03", "抽取人-李", "key-drawer"),
    "supervisor": ("p-04", "纪检-周", "key-supervisor"),
    "recorder": ("p-05", "录入-孙", "key-recorder"),
    "publisher": ("p-06", "公示-吴", "key-publisher"),
    "auditor": ("p-07", "审计-郑", "key-auditor"),
}
SUPERVISOR_PARTY = "派驻纪检监察组"
SYSTEM = "系统随机数"


def people_ring(**separation: Any) -> KeyRing:
    """The seven people, one role each, plus ``extra`` people given as (id, name, key, roles)."""
    extra = separation.pop("extra", ())
    entries = [
        {"id": pid, "name": name, "roles": [role], "key_sha256": hash_key(key)}
        for role, (pid, name, key) in PEOPLE.items()
    ]
    entries += [
        {"id": pid, "name": name, "roles": list(roles), "key_sha256": hash_key(key)}
        for pid, name, key, roles in extra
    ]
    return keyring({"person": entries, "separation": separation})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    registry: Registry, ring: KeyRing | Path, proxy_header: str | None = None, **options: Any
) -> Iterator[str]:
    """uvicorn serving ``registry`` on a free port in a thread; yields the base URL.
    ``ring`` is a key ring or a keys file; ``options`` go to :func:`create_app`."""
    port = free_port()
    app = create_app(registry, keys=ring, proxy_header=proxy_header, **options)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def value(party: str, task: str) -> bytes:
    return hashlib.sha256(f"{party}/{task}".encode()).digest()


class Clock:
    """The store's clock, set by the test: the draws on 2026-06-30, the results recorded after
    the inspections (the tasks run July to September 2026)."""

    def __init__(self) -> None:
        self.at = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def registry_at(url: str) -> tuple[Registry, Clock]:
    clock = Clock()
    return Registry.open(url, clock=clock), clock


@dataclass
class Cycle:
    """Clients for each role against one service, and the steps of the cycle."""

    base: str
    clock: Clock | None = None

    def client(self, role: str) -> httpx.Client:
        key = PEOPLE[role][2]
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {key}"}, timeout=120
        )

    def call(self, role: str, method: str, path: str, **kw: Any) -> Any:
        with self.client(role) as c:
            r = c.request(method, path, **kw)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        return r.json()

    def setup(self, city: City, tmp: Path, *, independent: int = 1) -> None:
        """Departments, items, policy, the pools (CSV uploads and JSON rows), a plan."""
        a = "admin"
        deps = [{"code": d.code, "name": d.name} for d in city.departments]
        self.call(a, "POST", "/departments", json=deps)
        rows = [_item_row(i) for i in city.items]
        self.call(a, "POST", "/items", json={"rows": rows})
        toml = f"[draw]\nindependent_parties = {independent}\n"
        self.call(a, "PUT", "/policy", json={"toml": toml})
        for kind, writer, pool in (
            ("entities", write_entities_csv, city.entities),
            ("inspectors", write_inspectors_csv, city.inspectors),
        ):
            path = tmp / f"{kind}.csv"
            writer(pool, path)  # type: ignore[operator]
            with path.open("rb") as f:
                self.call(a, "POST", f"/pools/{kind}/csv", files={"file": (path.name, f)})
        path = tmp / "conflicts.csv"
        write_conflicts_csv(city.conflicts, path)
        text = path.read_text(encoding="utf-8").splitlines()
        header = text[0].split(",")
        rows = [dict(zip(header, line.split(","), strict=True)) for line in text[1:]]
        self.call(a, "POST", "/pools/conflicts", json={"rows": rows})
        plan = {"code": "P", "year": 2026, "name": "年度计划", "departments": ["SCJG"]}
        self.call("planner", "POST", "/plans", json=plan)

    def task(self, code: str) -> None:
        body = {
            "code": code,
            "plan": "P",
            "name": f"公示信息抽查 {code}",
            "departments": ["SCJG"],
            "items": ["SCJG-01"],
            "start": "2026-07-01",
            "end": "2026-09-30",
        }
        self.call("planner", "POST", "/tasks", json=body)

    def ceremony(self, task: str, step: str, digest: str) -> None:
        """Both parties commit (drawer: the system's, supervisor: its own)."""
        for party, role in ((SYSTEM, "drawer"), (SUPERVISOR_PARTY, "supervisor")):
            c = party_commitment(task, digest, party, value(party, task + step))
            self.call(
                role, "POST", f"/tasks/{task}/{step}/commit", json={"party": party, "commitment": c}
            )

    def reveal(self, task: str, step: str) -> None:
        for party, role in ((SYSTEM, "drawer"), (SUPERVISOR_PARTY, "supervisor")):
            v = value(party, task + step).hex()
            body = {"party": party, "contribution": v}
            self.call(role, "POST", f"/tasks/{task}/{step}/reveal", json=body)

    def draw(self, task: str) -> dict[str, Any]:
        """The entity draw by ceremony: freeze, commit, announce, reveal, select."""
        frozen = self.call("drawer", "POST", f"/tasks/{task}/freeze", json={"cutoff": "2026-06-30"})
        self.ceremony(task, "seed", frozen["pool_digest"])
        self.call("drawer", "POST", f"/tasks/{task}/announce")
        self.reveal(task, "seed")
        result: dict[str, Any] = self.call("drawer", "POST", f"/tasks/{task}/select")
        return result

    def teams(self, task: str) -> list[dict[str, Any]]:
        """The team draw by ceremony; returns the teams."""
        staffing = self.call("drawer", "POST", f"/tasks/{task}/staffing/freeze", json={})
        self.ceremony(task, "team-seed", staffing["staffing_digest"])
        self.call("drawer", "POST", f"/tasks/{task}/teams/announce")
        self.reveal(task, "team-seed")
        self.call("drawer", "POST", f"/tasks/{task}/teams/draw")
        teams: list[dict[str, Any]] = self.call(
            "auditor", "GET", f"/tasks/{task}/teams", params={"limit": 1000}
        )["items"]
        return teams

    def results(self, task: str, teams: list[dict[str, Any]]) -> list[list[str]]:
        """Results for every team's entity; returns the [task, entity] keys."""
        if self.clock is not None:
            self.clock.at = datetime(2026, 7, 8, 9, 0, tzinfo=UTC)
        body = [
            {
                "task": task,
                "entity": t["entity"],
                "item": "SCJG-01",
                "categories": ["01"],
                "inspection_start": "2026-07-06",
                "inspection_end": "2026-07-07",
                "inspectors": t["inspectors"],
            }
            for t in teams
        ]
        self.call("recorder", "POST", "/results", json=body)
        return [[task, t["entity"]] for t in teams]


def _item_row(item: Any) -> dict[str, Any]:
    row = attrs.asdict(item)
    row["required_qualifications"] = "|".join(sorted(row["required_qualifications"]))
    return row


def csv_bytes(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


CITY = make_city(600, seed=21)
