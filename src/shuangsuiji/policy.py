"""The agency's implementation rules (一细则) as a versioned TOML policy.

A policy says how many inspectors go to each entity, which recusal (回避) rules apply, which
entities are excluded from a draw, the sampling ratio of each credit-risk tier, floors, and
the publication deadline. It is validated on load (every error names the table, the key and
the fix) and has a stable content hash that every draw records: the hash covers the parsed
values, so comments and formatting do not change it.

>>> policy = Policy.default()
>>> policy.team.size, policy.ratios.tier["D"], policy.deadline.working_days
(2, 0.6, 20)
>>> len(policy.content_hash)
64

The file format (defaults shown). A policy *file* (:func:`load_policy`, ``shuangsuiji policy
set``) must state its ``[ratios]`` table with a ``tier`` for every credit-risk tier: the ratios
decide who is inspected, so a file that lost them is refused rather than drawn with defaults.
Every other table and key is optional, and :meth:`Policy.from_toml` accepts fragments (the
defaults fill in) for tests and notebooks::

    [policy]
    name = "双随机抽查实施细则"
    version = "1"

    [team]
    size = 2                    # 行政处罚法 art. 42: at least two officers
    legal_exception = ""        # cite the law when size = 1 is allowed
    max_per_task = 0            # teams one officer may join in one task (0 = no cap)
    max_per_period = 0          # teams per officer per period (0 = no cap)
    period_days = 365
    max_pair_probability = 0.0  # cap on P(officer on an entity's team), e.g. 0.5 (0 = off)
    on_pair_cap = "state"       # "state" it before the team seed, "refuse", or "enforce" the cap

    [recusal]
    declared_conflicts = true
    same_home_region_digits = 9 # officer lives in the entity's township (0 = off)
    rotation_days = 365         # same officer, same entity: not again within N days

    [exclusions]
    recently_inspected_days = 365
    statuses = ["注销", "吊销", "撤销"]
    registered_after_cutoff = true

    [ratios]
    tier = { A = 0.03, B = 0.05, C = 0.2, D = 0.6 }
    tags = { "经营异常名录" = 0.5 }   # a tagged entity is drawn at least at this ratio
    general_item_cap = 0.1      # ratio cap for tasks with only general items
    floor = 0.03                # per jurisdiction
    floor_region_digits = 6
    alternates = 0.2            # alternates per stratum, as a share of the sample (at least 1)

    [deadline]
    working_days = 20
    after = "inspection_end"
    due_soon_working_days = 5

    [draw]
    independent_parties = 0     # seed parties besides the system, each entered by another person
    max_redraws = 2             # re-draws of one task (listed reason, text, a second person)
    cutoff_lead_days = 31       # the cut-off may lie this many days before the task's start
    max_reassignments = 2       # re-draws of one entity's team after the team draw

With ``independent_parties = 0`` a draw may rest on the system's seed alone; its records say
so ("system seed only", not verifiable as un-steered). An agency that wants no single insider
to control the randomness sets 1 or more: then every draw needs that many ceremony parties
entered by people other than the drawer (e.g. the discipline-inspection office), or public
values announced before they exist (``docs/threat-model.md``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from shuangsuiji.errors import InvalidInputError
from shuangsuiji.model import STATUSES, TIERS

__all__ = [
    "DeadlineRules",
    "DrawRules",
    "ExclusionRules",
    "Policy",
    "PolicyError",
    "RatioRules",
    "RecusalRules",
    "TeamRules",
    "load_policy",
]


class PolicyError(InvalidInputError):
    """A policy file or value that cannot be used; the message names where and how to fix it."""


def _where(table: str, key: str) -> str:
    return f"[{table}] {key}"


def _ratio(table: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{_where(table, key)} must be a number between 0 and 1, got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise PolicyError(
            f"{_where(table, key)} = {value} is outside [0, 1]; write e.g. 0.05 for 5%"
        )
    return float(value)


def _int(table: str, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{_where(table, key)} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise PolicyError(f"{_where(table, key)} = {value} must be between {low} and {high}")
    return value


def _text(table: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"{_where(table, key)} must be a text in quotes, got {value!r}")
    return value


def _bool(table: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{_where(table, key)} must be true or false, got {value!r}")
    return value


PAIR_CAP_CHOICES = ("state", "refuse", "enforce")


@attrs.frozen
class TeamRules:
    """Team composition: size, the legal exception for one officer, workload caps, and the
    cap on any one officer's probability of inspecting an entity (``docs/teams.md``, "Pair
    probabilities"), checked when the staffing is frozen."""

    size: int = 2
    legal_exception: str = ""
    max_per_task: int = 0
    max_per_period: int = 0
    period_days: int = 365
    max_pair_probability: float = 0.0
    on_pair_cap: str = "state"

    def __attrs_post_init__(self) -> None:
        if self.on_pair_cap not in PAIR_CAP_CHOICES:
            raise PolicyError(
                f"[team] on_pair_cap = {self.on_pair_cap!r}; choose one of {list(PAIR_CAP_CHOICES)}"
            )
        if self.on_pair_cap == "enforce" and not self.max_pair_probability:
            raise PolicyError(
                '[team] on_pair_cap = "enforce" needs a cap: set max_pair_probability, e.g. 0.5'
            )
        if self.size < 2 and not self.legal_exception.strip():
            raise PolicyError(
                f"[team] size = {self.size}: at least two officers are required "
                "(行政处罚法 art. 42); set legal_exception to the provision that permits fewer"
            )


