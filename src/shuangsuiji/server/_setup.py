"""Setting up: the pools (CSV upload or JSON rows), departments, the item list, the policy,
result categories, plans and tasks."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from shuangsuiji.actors import Actor
from shuangsuiji.io import (
    read_conflicts_csv,
    read_entities_csv,
    read_inspectors_csv,
    read_items_csv,
)
from shuangsuiji.model import Department, Plan, PopulationFilter, Task
from shuangsuiji.policy import Policy
from shuangsuiji.server._context import (
    BadInput,
    Limit,
    Offset,
    Reader,
    Svc,
    acting,
    built,
    page,
    plain,
)

router = APIRouter()

Admin = Annotated[Actor, Depends(acting("admin"))]
Planner = Annotated[Actor, Depends(acting("planner", "admin"))]


class Body(BaseModel):
    """Every request body refuses fields it does not know (a typo is a 422, not ignored)."""

    model_config = ConfigDict(extra="forbid")


class Rows(Body):
    """Rows of a pool or list as JSON objects with the CSV file's columns (same names, same
    text values: dates ``YYYY-MM-DD``, several labels joined as in the CSV)."""

    rows: list[dict[str, str | int | float | bool | None]] = Field(min_length=1)
    scheme: str = "uscc"
    mode: Literal["add", "upsert"] = "add"


def _csv_text(rows: list[dict[str, Any]]) -> io.StringIO:
    """The rows as CSV text, so JSON rows pass exactly the checks of a CSV upload."""
    header = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, header)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    out.seek(0)
    return out


def _cell(value: Any) -> Any:
    """A JSON value as the CSV reader expects it: null is empty, booleans are true/false."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else value


def _import(svc: Svc, kind: str, source: Any, name: str, actor: str, scheme: str, mode: str) -> Any:
    store = svc.registry.store
    if kind == "entities":
        pool = read_entities_csv(source, id_scheme=scheme)
        return store.import_entities(pool, actor=actor, source=name, mode=mode)
    if kind == "inspectors":
        known = [d.code for d in store.departments()]
        return store.import_inspectors(
            read_inspectors_csv(source, departments=known), actor=actor, source=name
        )
    return store.import_conflicts(read_conflicts_csv(source), actor=actor, source=name)


Pool = Literal["entities", "inspectors", "conflicts"]


@router.post("/pools/{kind}", tags=["pools"], summary="Import a pool from JSON rows")
def import_rows(kind: Pool, body: Rows, svc: Svc, actor: Admin) -> Any:
    """Import the entity or inspector pool, or declared conflicts, all rows or none."""
    report = _import(svc, kind, _csv_text(body.rows), "api (json)", actor, body.scheme, body.mode)
    return plain(report)


@router.post("/pools/{kind}/csv", tags=["pools"], summary="Import a pool from a CSV upload")
def import_csv(
    kind: Pool,
    file: Annotated[UploadFile, File(description="the CSV file (UTF-8)")],
    svc: Svc,
    actor: Admin,
    scheme: Annotated[str, Form()] = "uscc",
    mode: Annotated[Literal["add", "upsert"], Form()] = "add",
) -> Any:
    """The same import from an uploaded CSV file (multipart field ``file``)."""
    name = f"api upload {file.filename or ''}".strip()[:200]
    return plain(_import(svc, kind, file.file, name, actor, scheme, mode))


@router.get("/pools", tags=["pools"], summary="Row counts of the store's tables")
def counts(svc: Svc, _: Reader) -> dict[str, int]:
    return svc.registry.store.counts()


class DepartmentBody(Body):
    code: str
    name: str


@router.post("/departments", tags=["setup"], summary="Add or change departments")
def put_departments(body: list[DepartmentBody], svc: Svc, actor: Admin) -> Any:
    deps = built(lambda: [Department(d.code, d.name) for d in body], "departments")
    svc.registry.store.put_departments(deps, actor=actor)
    return plain(svc.registry.store.departments())


@router.get("/departments", tags=["setup"])
def departments(svc: Svc, _: Reader) -> Any:
    return plain(svc.registry.store.departments())


@router.post("/items", tags=["setup"], summary="Add or change inspection items (一单)")
def put_items(body: Rows, svc: Svc, actor: Admin) -> Any:
    items = read_items_csv(_csv_text(body.rows))
    svc.registry.store.put_items(items, actor=actor)
    return {"stored": len(items)}


