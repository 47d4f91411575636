from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shuangsuiji.policy import Policy, PolicyError, load_policy


def test_default_round_trips_through_toml() -> None:
    p = Policy.default()
    q = Policy.from_toml(p.to_toml())
    assert q == p and q.content_hash == p.content_hash


def test_hash_ignores_comments_and_layout_but_not_values() -> None:
    a = Policy.from_toml("[team]\nsize = 3\n")
    b = Policy.from_toml("# 细则\n[team]\n   size=3   # three officers\n")
    c = Policy.from_toml("[team]\nsize = 4\n")
    assert a.content_hash == b.content_hash != c.content_hash


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[team]\nsize = 1\n", "legal_exception"),
        ("[team]\nsize = 'two'\n", r"\[team\] size must be a whole number"),
        ("[ratios]\ntier = { A = 0.5, B = 0.1, C = 0.2, D = 0.6 }\n", "must not decrease"),
        ("[ratios]\ntier = { A = 0.01, B = 0.1, C = 0.2 }\n", "missing"),
        ("[ratios]\nfloor = 1.5\n", r"outside \[0, 1\]"),
        ("[ratios]\nfloor = 0.2\ngeneral_item_cap = 0.1\n", "no draw could satisfy both"),
        ("[deadline]\nworking_days = 5\ndue_soon_working_days = 6\n", "exceeds"),
        ("[deadline]\nafter = 'whenever'\n", "choose one of"),
        ("[recusal]\nrotaton_days = 30\n", "unknown key"),
        ("[teams]\nsize = 2\n", "unknown table"),
        ("[exclusions]\nstatuses = ['closed']\n", "statuses must be a list"),
        ("[team\nsize = 2", "not valid TOML"),
    ],
)
def test_bad_policies_are_refused_with_clear_errors(toml: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_toml(toml)


def test_single_inspector_needs_a_cited_exception() -> None:
    p = Policy.from_toml('[team]\nsize = 1\nlegal_exception = "行政处罚法第四十二条但书"\n')
    assert p.team.size == 1


def test_load_policy_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "none.toml")
    bad = tmp_path / "gbk.toml"
    bad.write_bytes('[policy]\nname = "细则"\n'.encode("gbk"))
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(bad)
    good = tmp_path / "p.toml"
    good.write_text(Policy.default().to_toml(), encoding="utf-8")
    assert load_policy(good) == Policy.default()


@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=4, max_size=4).map(sorted),
    st.integers(2, 6),
)
def test_valid_values_round_trip(ratios: list[float], size: int) -> None:
    tiers = dict(zip("ABCD", ratios, strict=True))
    p = Policy.from_mapping({"team": {"size": size}, "ratios": {"tier": tiers, "floor": 0.0}})
    assert Policy.from_toml(p.to_toml()) == p