@attrs.frozen
class RecusalRules:
    """Recusal (回避): declared conflicts, home-region rule, rotation window."""

    declared_conflicts: bool = True
    same_home_region_digits: int = 9
    rotation_days: int = 365


@attrs.frozen
class ExclusionRules:
    """Entities left out of a draw, each recorded with its reason."""

    recently_inspected_days: int = 365
    statuses: tuple[str, ...] = ("注销", "吊销", "撤销")
    registered_after_cutoff: bool = True


def _default_tiers() -> dict[str, float]:
    return {"A": 0.03, "B": 0.05, "C": 0.2, "D": 0.6}


def _default_tags() -> dict[str, float]:
    return {"经营异常名录": 0.5}


@attrs.frozen
class RatioRules:
    """Sampling ratios per credit-risk tier and tag, the floor per jurisdiction, alternates."""

    tier: dict[str, float] = attrs.field(factory=_default_tiers)
    tags: dict[str, float] = attrs.field(factory=_default_tags)
    general_item_cap: float = 0.1
    floor: float = 0.03
    floor_region_digits: int = 6
    alternates: float = 0.2

    def __attrs_post_init__(self) -> None:
        missing = [t for t in TIERS if t not in self.tier]
        if missing:
            raise PolicyError(f"[ratios] tier: give a ratio for every tier; missing {missing}")
        extra = sorted(set(self.tier) - set(TIERS))
        if extra:
            raise PolicyError(f"[ratios] tier: unknown tier(s) {extra}; tiers are A, B, C, D")
        values = [self.tier[t] for t in TIERS]
        if values != sorted(values):
            raise PolicyError(
                "[ratios] tier: ratios must not decrease from A (low risk) to D (high risk) "
                f"(国发〔2019〕5号), got {dict(zip(TIERS, values, strict=True))}"
            )
        if self.floor > self.general_item_cap:
            raise PolicyError(
                f"[ratios] floor = {self.floor} is above general_item_cap = "
                f"{self.general_item_cap}: no draw could satisfy both; "
                "lower the floor or raise the cap"
            )


@attrs.frozen
class DeadlineRules:
    """Publication deadline: N working days after the inspection activity ends (default 20)."""

    working_days: int = 20
    after: str = "inspection_end"
    due_soon_working_days: int = 5

    def __attrs_post_init__(self) -> None:
        if self.due_soon_working_days > self.working_days:
            raise PolicyError(
                f"[deadline] due_soon_working_days = {self.due_soon_working_days} exceeds "
                f"working_days = {self.working_days}"
            )


@attrs.frozen
class DrawRules:
    """Who controls the randomness and how often a draw may be repeated (see the module doc)."""

    independent_parties: int = 0
    max_redraws: int = 2
    cutoff_lead_days: int = 31
    max_reassignments: int = 2


AFTER_CHOICES = ("inspection_end", "task_end")
DEFAULT_NAME = "双随机抽查实施细则（默认）"