@router.post("/items/csv", tags=["setup"], summary="Inspection items from a CSV upload")
def put_items_csv(
    file: Annotated[UploadFile, File(description="the item list CSV")], svc: Svc, actor: Admin
) -> Any:
    items = read_items_csv(file.file)
    svc.registry.store.put_items(items, actor=actor)
    return {"stored": len(items)}


@router.get("/items", tags=["setup"])
def items(svc: Svc, _: Reader, limit: Limit = 100, offset: Offset = 0) -> Any:
    return page(svc.registry.store.items(), limit, offset)


class PolicyBody(Body):
    """The policy as its TOML text (``toml``) or as the same tables in JSON (``policy``)."""

    toml: str | None = None
    policy: dict[str, Any] | None = None


@router.put("/policy", tags=["setup"], summary="Store a new policy version (一细则)")
def put_policy(body: PolicyBody, svc: Svc, actor: Admin) -> Any:
    if (body.toml is None) == (body.policy is None):
        raise BadInput("send the policy once: either 'toml' (its text) or 'policy' (JSON)")
    policy = (
        Policy.from_toml(body.toml, "request body")
        if body.toml is not None
        else Policy.from_mapping(body.policy or {})
    )
    return {"hash": svc.registry.store.save_policy(policy, actor=actor)}


@router.get("/policy", tags=["setup"], summary="The policy in force")
def policy(svc: Svc, _: Reader) -> Any:
    current = svc.registry.store.policy()
    return {"hash": current.content_hash, "policy": plain(current.to_dict())}


class CategoryBody(Body):
    code: str
    label_zh: str
    label_en: str
    kind: str = "problem"


@router.post("/categories", tags=["setup"], summary="Add an agency result category")
def add_category(body: CategoryBody, svc: Svc, actor: Admin) -> Any:
    svc.registry.add_category(body.code, body.label_zh, body.label_en, actor=actor, kind=body.kind)
    return plain(svc.registry.categories())


@router.get("/categories", tags=["setup"])
def categories(svc: Svc, _: Reader) -> Any:
    return plain(svc.registry.categories())


class PlanBody(Body):
    code: str
    year: int
    name: str
    departments: list[str]


@router.post("/plans", tags=["plans"], summary="Create or change a plan (一表)")
def put_plan(body: PlanBody, svc: Svc, actor: Planner) -> Any:
    plan = built(lambda: Plan(body.code, body.year, body.name, tuple(body.departments)), "plan")
    svc.registry.store.put_plan(plan, actor=actor)
    return plain(plan)


@router.get("/plans", tags=["plans"])
def plans(svc: Svc, _: Reader, limit: Limit = 100, offset: Offset = 0) -> Any:
    return page(svc.registry.store.plans(), limit, offset)


class PopulationBody(Body):
    industry_prefixes: list[str] = []
    region_prefixes: list[str] = []
    tiers: list[str] = []
    tags_any: list[str] = []


class TaskBody(Body):
    code: str
    plan: str
    name: str
    departments: list[str]
    items: list[str]
    start: date
    end: date
    population: PopulationBody = PopulationBody()
    ratio: float | None = None


@router.post("/tasks", tags=["plans"], summary="Create or change a task")
def put_task(body: TaskBody, svc: Svc, actor: Planner) -> Any:
    def make() -> Task:
        p = body.population
        population = PopulationFilter(
            industry_prefixes=tuple(p.industry_prefixes),
            region_prefixes=tuple(p.region_prefixes),
            tiers=tuple(p.tiers),
            tags_any=tuple(p.tags_any),
        )
        return Task(
            body.code,
            body.plan,
            body.name,
            tuple(body.departments),
            tuple(body.items),
            body.start,
            body.end,
            population=population,
            ratio=body.ratio,
        )

    task = built(make, "task")
    svc.registry.store.put_task(task, actor=actor)
    return plain(task)


@router.get("/tasks", tags=["plans"])
def tasks(
    svc: Svc, _: Reader, plan: str | None = None, limit: Limit = 100, offset: Offset = 0
) -> Any:
    return page(svc.registry.store.tasks(plan), limit, offset)


@router.get("/tasks/{task}", tags=["plans"])
def task(task: str, svc: Svc, _: Reader) -> Any:
    return plain(svc.registry.store.task(task))
