"""The SQL of approvals: one row per request for a second person's consent.

The registry decides who may grant, what a request must match and when it is used; these
functions only read and write rows, inside the session (one transaction) the caller holds.
A row's ``state`` moves only forward (``requested`` → ``granted`` → ``used``, or to
``withdrawn``): :func:`set_state` updates a row only from the state the caller checked, so
two writers can never both use one grant.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shuangsuiji.store.schema import ApprovalRow

__all__ = ["STATES", "add_request", "approval_rows", "get_request", "set_state"]

STATES = ("requested", "granted", "used", "withdrawn")


def add_request(
    s: Session,
    *,
    request_id: str,
    task: str,
    kind: str,
    reason: str,
    text: str,
    actor: str,
    time: str,
) -> None:
    """Store a new request in state ``requested``."""
    s.add(
        ApprovalRow(
            id=request_id,
            task=task,
            kind=kind,
            reason=reason,
            text=text,
            state="requested",
            requested_by=actor,
            requested_at=time,
        )
    )
    s.flush()


def get_request(s: Session, request_id: str) -> ApprovalRow | None:
    """The request ``request_id``, or ``None`` if there is none."""
    return s.get(ApprovalRow, request_id)


def approval_rows(s: Session, task: str | None = None) -> list[ApprovalRow]:
    """Every request (of ``task``, or of all tasks), oldest first."""
    query = select(ApprovalRow).order_by(ApprovalRow.requested_at, ApprovalRow.id)
    if task is not None:
        query = query.where(ApprovalRow.task == task)
    return list(s.execute(query).scalars())


def set_state(
    s: Session,
    request_id: str,
    *,
    from_state: str,
    to_state: str,
    time: str,
    granted_by: str | None = None,
) -> bool:
    """Move a request from ``from_state`` to ``to_state``; ``False`` if it was not in
    ``from_state`` (then nothing changed). A grant records who granted it and when; a use or a
    withdrawal records when it was closed."""
    values: dict[str, str] = {"state": to_state}
    if to_state == "granted":
        if granted_by is None:
            raise ValueError("a grant needs the granting person")
        values |= {"granted_by": granted_by, "granted_at": time}
    else:
        values["closed_at"] = time
    result = s.execute(
        update(ApprovalRow)
        .where(ApprovalRow.id == request_id, ApprovalRow.state == from_state)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0) == 1)
