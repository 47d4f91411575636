"""What a team draw produces: teams, recusals, re-assignments and the record of the stream.

:class:`Assignment` is the replayable result of :func:`shuangsuiji.assign.assign_teams`;
:class:`InfeasibleAssignment` is the refusal when no assignment satisfies every rule.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from shuangsuiji.assign.eligibility import str_tuple
from shuangsuiji.errors import InvalidInputError, RefusedError, UnknownKeyError

ALGORITHM = "SSJ-ASSIGN-2"
"""Name of the team-assignment algorithm (recorded in every result as ``stream.spec``).

SSJ-ASSIGN-2 is SSJ-ASSIGN-1 with the flow phase specified to the bit (its own Dinic rule, no
SciPy); the random stream keeps its SSJ-ASSIGN-1 domain separator, so a draw that never reached
the flow phase is the same under both. See ``docs/teams.md``.
"""
LEGACY_ALGORITHM = "SSJ-ASSIGN-1"
"""The earlier algorithm, whose flow phase was SciPy's Dinic (``stream.scipy_version``)."""
CAP_ALGORITHM = "SSJ-ASSIGN-CAP-1"
"""The capped law (:mod:`shuangsuiji.assign.capped`): no pair above the policy's cap."""
SPECS = (ALGORITHM, LEGACY_ALGORITHM, CAP_ALGORITHM)


@attrs.frozen
class Team:
    """One inspected entity and the inspectors drawn for it (IDs in sorted order)."""

    entity_id: str
    inspector_ids: tuple[str, ...] = attrs.field(converter=str_tuple)

    def to_dict(self) -> dict[str, Any]:
        """``{"entity": id, "inspectors": [ids]}`` (the draw bundle's ``teams`` entries)."""
        return {"entity": self.entity_id, "inspectors": list(self.inspector_ids)}


@attrs.frozen
class StreamInfo:
    """How the stream was used: enough to replay the draw and to continue it.

    ``key_sha256`` identifies the key without revealing more than the published seed does;
    ``next_block`` is where a later :func:`reassign` continues; ``accepted_round`` is the
    proposal round accepted as is (an exactly uniform draw), or None when the proposal was
    repaired (``repaired_slots`` slots, ``flow`` when the max flow was needed) and smoothed by
    ``smoothing_steps`` Metropolis steps. ``spec`` names the algorithm that drew it;
    ``scipy_version`` is set only by SSJ-ASSIGN-1 draws whose flow phase ran SciPy.
    """

    key_sha256: str
    next_block: int
    rounds: int
    accepted_round: int | None
    repaired_slots: int = 0
    flow: bool = False
    smoothing_steps: int = 0
    scipy_version: str = ""
    spec: str = ALGORITHM
    pair_cap: int = 0
    """For :data:`CAP_ALGORITHM` draws: the cap in units of 1/10,000 (0 otherwise; left out
    of the record then)."""

    def to_dict(self) -> dict[str, Any]:
        """The record's ``stream`` (``pair_cap`` only when set, so older records keep their
        shape)."""
        return attrs.asdict(self, filter=lambda a, v: a.name != "pair_cap" or bool(v))


class RecusalReason(enum.StrEnum):
    """Why an inspector leaves a team after the draw (a fixed list; explain in ``text``)."""

    CONFLICT_DECLARED = "conflict_declared"
    """新申报利害关系: a conflict of interest declared after the draw."""
    ILLNESS = "illness"
    """因病: illness."""
    LEAVE = "leave"
    """休假或公出: leave or official travel."""
    CERTIFICATE = "certificate"
    """执法证失效: the law-enforcement certificate is no longer valid."""
    REASSIGNED = "reassigned"
    """岗位调整: moved to another post."""
    OTHER = "other"
    """其他: another reason, stated in ``text``."""
    REPLACEMENT = "replacement"
    """替补企业: the entity is an alternate that took a replaced entity's place and needs a team."""


@attrs.frozen
class Recusal:
    """A request to take ``inspector_id`` off ``entity_id``'s team, with its reason."""

    entity_id: str
    inspector_id: str
    reason: RecusalReason = attrs.field(converter=RecusalReason)
    text: str = ""
    change_key: bytes | None = attrs.field(default=None, repr=False)
    """The change's own key (SSJ-CHANGE-1, :mod:`shuangsuiji.changes`); ``None`` only to
    replay re-assignments recorded before change keys, which continued the team stream."""
    replaces: str = ""
    """For reason ``replacement``: the entity whose place ``entity_id`` (an alternate) takes;
    ``inspector_id`` is then empty and the alternate gets a whole new team."""

    def __attrs_post_init__(self) -> None:
        if self.reason is RecusalReason.OTHER and not self.text.strip():
            raise InvalidInputError("recusal reason 'other' needs an explanation in text")
        if (self.reason is RecusalReason.REPLACEMENT) != bool(self.replaces):
            raise InvalidInputError(
                "a team for an alternate (reason 'replacement') names the entity it replaces, "
                "and only such a change does"
            )


