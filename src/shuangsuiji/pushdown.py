"""The draw inside PostgreSQL, at its documented old address: it lives in
:mod:`shuangsuiji.store.pushdown` (with the rest of the SQL); this name stays for host code
that imports ``shuangsuiji.pushdown``, and hands on exactly the public names of its home."""

from shuangsuiji.store import pushdown as _home
from shuangsuiji.store.pushdown import *  # noqa: F403

__all__ = _home.__all__
