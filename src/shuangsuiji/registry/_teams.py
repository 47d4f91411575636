"""The team draw: staffing frozen, team-seed ceremony, teams drawn, re-assignments."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Sequence
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
    RecusalReason,
    Staffing,
    TaskNeeds,
    assign_teams,
    reassign,
)
from shuangsuiji.assign.pairs import check_pair_cap, team_law
from shuangsuiji.assign.record import (
    conflict_table,
    staffing_from_record,
    staffing_record,
    team_staffing,
)
from shuangsuiji.assign.rules import team_config
from shuangsuiji.canonical import canonical_text as _json
from shuangsuiji.changes import (
    CHANGE_SPEC,
    change_key,
    request_digest,
    system_commitment,
    text_commitment,
)
from shuangsuiji.commitments import (
    ANNOUNCE_SPEC,
    pairs_digest,
    team_key,
)
from shuangsuiji.draw import ReplacementReason, check_label, skip_map
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

_MAX_TEXT = 2000


def check_text(value: str, what: str, *, required: bool = False) -> str:
    """A free text of a change (reason, withdrawal): refused when empty but required, longer
    than 2,000 characters, or holding a control character other than a line break."""
    if required and not value.strip():
        raise DrawRefused(f"{what}: say why (a text is required)")
    if len(value) > _MAX_TEXT:
        raise DrawRefused(f"{what}: {len(value)} characters; keep it under {_MAX_TEXT}")
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\n\r"), None)
    if bad is not None:
        raise DrawRefused(f"{what}: a control character U+{ord(bad):04X}; remove it")
    return value


class _Teams(_Draws):
    """The team draw: staffing frozen, team-seed ceremony, teams drawn, re-assignments."""

    def _staffing(
        self, s: Session, row: DrawRow, on: date | None, alternates: Sequence[str] = ()
    ) -> Staffing:
        task = self.store.task(row.task, session=s)
        policy = self.store.policy(row.policy_hash, session=s)
        day = on or task.start
        draw, _, _ = self._rebuild(s, row)
        pool = self.store.load_entities(session=s)
        active = [p.id for p in draw.active] + list(alternates)
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
        draw, _, _ = self._rebuild(s, row)
        used = {r.by for r in draw.replacements}
        alternates = [p.id for p in draw.alternates if p.id not in used]
        record = staffing_record(self._staffing(s, row, day, alternates), alternates)
        sealed = seal_staffing(record, fresh_salts(record))
        digest = sealed.digest
        rules = self.store.policy(row.policy_hash, session=s).team  # pairs: before any seed
        pairs = check_pair_cap(
            team_staffing(record, staffing_from_record(record)),
            digest,
            rules.max_pair_probability,
            rules.on_pair_cap,
        )
        frozen = {
            "on": day.isoformat(),
            "staffing_digest": digest,
            "staffing": record,
            **({"pairs": pairs} if pairs else {}),
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

    def pair_statement(self, task: str) -> dict[str, Any] | None:
        """The pair statement (SSJ-PAIRS-1) frozen with the task's staffing, or None (no cap in
        the policy, or no staffing frozen yet)."""
        with self.store.reading() as s:
            row = self._current(s, task)
            frozen = json.loads(row.team_seed) if row.team_seed else {}
        statement = frozen.get("pairs")
        return dict(statement) if isinstance(statement, dict) else None

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
            **({"pairs_digest": pairs_digest(frozen["pairs"])} if frozen.get("pairs") else {}),
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
        record = frozen["staffing"]
        spec, cap = team_law(frozen.get("pairs"))  # the law promised before the seed existed
        assignment = assign_teams(
            team_staffing(record, staffing_from_record(record)), key, spec=spec, pair_cap=cap
        )
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
                "stream": assignment.stream.to_dict(),
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
            annex = _sealed(frozen).annex(row.task, row.attempt)
            texts = (frozen or {}).get("change_texts")
            return annex | {"change_texts": texts} if texts else annex

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
        replacement from fresh randomness (SSJ-CHANGE-1): a system value that did not exist when
        the change was asked for. Other teams stay as they are. Returns the new team.

        Refused when the policy wants witnesses (``[draw] independent_parties`` above 0): then
        :meth:`request_reassignment` records the request and each witness adds a value with
        :meth:`witness_change`; the last one draws the change.
        """
        with self.store.transaction() as s:
            row, frozen, saved = self._teams_drawn(s, task)
            if self._witnesses_needed(s, row):
                raise DrawRefused(
                    f"task {task}: the policy wants {self._witnesses_needed(s, row)} witness(es) "
                    "for every change of a team ([draw] independent_parties); record the request "
                    "(shuangsuiji teams reassign) and let each witness add a value "
                    "(shuangsuiji teams witness)"
                )
            recusal = Recusal(entity, inspector, reason, text)
            pending = self._request_change(s, row, frozen, saved, recusal, actor)
            return self._apply_change(s, row, frozen, saved, pending, actor)

    def request_reassignment(
        self, task: str, entity: str, inspector: str, reason: str, *, actor: str, text: str = ""
    ) -> dict[str, Any]:
        """Record a request to take ``inspector`` off ``entity``'s team (SSJ-CHANGE-1).

        The system commits to a fresh value now. Without witnesses in the policy the change is
        drawn at once; otherwise the request is published as an announcement (stage
        ``change``) and waits for the witnesses (:meth:`witness_change`). Returns ``{"request",
        "digest", "announcement", "team"}``; ``team`` is the new team once drawn, else None.
        """
        with self.store.transaction() as s:
            row, frozen, saved = self._teams_drawn(s, task)
            recusal = Recusal(entity, inspector, reason, text)
            pending = self._request_change(s, row, frozen, saved, recusal, actor)
            team = None
            if not pending["request"]["witnesses_needed"]:
                team = list(self._apply_change(s, row, frozen, saved, pending, actor))
            out = {k: pending.get(k) for k in ("request", "digest", "announcement")}
            return out | {"team": team}

    def witness_change(
        self, task: str, party: str, value: bytes, *, actor: str
    ) -> tuple[str, ...] | None:
        """Add a witness's value to the task's pending change (entered by ``actor``, a person
        other than the requester). The last witness the request needs draws the change: returns
        the new team then, else None."""
        with self.store.transaction() as s:
            row, frozen, saved = self._teams_drawn(s, task)
            pending = frozen.get("pending_change")
            if not pending:
                raise DrawRefused(
                    f"task {task}: no change of a team is waiting for witnesses "
                    "(shuangsuiji teams reassign records one)"
                )
            request = pending["request"]
            check_label(party, "witness party")
            if actor == request["requested_by"]:
                raise DrawRefused(
                    f"task {task}: {actor!r} asked for this change, so cannot witness it; a "
                    "witness is another person"
                )
            if any(w["party"] == party or w["entered_by"] == actor for w in pending["witnesses"]):
                raise DrawRefused(
                    f"task {task}: witness {party!r} (or a value entered by {actor!r}) is already "
                    "recorded for this change; each witness is another person"
                )
            pending["witnesses"].append({"party": party, "value": value.hex(), "entered_by": actor})
            row.team_seed = _json(frozen)
            self.store.append_event(
                s,
                actor,
                "teams.change.witness",
                {
                    "task": task,
                    "attempt": row.attempt,
                    "digest": pending["digest"],
                    "party": party,
                    "value": value.hex(),
                },
            )
            if len(pending["witnesses"]) < request["witnesses_needed"]:
                return None
            return self._apply_change(s, row, frozen, saved, pending, actor)

    def cancel_change(self, task: str, text: str, *, actor: str) -> None:
        """Withdraw the task's pending change (a recorded, visible act). It still counts against
        ``[draw] max_reassignments`` for its entity, so withdrawing and asking again is no way
        to try for another outcome."""
        with self.store.transaction() as s:
            row, frozen, _ = self._teams_drawn(s, task)
            pending = frozen.pop("pending_change", None)
            if not pending:
                raise DrawRefused(f"task {task}: no change of a team is pending")
            check_text(text, "reason text of the withdrawal", required=True)
            withdrawn = {
                "digest": pending["digest"],
                "request": pending["request"],
                "text": text,
                "by": actor,
                "witnesses": [w["party"] for w in pending["witnesses"]],
            }
            frozen.setdefault("withdrawn_changes", []).append(withdrawn)
            row.team_seed = _json(frozen)
            draw, ids, strata = self._rebuild(s, row)
            bundle = self._bundle(s, row, draw, ids, strata)
            payload = {"task": task, "attempt": row.attempt} | withdrawn
            payload["record_digest"] = bundle["record_digest"]
            self.store.append_event(s, actor, "teams.change.withdraw", payload)

    def pending_change(self, task: str) -> dict[str, Any] | None:
        """The task's change waiting for witnesses (its request, digest and the witnesses so
        far, without the system value), or None."""
        with self.store.reading() as s:
            row = self._current(s, task)
            pending = json.loads(row.team_seed or "{}").get("pending_change")
            if not pending:
                return None
            secret = ("system_value", "text_salt")
            return {k: v for k, v in pending.items() if k not in secret}

    def _replace_after_teams(
        self, s: Session, row: DrawRow, entity_id: str, reason: str, note: str, actor: str
    ) -> str:
        """:meth:`replace` once teams exist: the alternate's team is a change of the teams."""
        row, frozen, saved = self._teams_drawn(s, row.task)
        draw, _, _ = self._rebuild(s, row)
        why = ReplacementReason(reason)
        skip = self._taken_alternates(s, row, draw, entity_id)
        rep = draw.replace(entity_id, why, note, skip=skip).replacements[-1]
        if rep.by not in (frozen["staffing"].get("alternates") or ()):
            raise DrawRefused(
                f"task {row.task}: the alternate {rep.by} was not in the staffing frozen for the "
                "team draw (teams frozen before alternates were), so it cannot get a team from "
                "frozen inputs; re-draw the task with a recorded reason"
            )
        recusal = Recusal(rep.by, "", RecusalReason.REPLACEMENT, note, replaces=entity_id)
        extra: dict[str, Any] = {"replacement_reason": why.value}
        extra |= {"skipped": [dict(x) for x in rep.skipped]} if rep.skipped else {}
        pending = self._request_change(s, row, frozen, saved, recusal, actor, extra)
        if not pending["request"]["witnesses_needed"]:
            self._apply_change(s, row, frozen, saved, pending, actor)
        return rep.by

    def _teams_drawn(self, s: Session, task: str) -> tuple[DrawRow, dict[str, Any], dict[str, Any]]:
        row = self._current(s, task)
        if not row.assignment:
            raise DrawRefused(f"task {task}: no teams assigned yet")
        if not row.team_seed:
            raise DrawRefused(
                f"task {task}: its teams were drawn before team seeds existed, so no change can "
                "be drawn with fresh randomness; re-draw the task with a recorded reason"
            )
        return row, json.loads(row.team_seed), json.loads(row.assignment)

    def _witnesses_needed(self, s: Session, row: DrawRow) -> int:
        return self.store.policy(row.policy_hash, session=s).draw.independent_parties

    def _check_change_cap(
        self, s: Session, row: DrawRow, frozen: dict[str, Any], before: Assignment, entity: str
    ) -> None:
        """Refuse a change of ``entity``'s team beyond ``[draw] max_reassignments`` (withdrawn
        requests count: withdrawing and asking again is no way to try for another outcome)."""
        withdrawn = sum(
            1 for w in frozen.get("withdrawn_changes", []) if w["request"]["entity"] == entity
        )
        done = sum(1 for r in before.reassignments if r.entity_id == entity) + withdrawn
        cap = self.store.policy(row.policy_hash, session=s).draw.max_reassignments
        if done >= cap:
            raise DrawRefused(
                f"task {row.task}: the team of {entity} was already changed (or a change "
                f"withdrawn) {done} time(s); the policy allows {cap} ([draw] max_reassignments). "
                "Replace the entity or re-draw the task with a recorded reason and a second "
                "person's approval"
            )

    def _request_change(
        self,
        s: Session,
        row: DrawRow,
        frozen: dict[str, Any],
        saved: dict[str, Any],
        recusal: Recusal,
        actor: str,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        task, entity, text = row.task, recusal.entity_id, recusal.text
        if frozen.get("pending_change"):
            raise DrawRefused(
                f"task {task}: a change of a team is already waiting for witnesses "
                f"({frozen['pending_change']['digest'][:16]}…); finish it (shuangsuiji teams "
                "witness) or withdraw it with a reason (shuangsuiji teams withdraw)"
            )
        check_text(text, "reason text")
        staffing = staffing_from_record(saved["staffing"])
        before = Assignment.from_dict(saved["assignment"])
        if not recusal.replaces:
            self._check_change_cap(s, row, frozen, before, entity)
        team_key = self._team_key(s, row)
        # Whether a replacement exists does not depend on the key: a dry run refuses an
        # impossible change before anything is recorded.
        reassign(staffing, before, team_key, [attrs.evolve(recusal, change_key=bytes(32))])
        value = random_seed()
        request = {
            "spec": CHANGE_SPEC,
            "task": task,
            "attempt": row.attempt,
            "index": len(before.reassignments),
            "kind": "replacement" if recusal.replaces else "recusal",
            "entity": entity,
            "inspector": recusal.inspector_id,
            "reason": str(recusal.reason),
            "team_key_sha256": hashlib.sha256(team_key).hexdigest(),
            "witnesses_needed": self._witnesses_needed(s, row),
            "requested_by": actor,
            "system_commitment": system_commitment(value),
        }
        request |= {"replaces": recusal.replaces} if recusal.replaces else {}
        request |= extra or {}
        # A recusal's text is about an officer (illness, a relation): only its salted
        # commitment is in the request; the text and salt go to the sealed annex.
        salt = random_seed()
        if recusal.replaces:
            request["text"] = text
        else:
            request["text_commitment"] = text_commitment(salt, text)
        digest = request_digest(request)
        pending: dict[str, Any] = {
            "request": request,
            "digest": digest,
            "system_value": value.hex(),
            "witnesses": [],
            "announcement": None,
            "text": text,
            "text_salt": salt.hex(),
        }
        self.store.append_event(
            s, actor, "teams.change.request", {"request": request, "digest": digest}
        )
        if request["witnesses_needed"]:
            fields = {
                "spec": ANNOUNCE_SPEC,
                "stage": "change",
                "task": task,
                "attempt": row.attempt,
                "change_digest": digest,
                "change": request,
            }
            pending["announcement"] = self._publish_announcement(s, row, fields, actor)
        frozen["pending_change"] = pending
        row.team_seed = _json(frozen)
        return pending

    def _apply_change(
        self,
        s: Session,
        row: DrawRow,
        frozen: dict[str, Any],
        saved: dict[str, Any],
        pending: dict[str, Any],
        actor: str,
    ) -> tuple[str, ...]:
        request = pending["request"]
        value = bytes.fromhex(pending["system_value"])
        team_key = self._team_key(s, row)
        key = change_key(team_key, pending["digest"], value, pending["witnesses"])
        recusal = Recusal(
            request["entity"],
            request["inspector"],
            request["reason"],
            pending.get("text", request.get("text", "")),
            key,
            request.get("replaces", ""),
        )
        staffing = staffing_from_record(saved["staffing"])
        after = reassign(staffing, Assignment.from_dict(saved["assignment"]), team_key, [recusal])
        record = {k: pending[k] for k in ("request", "digest", "system_value", "witnesses")}
        record["announcement"] = pending["announcement"]
        change = attrs.evolve(after.reassignments[-1], change=record)
        after = attrs.evolve(after, reassignments=(*after.reassignments[:-1], change))
        frozen.pop("pending_change", None)
        if "text_commitment" in request:
            sealed = {"index": request["index"], "text": recusal.text, "salt": pending["text_salt"]}
            frozen.setdefault("change_texts", []).append(sealed)
        row.team_seed = _json(frozen)
        rep = None
        if recusal.replaces:
            draw, _, _ = self._rebuild(s, row)
            why = ReplacementReason(request["replacement_reason"])
            skip = skip_map(request.get("skipped", []))
            rep = draw.replace(recusal.replaces, why, recusal.text, skip=skip).replacements[-1]
            if rep.by != recusal.entity_id:
                raise DrawRefused(
                    f"task {row.task}: the next alternate is now {rep.by}, not "
                    f"{recusal.entity_id}; withdraw this change (shuangsuiji teams withdraw)"
                )
            self._add_replacement(s, row, rep, recusal.text, request["requested_by"])
        bundle = self._save_teams(s, row, saved["staffing"], after)
        if rep is not None:
            note = recusal.text
            self._log_replacement(
                s, row, rep, note, request["requested_by"], bundle["record_digest"]
            )
        self.store.append_event(
            s,
            actor,
            "teams.reassign",
            change.to_dict()
            | {"task": row.task, "attempt": row.attempt, "record_digest": bundle["record_digest"]},
        )
        return after.team_of(request["entity"]).inspector_ids
