"""The library's errors: one base class and four families a host system can map.

Every error shuangsuiji raises on purpose derives from :class:`ShuangsuijiError`, and through
one of its families says what kind of "no" it is, so that a web back end can answer 400, 404,
409 or 500 without parsing messages, and the CLI can exit with a distinct status:

- :class:`InvalidInputError` (CLI status 2): the input is malformed or breaks a rule;
- :class:`NotFoundError` (3): a task, plan, stored policy or entity the request names is not there;
- :class:`RefusedError` (4): the input is fine, but the rules or the current state refuse the
  step (a second draw without a reason, a duplicate, no feasible team);
- :class:`IntegrityFailure` (5): records that must agree do not (a reveal that does not match its
  commitment, a pool that changed under a draw, two histories for one result).

The families that existing errors belonged to before keep ``ValueError`` as a base, so
``except ValueError`` in older host code still catches them; :class:`NotFoundError` is a
``LookupError``, and each concrete not-found error adds the base it had before.

>>> from shuangsuiji.errors import InvalidInputError, ShuangsuijiError
>>> from shuangsuiji.policy import PolicyError
>>> issubclass(PolicyError, InvalidInputError), issubclass(PolicyError, ValueError)
(True, True)
>>> issubclass(KeyError, ShuangsuijiError)  # a programming error is not a refusal
False

Anything else that escapes the library (``KeyError``, ``TypeError``…) is a bug, and the CLI
shows its traceback instead of a one-line message.
"""

from __future__ import annotations

__all__ = [
    "IntegrityFailure",
    "InvalidInputError",
    "NotFoundError",
    "RefusedError",
    "ShuangsuijiError",
]


class ShuangsuijiError(Exception):
    """The base of every error the library raises on purpose; the message says how to fix it."""


class InvalidInputError(ShuangsuijiError, ValueError):
    """The input is malformed or breaks a rule (a bad file, ID, policy, size rule…)."""


class NotFoundError(ShuangsuijiError, LookupError):
    """Something the request names (a task, a plan, a stored policy, an entity) is not there."""

    def __str__(self) -> str:
        # A KeyError subclass would otherwise print its message in quotes.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class RefusedError(ShuangsuijiError, ValueError):
    """The input is well formed, but the rules or the current state refuse the step."""


class IntegrityFailure(ShuangsuijiError, ValueError):
    """Records that must agree do not (a commitment, a digest, a history, the audit chain)."""


class UnknownKeyError(NotFoundError, KeyError):
    """A lookup by key (a result category, a stratum, a team) found nothing.

    It is a ``KeyError`` as these lookups always were, and prints its message without quotes.

    >>> str(UnknownKeyError("no team for entity 'E1'"))
    "no team for entity 'E1'"
    """