@attrs.frozen
class Policy:
    """A validated policy (一细则). Build it with :func:`load_policy` or :meth:`from_mapping`."""

    name: str = DEFAULT_NAME
    version: str = "1"
    team: TeamRules = attrs.field(factory=TeamRules)
    recusal: RecusalRules = attrs.field(factory=RecusalRules)
    exclusions: ExclusionRules = attrs.field(factory=ExclusionRules)
    ratios: RatioRules = attrs.field(factory=RatioRules)
    deadline: DeadlineRules = attrs.field(factory=DeadlineRules)
    draw: DrawRules = attrs.field(factory=DrawRules)

    @classmethod
    def default(cls) -> Policy:
        """The defaults of DOMAIN.md: teams of two, 20 working days, tiered ratios."""
        return cls()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Validate a parsed TOML document; unknown tables or keys are errors (typos matter)."""
        return _parse(data)

    @classmethod
    def from_toml(cls, text: str, source: str = "<policy>") -> Policy:
        """Parse and validate TOML text."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
        try:
            return _parse(data)
        except PolicyError as exc:
            raise PolicyError(f"{source}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data (the form that is hashed and stored)."""
        out = attrs.asdict(self)
        out["exclusions"]["statuses"] = list(self.exclusions.statuses)
        return out

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`to_dict`: sorted keys, no spaces, UTF-8."""
        payload = json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def to_toml(self) -> str:
        """The policy as TOML text that :meth:`from_toml` reads back to an equal policy."""
        data = self.to_dict()
        lines = ["[policy]", f"name = {json.dumps(self.name, ensure_ascii=False)}"]
        lines.append(f"version = {json.dumps(self.version)}")
        for table in ("team", "recusal", "exclusions", "ratios", "deadline", "draw"):
            lines += ["", f"[{table}]"]
            for key, value in data[table].items():
                lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        inner = ", ".join(
            f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(v)}" for k, v in value.items()
        )
        return "{ " + inner + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_TABLES = {"policy", "team", "recusal", "exclusions", "ratios", "deadline", "draw"}


def _table(data: Mapping[str, Any], name: str, known: set[str]) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise PolicyError(f"[{name}] must be a table")
    unknown = sorted(set(table) - known)
    if unknown:
        raise PolicyError(f"[{name}] has unknown key(s) {unknown}; known keys: {sorted(known)}")
    return table


def _parse(data: Mapping[str, Any]) -> Policy:
    unknown = sorted(set(data) - _TABLES)
    if unknown:
        raise PolicyError(f"unknown table(s) {unknown}; known tables: {sorted(_TABLES)}")
    head = _table(data, "policy", {"name", "version"})
    t = _table(data, "team", {f.name for f in attrs.fields(TeamRules)})
    r = _table(data, "recusal", {f.name for f in attrs.fields(RecusalRules)})
    e = _table(data, "exclusions", {f.name for f in attrs.fields(ExclusionRules)})
    q = _table(data, "ratios", {f.name for f in attrs.fields(RatioRules)})
    d = _table(data, "deadline", {f.name for f in attrs.fields(DeadlineRules)})
    w = _table(data, "draw", {f.name for f in attrs.fields(DrawRules)})
    team, recusal, exclusions = _team(t), _recusal(r), _exclusions(e)
    ratios, deadline, draw = _ratios(q), _deadline(d), _draw(w)
    return Policy(
        name=_text("policy", "name", head.get("name", DEFAULT_NAME)),
        version=_text("policy", "version", str(head.get("version", "1"))),
        team=team,
        recusal=recusal,
        exclusions=exclusions,
        ratios=ratios,
        deadline=deadline,
        draw=draw,
    )


def _team(t: Mapping[str, Any]) -> TeamRules:
    """The ``[team]`` table."""
    return TeamRules(
        size=_int("team", "size", t.get("size", 2), 1, 20),
        legal_exception=_text("team", "legal_exception", t.get("legal_exception", "")),
        max_per_task=_int("team", "max_per_task", t.get("max_per_task", 0), 0, 1_000_000),
        max_per_period=_int("team", "max_per_period", t.get("max_per_period", 0), 0, 10_000_000),
        period_days=_int("team", "period_days", t.get("period_days", 365), 1, 3660),
        max_pair_probability=_ratio(
            "team", "max_pair_probability", t.get("max_pair_probability", 0.0)
        ),
        on_pair_cap=_text("team", "on_pair_cap", t.get("on_pair_cap", "state")),
    )


def _recusal(r: Mapping[str, Any]) -> RecusalRules:
    """The ``[recusal]`` table."""
    return RecusalRules(
        declared_conflicts=_bool(
            "recusal", "declared_conflicts", r.get("declared_conflicts", True)
        ),
        same_home_region_digits=_int(
            "recusal", "same_home_region_digits", r.get("same_home_region_digits", 9), 0, 12
        ),
        rotation_days=_int("recusal", "rotation_days", r.get("rotation_days", 365), 0, 3660),
    )


def _exclusions(e: Mapping[str, Any]) -> ExclusionRules:
    """The ``[exclusions]`` table."""
    statuses = e.get("statuses", ["注销", "吊销", "撤销"])
    if not isinstance(statuses, list) or not all(s in STATUSES for s in statuses):
        raise PolicyError(
            f"[exclusions] statuses must be a list drawn from {list(STATUSES)}, got {statuses!r}"
        )
    return ExclusionRules(
        recently_inspected_days=_int(
            "exclusions", "recently_inspected_days", e.get("recently_inspected_days", 365), 0, 3660
        ),
        statuses=tuple(statuses),
        registered_after_cutoff=_bool(
            "exclusions", "registered_after_cutoff", e.get("registered_after_cutoff", True)
        ),
    )


def _ratios(q: Mapping[str, Any]) -> RatioRules:
    """The ``[ratios]`` table."""
    tiers = q.get("tier", _default_tiers())
    tags = q.get("tags", _default_tags())
    for name, value in (("tier", tiers), ("tags", tags)):
        if not isinstance(value, dict):
            raise PolicyError(f"[ratios] {name} must be an inline table like {{ A = 0.03 }}")
    return RatioRules(
        tier={k: _ratio("ratios", f"tier.{k}", v) for k, v in tiers.items()},
        tags={k: _ratio("ratios", f"tags.{k}", v) for k, v in tags.items()},
        general_item_cap=_ratio("ratios", "general_item_cap", q.get("general_item_cap", 0.1)),
        floor=_ratio("ratios", "floor", q.get("floor", 0.03)),
        floor_region_digits=_int(
            "ratios", "floor_region_digits", q.get("floor_region_digits", 6), 2, 12
        ),
        alternates=_ratio("ratios", "alternates", q.get("alternates", 0.2)),
    )


def _deadline(d: Mapping[str, Any]) -> DeadlineRules:
    """The ``[deadline]`` table."""
    after = _text("deadline", "after", d.get("after", "inspection_end"))
    if after not in AFTER_CHOICES:
        raise PolicyError(f"[deadline] after = {after!r}; choose one of {list(AFTER_CHOICES)}")
    return DeadlineRules(
        working_days=_int("deadline", "working_days", d.get("working_days", 20), 1, 250),
        after=after,
        due_soon_working_days=_int(
            "deadline", "due_soon_working_days", d.get("due_soon_working_days", 5), 0, 250
        ),
    )


def _draw(w: Mapping[str, Any]) -> DrawRules:
    """The ``[draw]`` table."""
    return DrawRules(
        independent_parties=_int(
            "draw", "independent_parties", w.get("independent_parties", 0), 0, 9
        ),
        max_redraws=_int("draw", "max_redraws", w.get("max_redraws", 2), 0, 99),
        cutoff_lead_days=_int("draw", "cutoff_lead_days", w.get("cutoff_lead_days", 31), 0, 366),
        max_reassignments=_int("draw", "max_reassignments", w.get("max_reassignments", 2), 0, 99),
    )


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy TOML file; errors name the file, table and key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {p} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    policy = Policy.from_toml(text, source=str(p))
    _require_ratios(text, str(p))
    return policy


def _require_ratios(text: str, source: str) -> None:
    """A policy file states its tier ratios: no default decides who is inspected.

    >>> _require_ratios("[team]\\nsize = 2\\n", "policy.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.policy.PolicyError: policy.toml: the [ratios] table ... is missing; ...
    """
    ratios = tomllib.loads(text).get("ratios")
    if not isinstance(ratios, dict) or "tier" not in ratios:
        raise PolicyError(
            f"{source}: the [ratios] table with its tier ratios is missing; a policy file states "
            "the sampling ratio of every credit-risk tier, e.g. [ratios] tier = { A = 0.03, "
            "B = 0.05, C = 0.2, D = 0.6 }, because no default may decide who is inspected"
        )
