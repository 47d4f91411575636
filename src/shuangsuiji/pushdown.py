"""The draw inside PostgreSQL, at its documented old address: it lives in
:mod:`shuangsuiji.store.pushdown` (with the rest of the SQL); this name stays for host code
that imports ``shuangsuiji.pushdown``."""

from shuangsuiji.store.pushdown import (
    BYTEA_MAX_BYTES,
    DIGEST_IN_DATABASE_MAX_BYTES,
    CandidateSource,
    CandidateSpec,
    DatabaseCandidateSet,
    FrozenCandidates,
    PoolChangedError,
    PushdownError,
    UnknownTierError,
    UnsupportedDatabaseError,
    count_strata,
    digest_in_database,
    draw_in_database,
    freeze_in_database,
    insert_candidates,
    stratum_rules,
    stratum_tag_order,
)

__all__ = [
    "BYTEA_MAX_BYTES",
    "DIGEST_IN_DATABASE_MAX_BYTES",
    "CandidateSource",
    "CandidateSpec",
    "DatabaseCandidateSet",
    "FrozenCandidates",
    "PoolChangedError",
    "PushdownError",
    "UnknownTierError",
    "UnsupportedDatabaseError",
    "count_strata",
    "digest_in_database",
    "draw_in_database",
    "freeze_in_database",
    "insert_candidates",
    "stratum_rules",
    "stratum_tag_order",
]
