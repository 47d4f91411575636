"""The team draw: staffing frozen, team-seed ceremony, teams drawn, re-assignments."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy.orm import Session

from shuangsuiji.annex import fresh_salts, seal_staffing
from shuangsuiji.assign import (
    Assignment,
    PastAssignments,
    Recusal,
    Staffing,
    TaskNeeds,
    assign_teams,
    reassign,
)
from shuangsuiji.assign.record import conflict_table, staffing_from_record, staffing_record
from shuangsuiji.assign.rules import team_config
from shuangsuiji.canonical import canonical_text as _json
from shuangsuiji.commitments import (
    ANNOUNCE_SPEC,
    team_key,
)
from shuangsuiji.registry._base import SYSTEM_PARTY, DrawRefused
from shuangsuiji.registry._draws import _Draws, _sealed
from shuangsuiji.seeds import (
    Ceremony,
    party_commitment,
    random_seed,
)
from shuangsuiji.store import draws as draws_sql
from shuangsuiji.store.schema import (
    DrawRow,
)


class _Teams(_Draws):
    """The team draw: staffing frozen, team-seed ceremony, teams drawn, re-assignments."""

    def _staffing(self, s: Session, row: DrawRow, on: date | None) -> Staffing:
        task = self.store.task(row.task, session=s)
        policy = self.store.policy(row.policy_hash, session=s)
        day = on or task.start
        draw, _, _ = self._rebuild(s, row)
        pool = self.store.load_entities(session=s)
        active = [p.id for p in draw.active]
        past = draws_sql.teams_of_other_tasks(s, row.task)
        window = timedelta(days=policy.team.period_days)
        load: dict[str, int] = {}
        for inspector, _, start, _ in past:
            if day - window < start <= day:
                load[inspector] = load.get(inspector, 0) + 1
        return Staffing(
            entities=pool.take(pool.index_of(active)),
            inspectors=self.store.load_inspectors(session=s),
            needs=TaskNeeds.from_task(task, self.store.items(session=s), day),
            config=team_config(policy),
            conflicts=conflict_table(self.store.conflicts(session=s)),
            history=PastAssignments.from_rows([(i, e, end) for i, e, _, end in past]),
            prior_load=load,
        )

    def _save_teams(
        self, s: Session, row: DrawRow, staffing: dict[str, Any], assignment: Assignment
    ) -> dict[str, Any]:
        members = [(t.entity_id, i) for t in assignment.teams for i in t.inspector_ids]
        draws_sql.put_team_members(s, row.id, members)
        row.assignment = _json({"staffing": staffing, "assignment": assignment.to_dict()})
        draw, ids, strata = self._rebuild(s, row)
        return self._bundle(s, row, draw, ids, strata)

    def freeze_staffing(self, task: str, *, actor: str, on: date | None = None) -> str:
        """Freeze what the team draw of ``task`` depends on and open its team-seed ceremony.

        The staffing (officers of the task's departments, conflicts declared so far — also
        those declared after seeing the entity list —, past inspections, loads) and the
        inspection date ``on`` (default: the task's start; within the task's window) are fixed
        and their SSJ-STAFFING-1 digest recorded before any team seed exists. Returns the
        digest, to which every team-seed party commits (:meth:`commit_team_seed`).
        """
        with self.store.transaction() as s:
            return str(self._freeze_staffing(s, task, actor, on)["staffing_digest"])

    def _freeze_staffing(
        self, s: Session, task: str, actor: str, on: date | None
    ) -> dict[str, Any]:
        row = self._current(s, task)
        if row.assignment:
            raise DrawRefused(
                f"task {task}: teams are already drawn; take an inspector off a team with "
                "`shuangsuiji teams reassign` and a reason"
            )
        if row.team_seed:
            raise DrawRefused(f"task {task}: the staffing is already frozen; reveal the team seed")
        the_task = self.store.task(task, session=s)
        day = on or the_task.start
        if not the_task.start <= day <= the_task.end:
            raise DrawRefused(
                f"task {task}: inspection date {day.isoformat()} is outside the task's window "
                f"{the_task.start.isoformat()}..{the_task.end.isoformat()}"
            )
        record = staffing_record(self._staffing(s, row, day))
        sealed = seal_staffing(record, fresh_salts(record))
        digest = sealed.digest
        frozen = {
            "on": day.isoformat(),
            "staffing_digest": digest,
            "staffing": record,
            "salts": [salt.hex() for salt in sealed.salts],
            "frozen_by": actor,
            "ceremony": Ceremony(task, digest, self._now).to_record(),
        }
        row.team_seed = _json(frozen)
        self.store.append_event(
            s,
            actor,
            "teams.freeze",
            {
                "task": task,
                "attempt": row.attempt,
                "on": day.isoformat(),
                "staffing_digest": digest,
                "conflicts": len(record.get("conflicts", [])),
            },
        )
        return frozen

    def _team_ceremony(self, s: Session, task: str) -> tuple[DrawRow, dict[str, Any]]:
        row = self._current(s, task)
        if not row.team_seed or row.assignment:
            raise DrawRefused(
                f"task {task}: no frozen staffing waiting for a team seed; freeze the staffing "
                "first (shuangsuiji teams freeze)"
            )
        return row, json.loads(row.team_seed)

    def commit_team_seed(self, task: str, party: str, commitment: str, *, actor: str) -> None:
        """Record a team-seed party's commitment (SSJ-SEED-1, bound to the staffing digest)."""
        with self.store.transaction() as s:
            row, frozen = self._team_ceremony(s, task)
            self._team_step(s, row, frozen, actor, party=party, commitment=commitment)

    def reveal_team_seed(self, task: str, party: str, contribution: bytes, *, actor: str) -> None:
        """Record a team-seed party's reveal (checked against its commitment); refused before
        the team announcement (:meth:`announce_teams`)."""
        with self.store.transaction() as s:
            row, frozen = self._team_ceremony(s, task)
            self._team_step(s, row, frozen, actor, party=party, contribution=contribution)

    def announce_teams(self, task: str, *, actor: str) -> dict[str, Any]:
        """Issue the team announcement (SSJ-ANNOUNCE-1, stage ``teams``): the staffing digest,
        the inspection date and the team-seed commitments with who entered them, the log head
        and the previous announcement. Publish it before any team-seed reveal. Refused when
        the independent parties fall short of ``[draw] independent_parties``."""
        with self.store.transaction() as s:
            row, frozen = self._team_ceremony(s, task)
            return self._announce_teams(s, row, frozen, actor)

    def _announce_teams(
        self, s: Session, row: DrawRow, frozen: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        if frozen.get("announcement"):
            raise DrawRefused(f"task {row.task}: the team seed is already announced")
        commitments, independent = self._independence(
            s, row, frozen["ceremony"], kind="teams.seed.commit", drawer=frozen["frozen_by"]
        )
        if not commitments:
            raise DrawRefused(
                f"task {row.task}: no team-seed party has committed (shuangsuiji seed commit "
                "--teams)"
            )
        wanted = self.store.policy(row.policy_hash, session=s).draw.independent_parties
        if independent < wanted:
            raise DrawRefused(
                f"task {row.task}: the policy needs {wanted} independent team-seed part(ies) "
                f"([draw] independent_parties), entered by people other than "
                f"{frozen['frozen_by']!r}; found {independent}"
            )
        fields = {
            "spec": ANNOUNCE_SPEC,
            "stage": "teams",
            "task": row.task,
            "attempt": row.attempt,
            "staffing_digest": frozen["staffing_digest"],
            "on": frozen["on"],
            "frozen_by": frozen["frozen_by"],
            "seed": {"kind": "ceremony", "commitments": commitments},
            "independent_parties": independent,
        }
        frozen["announcement"] = self._publish_announcement(s, row, fields, actor)
        row.team_seed = _json(frozen)
        return dict(frozen["announcement"])

    def _team_step(
        self,
        s: Session,
        row: DrawRow,
        frozen: dict[str, Any],
        actor: str,
        *,
        party: str,
        commitment: str | None = None,
        contribution: bytes | None = None,
    ) -> None:
        ceremony = Ceremony.from_record(frozen["ceremony"])
        if (contribution is None) == bool(frozen.get("announcement")):
            raise DrawRefused(
                f"task {row.task}: no team-seed party may commit after the team announcement"
                if contribution is None
                else f"task {row.task}: nothing may be revealed before the team announcement; "
                "announce the team-seed commitments first (shuangsuiji seed announce --teams)"
            )
        if contribution is None:
            ceremony = ceremony.commit(party, str(commitment), self._now)
            kind, detail = "teams.seed.commit", {"commitment": commitment}
        else:
            ceremony = ceremony.reveal(party, contribution, self._now)
            kind, detail = "teams.seed.reveal", {"contribution": contribution.hex()}
        frozen["ceremony"] = ceremony.to_record()
        row.team_seed = _json(frozen)
        payload = {"task": row.task, "attempt": row.attempt, "party": party} | detail
        self.store.append_event(s, actor, kind, payload)

    def draw_teams(self, task: str, *, actor: str) -> Assignment:
        """Draw the teams once every team-seed party revealed (SSJ-TEAM-1 key, SSJ-ASSIGN-1).

        Refused when the team seed's independent parties fall short of the policy's
        ``[draw] independent_parties``. Raises
        :class:`~shuangsuiji.assign.InfeasibleAssignment` naming the entities that cannot be
        staffed and why; nothing is kept then but an error event.
        """
        return self._logged_errors(
            task, "teams.assign", actor, lambda s: self._draw_teams(s, task, actor)
        )

    def _draw_teams(self, s: Session, task: str, actor: str) -> Assignment:
        row, frozen = self._team_ceremony(s, task)
        ceremony = Ceremony.from_record(frozen["ceremony"])
        try:
            seed = ceremony.seed()
        except ValueError as exc:
            raise DrawRefused(f"task {task}: no team seed yet: {exc}") from exc
        key = team_key(task, frozen["staffing_digest"], seed)
        assignment = assign_teams(staffing_from_record(frozen["staffing"]), key)
        bundle = self._save_teams(s, row, frozen["staffing"], assignment)
        self.store.append_event(
            s,
            actor,
            "teams.assign",
            {
                "task": task,
                "attempt": row.attempt,
                "teams": len(assignment.teams),
                "team_size": assignment.team_size,
                "team_seed": seed.hex(),
                "staffing_digest": frozen["staffing_digest"],
                "stream": attrs.asdict(assignment.stream),
                "exclusions": dict(assignment.exclusion_counts),
                "record_digest": bundle["record_digest"],
            },
        )
        return assignment

    def assign_teams(self, task: str, *, actor: str, on: date | None = None) -> Assignment:
        """Freeze the staffing, make a system team seed and draw the teams, in one transaction.

        The team seed then rests on the system alone and the record says so; a policy with
        ``[draw] independent_parties`` above 0 refuses it: run :meth:`freeze_staffing`,
        :meth:`commit_team_seed` and :meth:`reveal_team_seed` for every party, then
        :meth:`draw_teams`.
        """

        def work(s: Session) -> Assignment:
            wanted = self.store.policy(session=s).draw.independent_parties
            if wanted:
                raise DrawRefused(
                    f"task {task}: the policy needs {wanted} independent team-seed part(ies), "
                    "so a team seed made by the system alone is refused; run the team "
                    "ceremony: teams freeze, commit (each party), reveal (each party), draw"
                )
            frozen = self._freeze_staffing(s, task, actor, on)
            row = self._current(s, task)
            value = random_seed()
            commitment = party_commitment(task, frozen["staffing_digest"], SYSTEM_PARTY, value)
            self._team_step(s, row, frozen, actor, party=SYSTEM_PARTY, commitment=commitment)
            self._announce_teams(s, row, frozen, actor)
            self._team_step(s, row, frozen, actor, party=SYSTEM_PARTY, contribution=value)
            return self._draw_teams(s, task, actor)

        return self._logged_errors(task, "teams.assign", actor, work)

    def _team_key(self, s: Session, row: DrawRow) -> bytes:
        """The SSJ-ASSIGN-1 key of the task's teams: from its team seed (SSJ-TEAM-1), or the
        entity draw's key for teams drawn before team seeds existed."""
        if not row.team_seed:
            return self._rebuild(s, row)[0].key
        frozen = json.loads(row.team_seed)
        seed = Ceremony.from_record(frozen["ceremony"]).seed()
        return team_key(row.task, frozen["staffing_digest"], seed)

    def staffing_annex(self, task: str, attempt: int | None = None) -> dict[str, Any]:
        """The sealed staffing annex (SSJ-ANNEX-1) of the task's latest (or a given) draw.

        **For the supervising office only**: it holds the officers' personal data (home
        regions, certificates, qualifications, declared relations) and the secret salts that
        open the public bundle's staffing commitments, so that the teams can be replayed
        (``shuangsuiji verify BUNDLE --annex ANNEX``). Never publish it; hand it out with
        :meth:`export_staffing_annex`, which leaves an ``annex.export`` audit event.
        """
        with self.store.reading() as s:
            row = self._drawn_attempt(s, task, attempt)
            if not row.assignment:
                raise DrawRefused(f"task {task}: no teams drawn yet, so there is no annex")
            frozen = json.loads(row.team_seed) if row.team_seed else None
            return _sealed(frozen).annex(row.task, row.attempt)

    def export_staffing_annex(
        self, task: str, path: str | Path, *, actor: str, recipient: str = ""
    ) -> Path:
        """Write the sealed staffing annex (:meth:`staffing_annex`, supervising office only)
        as UTF-8 JSON and log an ``annex.export`` event naming ``actor`` and ``recipient``."""
        annex = self.staffing_annex(task)
        out = Path(path)
        # The file is written inside the transaction that logs it: a failed write leaves no
        # event, and no annex leaves the store without an ``annex.export`` event.
        with self.store.transaction() as s:
            self.store.append_event(
                s,
                actor,
                "annex.export",
                {
                    "task": task,
                    "attempt": annex["attempt"],
                    "staffing_digest": annex["staffing_digest"],
                    "records": len(annex["records"]),
                    "recipient": recipient,
                    "file": out.name,
                },
            )
            out.write_text(json.dumps(annex, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return out

    def staffing(self, task: str, *, on: date | None = None) -> Staffing:
        """What a team draw of ``task`` would depend on now (for dry runs and analysis)."""
        with self.store.reading() as s:
            return self._staffing(s, self._current(s, task), on)

    def teams(self, task: str) -> dict[str, tuple[str, ...]]:
        """The task's current teams: entity → inspector IDs."""
        with self.store.reading() as s:
            row = self._current(s, task)
            return {t["entity"]: tuple(t["inspectors"]) for t in self._teams_of(s, row)}

    def reassign(
        self, task: str, entity: str, inspector: str, reason: str, *, actor: str, text: str = ""
    ) -> tuple[str, ...]:
        """Take ``inspector`` off ``entity``'s team (recusal after the draw) and draw a
        replacement from the same stream; other teams stay as they are. Returns the new team."""
        with self.store.transaction() as s:
            row = self._current(s, task)
            if not row.assignment:
                raise DrawRefused(f"task {task}: no teams assigned yet")
            saved = json.loads(row.assignment)
            staffing = staffing_from_record(saved["staffing"])
            before = Assignment.from_dict(saved["assignment"])
            done = sum(1 for r in before.reassignments if r.entity_id == entity)
            cap = self.store.policy(row.policy_hash, session=s).draw.max_reassignments
            if done >= cap:
                raise DrawRefused(
                    f"task {task}: the team of {entity} was already re-drawn {done} time(s); the "
                    f"policy allows {cap} ([draw] max_reassignments). Replace the entity or "
                    "re-draw the task with a recorded reason and a second person's approval"
                )
            after = reassign(
                staffing, before, self._team_key(s, row), [Recusal(entity, inspector, reason, text)]
            )
            bundle = self._save_teams(s, row, saved["staffing"], after)
            change = after.reassignments[-1]
            self.store.append_event(
                s,
                actor,
                "teams.reassign",
                change.to_dict()
                | {"task": task, "attempt": row.attempt, "record_digest": bundle["record_digest"]},
            )
            return after.team_of(entity).inspector_ids
