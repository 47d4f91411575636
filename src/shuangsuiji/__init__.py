"""shuangsuiji: reproducible, auditable 双随机、一公开 random inspections.

Draw the businesses to inspect and the inspectors who go there by a lottery anyone can
replay (SSJ-DRAW-1), under recusal (回避) rules, and publish the results within the
working-day deadline.

The public surface, by task:

- identifiers and records: :func:`validate_uscc`, :class:`Entity`, :class:`Inspector`,
  :class:`InspectionItem`, :class:`Plan`, :class:`Task`, :class:`PopulationFilter`
- the two pools: :class:`EntityPool`, :class:`InspectorPool`
- the rules: :class:`Policy`, :func:`load_policy`
- the draw: :func:`draw_entities`, :class:`SizeRule`, :func:`make_bundle`,
  :func:`verify_bundle`, :func:`random_seed`, :class:`Ceremony`
- deadlines: :class:`WorkCalendar`
- the whole cycle on a database: :class:`Registry`, :class:`Store`
- errors: :class:`ShuangsuijiError` and its families :class:`InvalidInputError`,
  :class:`NotFoundError`, :class:`RefusedError`, :class:`IntegrityFailure`

Importing the package is cheap: each public name is loaded from its module the first time it
is used (PEP 562), so ``import shuangsuiji.draw`` or ``shuangsuiji --help`` does not load
SQLAlchemy, Alembic or SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shuangsuiji._version import __version__

if TYPE_CHECKING:
    from shuangsuiji.assign import (
        Assignment,
        InfeasibleAssignment,
        Recusal,
        Staffing,
        TaskNeeds,
        Team,
        TeamConfig,
        assign_teams,
        check_teams,
        reassign,
    )
    from shuangsuiji.bundle import make_bundle, verify_bundle
    from shuangsuiji.draw import (
        Draw,
        ReplacementReason,
        SizeRule,
        Strata,
        TicketScheme,
        draw_entities,
    )
    from shuangsuiji.errors import (
        IntegrityFailure,
        InvalidInputError,
        NotFoundError,
        RefusedError,
        ShuangsuijiError,
    )
    from shuangsuiji.ids import validate_uscc
    from shuangsuiji.model import (
        Conflict,
        Department,
        Entity,
        InspectionItem,
        Inspector,
        Plan,
        PopulationFilter,
        Task,
    )
    from shuangsuiji.policy import Policy, PolicyError, load_policy
    from shuangsuiji.pools import EntityPool, InspectorPool
    from shuangsuiji.publication import (
        PublicationRecord,
        PublicationStatus,
        build_records,
        publication_report,
    )
    from shuangsuiji.registry import DrawRefused, Registry, ResultEntry
    from shuangsuiji.results import InspectionResult, ResultCategories, correct, read_results_csv
    from shuangsuiji.seeds import Ceremony, party_commitment, random_seed
    from shuangsuiji.store import Store, StoreError
    from shuangsuiji.workdays import CalendarCoverageError, Deadline, WorkCalendar

# The module that defines each public name. The imports above say the same to type checkers and
# __all__ below lists the names again; tests/test_package.py checks that the three agree.
_MODULES: dict[str, tuple[str, ...]] = {
    "assign": (
        "Assignment",
        "InfeasibleAssignment",
        "Recusal",
        "Staffing",
        "TaskNeeds",
        "Team",
        "TeamConfig",
        "assign_teams",
        "check_teams",
        "reassign",
    ),
    "bundle": ("make_bundle", "verify_bundle"),
    "draw": ("Draw", "ReplacementReason", "SizeRule", "Strata", "TicketScheme", "draw_entities"),
    "errors": (
        "IntegrityFailure",
        "InvalidInputError",
        "NotFoundError",
        "RefusedError",
        "ShuangsuijiError",
    ),
    "ids": ("validate_uscc",),
    "model": (
        "Conflict",
        "Department",
        "Entity",
        "InspectionItem",
        "Inspector",
        "Plan",
        "PopulationFilter",
        "Task",
    ),
    "policy": ("Policy", "PolicyError", "load_policy"),
    "pools": ("EntityPool", "InspectorPool"),
    "publication": (
        "PublicationRecord",
        "PublicationStatus",
        "build_records",
        "publication_report",
    ),
    "registry": ("DrawRefused", "Registry", "ResultEntry"),
    "results": ("InspectionResult", "ResultCategories", "correct", "read_results_csv"),
    "seeds": ("Ceremony", "party_commitment", "random_seed"),
    "store": ("Store", "StoreError"),
    "workdays": ("CalendarCoverageError", "Deadline", "WorkCalendar"),
}
_HOME = {name: f"shuangsuiji.{module}" for module, names in _MODULES.items() for name in names}

__all__ = [
    "Assignment",
    "CalendarCoverageError",
    "Ceremony",
    "Conflict",
    "Deadline",
    "Department",
    "Draw",
    "DrawRefused",
    "Entity",
    "EntityPool",
    "InfeasibleAssignment",
    "InspectionItem",
    "InspectionResult",
    "Inspector",
    "InspectorPool",
    "IntegrityFailure",
    "InvalidInputError",
    "NotFoundError",
    "Plan",
    "Policy",
    "PolicyError",
    "PopulationFilter",
    "PublicationRecord",
    "PublicationStatus",
    "Recusal",
    "RefusedError",
    "Registry",
    "ReplacementReason",
    "ResultCategories",
    "ResultEntry",
    "ShuangsuijiError",
    "SizeRule",
    "Staffing",
    "Store",
    "StoreError",
    "Strata",
    "Task",
    "TaskNeeds",
    "Team",
    "TeamConfig",
    "TicketScheme",
    "WorkCalendar",
    "__version__",
    "assign_teams",
    "build_records",
    "check_teams",
    "correct",
    "draw_entities",
    "load_policy",
    "make_bundle",
    "party_commitment",
    "publication_report",
    "random_seed",
    "read_results_csv",
    "reassign",
    "validate_uscc",
    "verify_bundle",
]


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use, then keep the name here."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'shuangsuiji' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
