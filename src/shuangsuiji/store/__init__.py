"""The store: SQLAlchemy 2 repositories over SQLite (embedded default) or PostgreSQL.

Every method that writes runs in one explicit transaction and appends its audit event
(table ``audit_events``) in that same transaction, so a change and its trace are committed
together or not at all. The schema is created and upgraded by Alembic (:meth:`Store.upgrade`).
The core (engine, transactions, audit log, items, plans, tasks, policies) is in
``store/_store.py``, the pools in :mod:`shuangsuiji.store.pools`.

>>> from shuangsuiji.model import Department
>>> store = Store.open("sqlite://")          # in memory; a file path or URL in real use
>>> store.put_departments([Department("SCJG", "市场监督管理局")], actor="张三")
>>> print(*(d.code for d in store.departments()))
SCJG
"""

from __future__ import annotations

from datetime import UTC, datetime

from shuangsuiji.store._store import DEFAULT_URL, Clock, NotStoredError, StoreError, normalise_url
from shuangsuiji.store.pools import ImportReport, PoolRepository

__all__ = [
    "DEFAULT_URL",
    "Clock",
    "ImportReport",
    "NotStoredError",
    "Store",
    "StoreError",
    "normalise_url",
    "utc_now",
]


def utc_now() -> datetime:
    """The adapters' default clock (the core never reads a clock)."""
    return datetime.now(UTC)


class Store(PoolRepository):
    """Repositories for departments, pools, conflicts, items, plans, tasks, policies and audit.

    Open with :meth:`open` (a URL, a file path or an existing SQLAlchemy ``Engine`` that a host
    application shares). Thread-safe: each call uses its own session; audit appends are
    serialised by the database (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL).
    """
