"""The Registry: the one object an embedding system uses for the whole cycle.

It opens a store (a SQLite file by default, PostgreSQL for shared deployments, or a host
application's SQLAlchemy engine), and runs the regime's steps, each as one transaction that
appends its audit event, each taking the acting person:

    pools and lists → task → freeze candidates → seed (commit, reveal) → draw → teams
    → results → publication

A draw follows DESIGN.md's order: the candidate set is frozen and its pool digest recorded
(``candidates.freeze``) before any seed exists; the seed is committed (``seed.commit``) and
revealed (``seed.reveal``); then the entities are selected (``draw``). A second draw of a task
is refused unless it carries a reason (``redraw``); the earlier draw stays on record.

The workflow is built in floors, each a class in its own module that builds on the one
below and never reaches up; every SQL statement they run lives in :mod:`shuangsuiji.store`:

=================  =======================================================================
``_base``          opening the store, the clock, the draw rows every stage reads
``_approvals``     a second person's consent: requested, granted, withdrawn, used once
``_draws``         the entity draw: freeze, seed ceremony, announcement, select, re-draw
``_teams``         the team draw: staffing frozen, team-seed ceremony, teams, re-assignment
``_results``       inspection results: one scope check for recording and importing
``_publish``       publication records, publishing, announcements, exports
``_health``        the lottery replayed, conduct findings, inspector load
=================  =======================================================================

>>> from shuangsuiji.synth import make_city
>>> reg = Registry.open("sqlite://")
>>> city = make_city(1_000, seed=4)
>>> reg.setup_city(city, actor="管理员")
>>> from datetime import date
>>> from shuangsuiji.model import Plan, Task
>>> reg.store.put_plan(Plan("P", 2026, "年度计划", ("SCJG",)), actor="管理员")
>>> reg.store.put_task(Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",),
...                         date(2026, 7, 1), date(2026, 9, 30)), actor="管理员")
>>> result = reg.draw("T1", actor="抽取人", cutoff=date(2026, 6, 30))
>>> result.attempt, len(result.draw.selected) > 0
(1, True)
>>> reg.draw("T1", actor="抽取人")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shuangsuiji.registry.DrawRefused: task T1 was already drawn (attempt 1); a re-draw needs ...
"""

from __future__ import annotations

from shuangsuiji.registry._base import (
    PUSHDOWN_FROM,
    SYSTEM_PARTY,
    DrawRefused,
    DrawResult,
)
from shuangsuiji.registry._health import _Health
from shuangsuiji.registry._results import ResultEntry

__all__ = [
    "PUSHDOWN_FROM",
    "SYSTEM_PARTY",
    "DrawRefused",
    "DrawResult",
    "Registry",
    "ResultEntry",
]


class Registry(_Health):
    """The workflow over a :class:`~shuangsuiji.store.Store`; see the module docstring."""


# The public names say where a user imports them from (tracebacks, reprs, the API page).
for _public in (DrawRefused, DrawResult, ResultEntry, Registry):
    _public.__module__ = __name__
