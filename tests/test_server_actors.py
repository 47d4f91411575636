"""Structured actors: a step given an :class:`Actor` records the person id, name, role and
request in its audit event; a plain name records what it always did; the chain and the tables
verify either way, and an Actor is the name wherever the library compares people."""

from __future__ import annotations

import pickle

import pytest

from server_helpers import CITY
from shuangsuiji.actors import Actor, event_actor
from shuangsuiji.model import Plan
from shuangsuiji.registry import Registry
from test_threats import T1

DRAWER = Actor("抽取人-李", person="p-03", role="drawer", request="r-1")


def _registry(url: str) -> Registry:
    reg = Registry.open(url)
    reg.setup_city(CITY, actor="管理员")  # a plain name, as before
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor="管理员")
    reg.store.put_task(T1, actor=Actor("计划-钱", person="p-02", role="planner"))
    return reg


def test_an_actor_is_recorded_in_the_payload_and_a_name_as_before(db_url: str) -> None:
    reg = _registry(db_url)
    reg.draw("T1", actor=DRAWER)
    events = reg.store.audit_events()
    plain = [e for e in events if e.actor == "管理员"]
    assert plain and all("actor" not in e.payload for e in plain)
    task = next(e for e in events if e.kind == "task.create")
    assert task.payload["actor"] == {"id": "p-02", "name": "计划-钱", "role": "planner"}
    drawn = [e for e in events if e.payload.get("task") == "T1" and e.kind != "task.create"]
    assert {e.actor for e in drawn} == {"抽取人-李"}
    assert all(e.payload["actor"]["request"] == "r-1" for e in drawn)
    assert reg.store.verify_log() == []
    assert reg.verify_records() == []


def test_an_actor_is_its_name_for_every_rule_that_compares_people() -> None:
    assert DRAWER == "抽取人-李" and hash(DRAWER) == hash("抽取人-李")
    assert {"抽取人-李": 1}[DRAWER] == 1 and DRAWER.strip() == "抽取人-李"
    assert pickle.loads(pickle.dumps(DRAWER)).to_record() == DRAWER.to_record()
    with pytest.raises(ValueError, match="own 'actor' key"):
        event_actor(DRAWER, {"actor": "someone"})
    for bad in ({"person": " "}, {"role": ""}):
        with pytest.raises(ValueError, match="needs"):
            Actor("某", **({"person": "p", "role": "r"} | bad))