@attrs.frozen
class Reassignment:
    """A recorded change of one team after the draw: who left, who came, why, which blocks.

    ``inspector_id`` is the inspector who recused; ``removed`` everyone who left the team
    (just that inspector, unless the whole team had to be redrawn) and ``added`` who came.
    The replacement used stream blocks ``first_block .. next_block - 1`` of the change's own
    key (``key_sha256``; :mod:`shuangsuiji.changes`), or of the team stream when
    ``key_sha256`` is empty (re-assignments recorded before change keys). ``change`` is the
    published change record the key is derived from.
    """

    entity_id: str
    inspector_id: str
    removed: tuple[str, ...] = attrs.field(converter=str_tuple)
    added: tuple[str, ...] = attrs.field(converter=str_tuple)
    reason: RecusalReason = attrs.field(converter=RecusalReason)
    text: str
    first_block: int
    next_block: int
    key_sha256: str = ""
    change: Mapping[str, Any] | None = None
    replaces: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the newer fields only when set, so older records keep their
        bytes)."""
        fresh = {"key_sha256": self.key_sha256, "change": self.change} if self.key_sha256 else {}
        fresh |= {"replaces": self.replaces} if self.replaces else {}
        return fresh | {
            "entity": self.entity_id,
            "inspector": self.inspector_id,
            "removed": list(self.removed),
            "added": list(self.added),
            "reason": str(self.reason),
            "text": self.text,
            "first_block": self.first_block,
            "next_block": self.next_block,
        }


def _teams(values: Iterable[Team]) -> tuple[Team, ...]:
    return tuple(values)


def _reassignments(values: Iterable[Reassignment]) -> tuple[Reassignment, ...]:
    return tuple(values)


@attrs.frozen
class Assignment:
    """The teams of a task with the stream record and the eligibility figures.

    ``teams`` follow the order of the entity pool given; ``eligible_counts`` is the number of
    eligible inspectors per entity; ``exclusion_counts`` the (entity, inspector) pairs each rule
    removed (each pair under its first rule); ``reassignments`` the changes made afterwards.
    """

    task_label: str
    team_size: int
    teams: tuple[Team, ...] = attrs.field(converter=_teams)
    stream: StreamInfo
    eligible_counts: Mapping[str, int]
    exclusion_counts: Mapping[str, int]
    reassignments: tuple[Reassignment, ...] = attrs.field(default=(), converter=_reassignments)

    def team_of(self, entity_id: str) -> Team:
        """The team of one entity (``KeyError`` if it has none)."""
        for team in self.teams:
            if team.entity_id == entity_id:
                return team
        raise UnknownKeyError(f"no team for entity {entity_id!r}")

    def load(self) -> dict[str, int]:
        """Teams per inspector in this task."""
        out: dict[str, int] = {}
        for team in self.teams:
            for i in team.inspector_ids:
                out[i] = out.get(i, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``teams`` has the draw bundle's ``{entity, inspectors}`` form."""
        return {
            "spec": self.stream.spec,
            "task_label": self.task_label,
            "team_size": self.team_size,
            "teams": [t.to_dict() for t in self.teams],
            "stream": self.stream.to_dict(),
            "eligible_counts": dict(self.eligible_counts),
            "exclusion_counts": dict(self.exclusion_counts),
            "reassignments": [r.to_dict() for r in self.reassignments],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assignment:
        """Inverse of :meth:`to_dict` (e.g. from a draw bundle)."""
        if data.get("spec", ALGORITHM) not in SPECS:
            raise InvalidInputError(
                f"not an {' or '.join(SPECS)} assignment: spec {data.get('spec')!r}"
            )
        return cls(
            task_label=str(data["task_label"]),
            team_size=int(data["team_size"]),
            teams=[Team(t["entity"], t["inspectors"]) for t in data["teams"]],
            stream=StreamInfo(**data["stream"]),
            eligible_counts=dict(data.get("eligible_counts", {})),
            exclusion_counts=dict(data.get("exclusion_counts", {})),
            reassignments=[
                Reassignment(
                    r["entity"],
                    r["inspector"],
                    r["removed"],
                    r["added"],
                    r["reason"],
                    r["text"],
                    r["first_block"],
                    r["next_block"],
                    r.get("key_sha256", ""),
                    r.get("change"),
                    r.get("replaces", ""),
                )
                for r in data.get("reassignments", [])
            ],
        )


class InfeasibleAssignment(RefusedError):
    """No assignment satisfies every rule.

    ``entity_ids`` is the smallest set of entities that cannot all be staffed (a Hall violator:
    even with no other entity in the task they cannot be); ``details`` says per entity which
    rules removed which inspectors. The message is written for the officer who must fix it.
    """

    def __init__(self, message: str, entity_ids: Sequence[str], details: Mapping[str, str]):
        super().__init__(message)
        self.entity_ids = tuple(entity_ids)
        self.details = dict(details)
