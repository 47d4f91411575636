"""Approvals: a second person's consent as a recorded act of that person.

A re-draw, an abandoned seed ceremony and a back-dated publication need a second person.
A typed name (``approved_by``) proves only that the person exists; an approval proves that
they agreed, because it is three separate, logged acts:

1. the official who wants the action asks (:meth:`request_approval`, event
   ``approval.request``): the task, the kind, the reason code and the text;
2. someone else grants it (:meth:`approve`, event ``approval.grant``): never the requester;
3. the action names the request (``approval=<id>``); it must be granted, of the same kind and
   task, with the same reason, granted by someone other than the actor, and never used before.
   The action marks it used in its own transaction, so a refused action leaves it granted and
   leaves nothing else behind.

A request not yet used may be withdrawn (:meth:`withdraw`, event ``approval.withdraw``).
"""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from shuangsuiji.registry._base import DrawRefused, _RegistryBase
from shuangsuiji.store import approvals as approvals_sql
from shuangsuiji.store.schema import ApprovalRow

__all__ = ["APPROVAL_KINDS"]

APPROVAL_KINDS = {
    "redraw": "重新抽取",
    "abandon": "放弃未完成的抽取",
    "backdate": "补记过去日期的公示",
}


class _Approvals(_RegistryBase):
    """Requests for a second person's consent, their grants, withdrawals and use."""

    def request_approval(self, task: str, kind: str, *, reason: str, text: str, actor: str) -> str:
        """Ask for a second person's approval of a ``kind`` action on ``task``; its ID."""
        if kind not in APPROVAL_KINDS:
            listed = ", ".join(f"{k} ({v})" for k, v in APPROVAL_KINDS.items())
            raise DrawRefused(f"approval kind {kind!r} is not one of: {listed}")
        if len(text.strip()) < 4:
            raise DrawRefused(
                f"task {task}: an approval request needs a text of what happened and why "
                "(at least 4 characters), so the approver knows what they agree to"
            )
        with self.store.transaction() as s:
            self.store.task(task, session=s)  # refuses an unknown task
            request_id = f"AP-{secrets.token_hex(6)}"
            approvals_sql.add_request(
                s,
                request_id=request_id,
                task=task,
                kind=kind,
                reason=reason,
                text=text.strip(),
                actor=actor.strip(),
                time=self._now.isoformat(),
            )
            payload = {"id": request_id, "task": task, "kind": kind, "reason": reason}
            self.store.append_event(s, actor, "approval.request", payload | {"text": text.strip()})
        return request_id

    def approve(self, request_id: str, *, actor: str) -> None:
        """Grant request ``request_id`` as ``actor``, who must not be its requester."""
        with self.store.transaction() as s:
            row = self._request(s, request_id)
            if row.requested_by == actor.strip():
                raise DrawRefused(
                    f"approval {request_id}: {actor!r} asked for it and may not grant it; "
                    "a second person must grant it with their own identity"
                )
            self._expect(row, "requested", "grant")
            approvals_sql.set_state(
                s,
                request_id,
                from_state="requested",
                to_state="granted",
                time=self._now.isoformat(),
                granted_by=actor.strip(),
            )
            self.store.append_event(
                s, actor, "approval.grant", {"id": request_id, "task": row.task, "kind": row.kind}
            )

    def withdraw(self, request_id: str, *, actor: str) -> None:
        """Withdraw a request that was not used (asked or granted): it can never be used."""
        with self.store.transaction() as s:
            row = self._request(s, request_id)
            state = row.state
            if state not in ("requested", "granted"):
                self._expect(row, "requested", "withdraw")
            approvals_sql.set_state(
                s, request_id, from_state=state, to_state="withdrawn", time=self._now.isoformat()
            )
            self.store.append_event(
                s, actor, "approval.withdraw", {"id": request_id, "task": row.task}
            )

    def approvals(self, task: str | None = None) -> list[ApprovalRow]:
        """Every approval request (of ``task``), oldest first."""
        with self.store.reading() as s:
            return approvals_sql.approval_rows(s, task)

    def _request(self, s: Session, request_id: str) -> ApprovalRow:
        row = approvals_sql.get_request(s, request_id)
        if row is None:
            raise DrawRefused(
                f"there is no approval request {request_id!r}; list them with "
                "Registry.approvals(task)"
            )
        return row

    def _expect(self, row: ApprovalRow, state: str, act: str) -> None:
        if row.state != state:
            raise DrawRefused(
                f"approval {row.id} is {row.state}, so it cannot be used to {act}; "
                "ask for a new approval (Registry.request_approval)"
            )

    def _use_approval(
        self, s: Session, request_id: str, *, kind: str, task: str, reason: str, actor: str
    ) -> str:
        """Check that ``request_id`` may back this action and mark it used (in the caller's
        transaction); returns the person who granted it."""
        row = self._request(s, request_id)
        if (row.kind, row.task) != (kind, task):
            raise DrawRefused(
                f"approval {request_id} was granted for {row.kind} of task {row.task}, not for "
                f"{kind} of task {task}; ask for an approval of this action"
            )
        if row.reason != reason:
            raise DrawRefused(
                f"approval {request_id} approves reason {row.reason!r}, not {reason!r}: use "
                "the approved reason, or ask for an approval of this one"
            )
        if row.state != "granted":
            raise DrawRefused(
                f"approval {request_id} is {row.state}, not granted"
                + (
                    ": ask the approver to grant it"
                    if row.state == "requested"
                    else "; ask for a new approval (Registry.request_approval)"
                )
            )
        granted_by = row.granted_by or ""
        if granted_by == actor.strip():
            raise DrawRefused(
                f"approval {request_id} was granted by {granted_by!r}, who is the one acting "
                "now; the action must be taken by someone other than the approver"
            )
        approvals_sql.set_state(
            s, request_id, from_state="granted", to_state="used", time=self._now.isoformat()
        )
        return granted_by
