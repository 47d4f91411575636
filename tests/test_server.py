"""``shuangsuiji serve``: the whole cycle over real HTTP (httpx against uvicorn on 127.0.0.1), on
SQLite and PostgreSQL; every role refusal; bad bodies answered 422 with nothing stored; errors
mapped by family; the audit events carry the structured actor; separation of duties."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.routing import APIRoute

from server_helpers import CITY, PEOPLE, Cycle, free_port, people_ring, registry_at, serving
from shuangsuiji.cli import main
from shuangsuiji.registry import Registry
from shuangsuiji.server import _draws, _records, _setup, create_app
from shuangsuiji.server._context import ROLES_OF
from shuangsuiji.server.auth import KeysFileError, hash_key, keyring, load_keys

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cycle(db_url: str, tmp_path: Path) -> Iterator[Cycle]:
    registry, clock = registry_at(db_url)
    with serving(registry, people_ring()) as base:
        c = Cycle(base, clock)
        c.setup(CITY, tmp_path)
        c.task("T1")
        c.task("T2")
        yield c


def _events(c: Cycle) -> int:
    out = c.call("auditor", "GET", "/verify-log", params={"chain_only": True})
    assert out["ok"]
    return len(c.call("auditor", "GET", "/audit/events", params={"limit": 1000})["items"])


def test_the_whole_cycle_over_http_verifies(cycle: Cycle) -> None:
    c = cycle
    drawn = c.draw("T1")
    assert drawn["attempt"] == 1 and drawn["selected"]
    teams = c.teams("T1")
    assert {t["entity"] for t in teams} == set(drawn["selected"])
    # A change of a team: asked by the drawer, drawn when the supervisor witnesses it.
    first = teams[0]
    change = {"entity": first["entity"], "inspector": first["inspectors"][0], "reason": "illness"}
    asked = c.call("drawer", "POST", "/tasks/T1/teams/changes", json=change | {"text": "住院"})
    assert asked["team"] is None
    assert c.call("auditor", "GET", "/tasks/T1/teams/changes/pending")["pending"]
    body = {"party": "派驻纪检监察组", "value": "ab" * 16}
    team = c.call("supervisor", "POST", "/tasks/T1/teams/changes/witness", json=body)["team"]
    assert first["inspectors"][0] not in team
    teams = c.call("auditor", "GET", "/tasks/T1/teams", params={"limit": 1000})["items"]
    keys = c.results("T1", teams[:-1])
    # The last entity's result comes as a CSV upload.
    last = teams[-1]
    csv_text = (
        "task,entity_id,item,categories,follow_up,inspection_start,inspection_end,inspectors\n"
        f"T1,{last['entity']},SCJG-01,01,,2026-07-06,2026-07-07,{'|'.join(last['inspectors'])}\n"
    )
    files = {"file": ("results.csv", csv_text.encode())}
    assert c.call("recorder", "POST", "/results/csv", files=files) == {"recorded": 1}
    published = c.call("publisher", "POST", "/publications", json={"keys": keys})
    assert {p["entity"] for p in published} == {k[1] for k in keys}
    # Reads: lists (paged), announcements, bundle and annex, verify, verify-log, health.
    page = c.call("auditor", "GET", "/results", params={"task": "T1", "limit": 2})
    assert page["total"] == len(teams) and len(page["items"]) == 2 and page["next"] == 2
    pubs = c.call("auditor", "GET", "/publications", params={"task": "T1"})
    assert pubs["total"] == len(teams)
    assert c.call("auditor", "GET", "/plans/P/announcement")["plan"]
    assert c.call("auditor", "GET", "/tasks/T1/announcement")
    assert c.call("auditor", "GET", "/announcements/results", params={"plan": "P"})
    assert c.call("auditor", "GET", "/uninspected")["total"] == 0
    bundle = c.call("auditor", "GET", "/tasks/T1/bundle")
    annex = c.call("auditor", "GET", "/tasks/T1/annex")
    report = c.call("auditor", "POST", "/verify", json={"bundle": bundle, "annex": annex})
    assert report["ok"], report["problems"]
    assert report["warnings"] == []
    forged = json.loads(json.dumps(bundle))
    forged["seed"] = "00" * 32
    assert not c.call("auditor", "POST", "/verify", json={"bundle": forged})["ok"]
    log = c.call("auditor", "GET", "/verify-log")
    assert log == {"ok": True, "problems": []}
    assert c.call("auditor", "GET", "/draw-health", params={"plan": "P"})
    assert c.call("auditor", "GET", "/health")["status"] == "ok"


def test_every_audit_event_names_the_person_role_and_request(cycle: Cycle) -> None:
    with cycle.client("drawer") as client:
        r = client.post("/tasks/T1/freeze", json={}, headers={"X-Request-ID": "req-42"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "req-42"
    events = cycle.call("auditor", "GET", "/audit/events", params={"limit": 1000})["items"]
    last = events[-1]
    assert last["kind"] == "candidates.freeze" and last["actor"] == "抽取人-李"
    assert last["payload"]["actor"] == {
        "id": "p-03",
        "name": "抽取人-李",
        "role": "drawer",
        "request": "req-42",
    }
    # Every event made through the service carries the structured actor.
    assert all(e["payload"]["actor"]["id"].startswith("p-0") for e in events)
    # Cursor paging walks the log without gaps.
    seen, after = [], 0
    while after is not None:
        page = cycle.call("auditor", "GET", "/audit/events", params={"after": after, "limit": 7})
        seen += [e["seq"] for e in page["items"]]
        after = page["next"]
    assert seen == list(range(1, len(events) + 1))
    with cycle.client("auditor") as client:
        lines = client.get("/audit/log.jsonl").text.splitlines()
    assert [json.loads(x)["seq"] for x in lines] == seen


def test_a_replacement_and_an_abandoned_attempt(cycle: Cycle) -> None:
    c = cycle
    drawn = c.draw("T2")
    out = c.call(
        "drawer",
        "POST",
        "/tasks/T2/replacements",
        json={"entity": drawn["selected"][0], "reason": "not_found_at_address", "note": "查无"},
    )
    assert out["by"] not in drawn["selected"]
    reps = c.call("auditor", "GET", "/tasks/T2/replacements")
    assert [r["by"] for r in reps] == [out["by"]]
    sel = c.call("auditor", "GET", "/tasks/T2/selection", params={"limit": 1000})["items"]
    assert out["by"] in sel and drawn["selected"][0] not in sel
    # T1: frozen, then abandoned with a second person the service knows.
    c.call("drawer", "POST", "/tasks/T1/freeze", json={})
    why = {"reason": "system_failure", "text": "系统故障，未完成", "approved_by": "纪检-周"}
    c.call("drawer", "POST", "/tasks/T1/abandon", json=why)
    states = [d["state"] for d in c.call("auditor", "GET", "/tasks/T1/draws")]
    assert states == ["abandoned"]


def test_refusals_map_to_their_family_and_store_nothing(cycle: Cycle) -> None:
    c = cycle
    before = _events(c)
    with c.client("auditor") as client:
        r = client.get("/tasks/NOPE")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    with c.client("drawer") as client:
        r = client.post("/tasks/T1/select")  # nothing frozen
        assert r.status_code == 409 and r.json()["error"] == "refused"
        assert "freeze() first" in r.json()["detail"] and r.json()["request_id"]
        r = client.post("/tasks/T1/freeze", json={"approved_by": "无此人"})
        assert r.status_code == 422 and "not a person of the keys file" in r.json()["detail"]
    with c.client("admin") as client:
        bad = (
            "id,name,entity_type,industry,region,registered,tier\n"
            "91350100M000100Y4X,甲,公司,C1310,350102,2020-01-01,A\n"
        )
        r = client.post("/pools/entities/csv", files={"file": ("e.csv", bad.encode())})
        assert r.status_code == 422 and r.json()["error"] == "invalid_input"
        assert "nothing was imported" in r.json()["detail"]
    assert _events(c) == before


def test_the_service_refuses_a_reveal_that_does_not_match(cycle: Cycle) -> None:
    c = cycle
    frozen = c.call("drawer", "POST", "/tasks/T1/freeze", json={})
    c.ceremony("T1", "seed", frozen["pool_digest"])
    c.call("drawer", "POST", "/tasks/T1/announce")
    before = _events(c)
    with c.client("supervisor") as client:
        r = client.post(
            "/tasks/T1/seed/reveal", json={"party": "派驻纪检监察组", "contribution": "00" * 32}
        )
    assert r.status_code == 409 and r.json()["error"] == "integrity"
    assert _events(c) == before


# -- authentication and roles (SQLite: the checks run before any store access) ---------------


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Registry]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('srv') / 'roles.db'}"
    reg = Registry.open(url)
    with serving(reg, people_ring()) as base, httpx.Client(base_url=base) as client:
        yield client, reg


def _routes(with_body: bool = False) -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    routes = [r for m in (_setup, _draws, _records) for r in m.router.routes]
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        roles = [ROLES_OF[d.call] for d in route.dependant.dependencies if d.call in ROLES_OF]
        path = (
            route.path.replace("{task}", "T1").replace("{plan}", "P").replace("{kind}", "entities")
        )
        if with_body and route.body_field is None:
            continue
        for method in route.methods:
            out.append((method, path, roles[0] if roles else ()))
    return out


ROUTES = _routes()


def test_every_endpoint_but_health_needs_a_key_and_declares_its_roles() -> None:
    open_paths = {p for _, p, roles in ROUTES if not roles}
    assert open_paths == {"/health"}
    assert len(ROUTES) >= 45


@pytest.mark.parametrize(("method", "path", "roles"), [r for r in ROUTES if r[2]])
def test_every_role_refusal(
    bare: tuple[httpx.Client, Registry], method: str, path: str, roles: tuple[str, ...]
) -> None:
    client, reg = bare
    before = len(reg.store.audit_events())
    assert client.request(method, path, json={}).status_code == 401
    wrong = client.request(method, path, json={}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    for role, (_, name, key) in PEOPLE.items():
        if role in roles:
            continue
        r = client.request(method, path, json={}, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 403, (role, method, path, r.text)
        assert r.json()["error"] == "forbidden"
        assert name in r.json()["detail"] and roles[0] in r.json()["detail"]
    assert len(reg.store.audit_events()) == before
    # The roles it names get past the check (to the body or the state of the task).
    key = PEOPLE[roles[0]][2]
    r = client.request(method, path, json={}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code not in {401, 403}, r.text


BODIES = [(m, p, roles) for m, p, roles in _routes(with_body=True) if roles]


@pytest.mark.parametrize(("method", "path", "roles"), BODIES)
def test_bad_bodies_are_422_and_store_nothing(
    bare: tuple[httpx.Client, Registry], method: str, path: str, roles: tuple[str, ...]
) -> None:
    client, reg = bare
    before = len(reg.store.audit_events())
    key = PEOPLE[roles[0]][2]
    r = client.request(
        method,
        path,
        content=b'{"unknown_field": 1',
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert r.status_code == 422, (path, r.status_code, r.text)
    assert r.json()["error"] == "invalid_input" and r.json()["detail"]
    assert len(reg.store.audit_events()) == before


def test_a_body_with_an_unknown_field_names_it(bare: tuple[httpx.Client, Registry]) -> None:
    client, _ = bare
    auth = {"Authorization": f"Bearer {PEOPLE['planner'][2]}"}
    body = {"code": "P9", "year": 2026, "name": "计划", "departments": ["SCJG"], "colour": "red"}
    r = client.post("/plans", json=body, headers=auth)
    assert r.status_code == 422
    assert any(e["loc"][-1] == "colour" for e in r.json()["detail"])
    r = client.post("/plans", json=body | {"colour": None, "year": 1900}, headers=auth)
    assert r.status_code == 422


# -- separation of duties ----------------------------------------------------------------------


def test_a_keys_file_giving_one_person_exclusive_roles_is_refused(tmp_path: Path) -> None:
    entry = {"id": "x", "name": "某", "roles": ["recorder", "publisher"], "key_sha256": "a" * 64}
    with pytest.raises(KeysFileError, match="holds both recorder and publisher"):
        keyring({"person": [entry]})
    path = tmp_path / "keys.toml"
    path.write_text(
        '[[person]]\nid = "x"\nname = "某"\nroles = ["auditor"]\nkey_sha256 = "' + "b" * 64 + '"\n'
        '[[person]]\nid = "y"\nname = "某"\nroles = ["auditor"]\n',
        encoding="utf-8",
    )
    with pytest.raises(KeysFileError, match="name given twice"):
        load_keys(path)
    path.write_text('[[person]]\nid = "x"\nname = "某"\nroles = ["boss"]\n', encoding="utf-8")
    with pytest.raises(KeysFileError, match="roles"):
        load_keys(path)


def test_who_recorded_a_result_may_not_publish_it(tmp_path: Path) -> None:
    extra = (("p-09", "两岗-冯", "key-both", ("recorder", "publisher")),)
    ring = people_ring(exclusive=[["drawer", "supervisor"]], extra=extra)
    reg, clock = registry_at(f"sqlite:///{tmp_path / 'sod.db'}")
    with serving(reg, ring) as base:
        c = Cycle(base, clock)
        c.setup(CITY, tmp_path)
        c.task("T1")
        c.draw("T1")
        team = c.teams("T1")[0]
        body = {
            "task": "T1",
            "entity": team["entity"],
            "item": "SCJG-01",
            "categories": ["01"],
            "inspection_start": "2026-07-06",
            "inspection_end": "2026-07-07",
            "inspectors": team["inspectors"],
        }
        clock.at = clock.at.replace(month=7, day=8)
        both = httpx.Client(base_url=base, headers={"Authorization": "Bearer key-both"})
        assert both.post("/results", json=[body]).status_code == 200
        before = len(reg.store.audit_events())
        r = both.post("/publications", json={"keys": [["T1", team["entity"]]]})
        assert r.status_code == 409 and "recorder_not_publisher" in r.json()["detail"]
        assert len(reg.store.audit_events()) == before
        # A CSV naming another recorder is refused: the uploader is who records.
        text = (
            "task,entity_id,item,categories,inspection_start,inspection_end,inspectors,recorded_by\n"
            f"T1,{team['entity']},SCJG-02,01,2026-07-06,2026-07-07,{'|'.join(team['inspectors'])},某人\n"
        )
        r = both.post("/results/csv", files={"file": ("r.csv", text.encode())})
        assert r.status_code == 422 and "某人" in r.json()["detail"]
        c.call("publisher", "POST", "/publications", json={"keys": [["T1", team["entity"]]]})
        both.close()


def test_a_trusted_proxy_header_names_the_person(tmp_path: Path) -> None:
    reg = Registry.open(f"sqlite:///{tmp_path / 'proxy.db'}")
    with serving(reg, people_ring(), proxy_header="X-Remote-User") as base:
        r = httpx.get(base + "/plans", headers={"X-Remote-User": "p-07"})
        assert r.status_code == 200
        r = httpx.post(base + "/plans", json={}, headers={"X-Remote-User": "p-07"})
        assert r.status_code == 403
        assert httpx.get(base + "/plans", headers={"X-Remote-User": "p-99"}).status_code == 401
        # Without the header the key is still asked for.
        assert httpx.get(base + "/plans").status_code == 401


def test_the_committed_openapi_schema_is_current() -> None:
    """docs/openapi.json is the schema the service publishes at /openapi.json; regenerate it
    with `python -m shuangsuiji.server docs/openapi.json` when an endpoint changes."""
    schema = create_app("sqlite://", keys=people_ring()).openapi()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(schema)), (
        "run: python -m shuangsuiji.server docs/openapi.json"
    )


def test_a_seed_from_declared_public_values(cycle: Cycle) -> None:
    c = cycle
    assert c.clock is not None
    c.call("drawer", "POST", "/tasks/T1/freeze", json={})
    source = {"label": "中国福利彩票 双色球", "reference": "第2026075期", "expected": "2026-07-02"}
    out = c.call("drawer", "POST", "/tasks/T1/seed/public", json={"sources": [source]})
    assert len(out["digest"]) == 64
    c.call("drawer", "POST", "/tasks/T1/announce")
    values = {"values": ["03 08 14 21 27 30 + 11"]}
    before = _events(c)
    with c.client("supervisor") as client:
        early = client.post("/tasks/T1/seed/public/values", json=values)
    assert early.status_code == 409, early.text  # its date has not come
    assert _events(c) == before
    c.clock.at = datetime(2026, 7, 2, 14, 0, tzinfo=UTC)
    c.call("supervisor", "POST", "/tasks/T1/seed/public/values", json=values)
    drawn = c.call("drawer", "POST", "/tasks/T1/select")
    bundle = c.call("auditor", "GET", "/tasks/T1/bundle")
    assert bundle["seed"] == drawn["seed"]
    assert c.call("auditor", "POST", "/verify", json={"bundle": bundle})["ok"]


def test_the_setup_and_read_endpoints_and_a_withdrawn_change(cycle: Cycle) -> None:
    c = cycle
    item = CITY.items[0]
    header = "code,department,name,legal_basis,target,method,key"
    fields = (item.code, item.department, f"{item.name}（修订）", item.legal_basis, item.target)
    row = ",".join((*fields, "现场检查", "false"))
    files = {"file": ("items.csv", f"{header}\n{row}\n".encode())}
    assert c.call("admin", "POST", "/items/csv", files=files) == {"stored": 1}
    items = c.call("auditor", "GET", "/items", params={"limit": 1000})["items"]
    assert any(i["name"].endswith("（修订）") for i in items)
    cat = {
        "code": "SC-01",
        "label_zh": "未按规定公示年报",
        "label_en": "Annual report not published",
    }
    assert "SC-01" in json.dumps(c.call("admin", "POST", "/categories", json=cat))
    assert "SC-01" in json.dumps(c.call("auditor", "GET", "/categories"))
    assert c.call("auditor", "GET", "/departments")
    assert c.call("auditor", "GET", "/policy")["policy"]["draw"]["independent_parties"] == 1
    assert c.call("auditor", "GET", "/pools")["entities"] == len(CITY.entities)
    assert [p["code"] for p in c.call("auditor", "GET", "/plans")["items"]] == ["P"]
    assert c.call("auditor", "GET", "/tasks", params={"plan": "P"})["total"] == 2
    assert c.call("auditor", "GET", "/tasks/T2")["code"] == "T2"
    # The one-shot draw and team assignment rest on the system's seed alone: refused here.
    with c.client("drawer") as client:
        r = client.post("/tasks/T2/draw", json={})
        assert r.status_code == 409 and "run the ceremony" in r.json()["detail"]
    # The log against the announcements as published.
    frozen = c.call("drawer", "POST", "/tasks/T2/freeze", json={})
    c.ceremony("T2", "seed", frozen["pool_digest"])
    announcement = c.call("drawer", "POST", "/tasks/T2/announce")
    checked = c.call("auditor", "POST", "/verify-log/announcements", json=[announcement])
    assert checked == {"ok": True, "problems": []}
    assert not c.call("auditor", "POST", "/verify-log/announcements", json=[])["ok"]
    # A change of a team asked for, then withdrawn (a visible act).
    c.reveal("T2", "seed")
    c.call("drawer", "POST", "/tasks/T2/select")
    team = c.teams("T2")[0]
    change = {"entity": team["entity"], "inspector": team["inspectors"][0], "reason": "illness"}
    c.call("drawer", "POST", "/tasks/T2/teams/changes", json=change)
    c.call("drawer", "POST", "/tasks/T2/teams/changes/withdraw", json={"text": "申请有误，撤回"})
    assert c.call("auditor", "GET", "/tasks/T2/teams/changes/pending") == {"pending": None}


def test_the_serve_command_prints_a_key_and_serves_a_keys_file(tmp_path: Path) -> None:
    new = CliRunner().invoke(main, ["serve", "--new-key"])
    assert new.exit_code == 0, new.output
    key = new.output.split()[1]
    digest = new.output.split('"')[1]
    assert hash_key(key) == digest and len(key) >= 43
    missing = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert missing.exit_code == 2 and "--keys" in missing.output
    keys = tmp_path / "keys.toml"
    keys.write_text(
        f'[[person]]\nid = "p-1"\nname = "审计-郑"\nroles = ["auditor"]\nkey_sha256 = "{digest}"\n',
        encoding="utf-8",
    )
    port = free_port()
    store = f"sqlite:///{tmp_path / 's.db'}"
    command = [sys.executable, "-m", "shuangsuiji.cli", "serve", "--db", store]
    command += ["--keys", str(keys), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        while process.poll() is None:
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert process.poll() is None, process.communicate()[0].decode()[-3000:]
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(base + "/verify-log", headers=auth).json() == {"ok": True, "problems": []}
        assert httpx.post(base + "/plans", json={}, headers=auth).status_code == 403
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "p-1 POST /plans 403" in output  # the access record of each request
