"""SSJ-DRAW-1: keys, tickets, sizes, selection, alternates, replacements, both ticket schemes."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from consistent_sampler import sampler
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from shuangsuiji import draw as draw_module
from shuangsuiji.draw import (
    DEFAULT_STRATUM,
    Draw,
    DuplicateIdError,
    InvalidLabelError,
    InvalidSizeRuleError,
    MissingRuleError,
    ReplacementError,
    ReplacementReason,
    SizeRule,
    Strata,
    TicketScheme,
    WeakSeedError,
    draw_entities,
    draw_key,
    pool_digest,
    ratio_text,
    tickets,
)
from shuangsuiji.pools import Categorical

DOC = Path(__file__).resolve().parents[1] / "docs" / "ssj-draw-1.md"
SEED = bytes(range(32))
SCHEMES = list(TicketScheme)

# --- an independent oracle, written from the spec text only -------------------------------


def oracle_order_key(key: bytes, scheme: TicketScheme, entity: str) -> tuple[object, bytes]:
    if scheme is TicketScheme.CONSISTENT_SAMPLER:
        seed_hash = hashlib.sha256(key.hex().encode()).hexdigest()
        digest = hashlib.sha256((seed_hash + entity).encode()).digest()
        return f"{int.from_bytes(digest, 'big'):064d}"[::-1], entity.encode()
    return hashlib.sha256(key + entity.encode()).digest(), entity.encode()


def oracle_size(rule: SizeRule, population: int) -> int:
    if rule.ratio is not None:
        exact = Decimal(rule.ratio.numerator) * population / Decimal(rule.ratio.denominator)
        base = int(exact.to_integral_value(rounding="ROUND_CEILING"))
    else:
        base = int(rule.count or 0)
    n = min(population, max(rule.minimum, base))
    return n if rule.maximum is None else min(rule.maximum, n)


def oracle_draw(
    ids: list[str], strata: list[str], rule: SizeRule, scheme: TicketScheme, label: str, seed: bytes
) -> tuple[list[str], list[str]]:
    key = hashlib.sha256(b"SSJ-DRAW-1\x00" + label.encode() + b"\x00" + seed).digest()
    selected: list[str] = []
    alternates: list[str] = []
    for s in sorted(set(strata), key=str.encode):
        members = sorted(
            (i for i, t in zip(ids, strata, strict=True) if t == s),
            key=lambda i: oracle_order_key(key, scheme, i),
        )
        n = oracle_size(rule, len(members))
        m = min(len(members) - n, rule.alternates)
        selected += members[:n]
        alternates += members[n : n + m]
    return selected, alternates


# --- strategies ------------------------------------------------------------------------------

id_text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S")), min_size=1, max_size=8
)
labels = st.sampled_from(["A", "B", "C", "甲", "a/1"])


@st.composite
def pools(draw: st.DrawFn, min_size: int = 0, max_size: int = 60) -> tuple[list[str], list[str]]:
    ids = draw(st.lists(id_text, min_size=min_size, max_size=max_size, unique=True))
    return ids, [draw(labels) for _ in ids]


rules = st.builds(
    SizeRule,
    ratio=st.fractions(min_value=0, max_value=1, max_denominator=200),
    minimum=st.integers(0, 4),
    maximum=st.one_of(st.none(), st.integers(4, 30)),
    alternates=st.integers(0, 5),
)
count_rules = st.builds(SizeRule, count=st.integers(0, 10), alternates=st.integers(0, 5))
with_alternates = st.builds(SizeRule, count=st.integers(1, 10), alternates=st.integers(1, 5))
seeds = st.binary(min_size=16, max_size=40)


def ranked(d: Draw) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in d.selected + d.alternates:
        out.setdefault(p.stratum, []).append(p.id)
    return out


# --- key, tickets, digest -----------------------------------------------------------------------


def test_key_is_the_specified_hash() -> None:
    expected = hashlib.sha256("SSJ-DRAW-1\x00抽查-1\x00".encode() + SEED).digest()
    assert draw_key("抽查-1", SEED) == expected
    assert draw_key("抽查-1", SEED.hex()) == expected


def test_tickets_for_every_input_form() -> None:
    key = draw_key("t", SEED)
    ids = ["91350100M000100Y43", "企业-2", "x"]
    expected = np.array([list(hashlib.sha256(key + i.encode()).digest()) for i in ids], np.uint8)
    encoded = np.array([i.encode() for i in ids])
    for form in (ids, np.array(ids), encoded, np.array(ids, dtype=np.dtypes.StringDType())):
        assert np.array_equal(tickets(key, form), expected)


def test_consistent_sampler_tickets_are_its_digests() -> None:
    key = draw_key("t", SEED)
    seed_hash = hashlib.sha256(key.hex().encode()).hexdigest()
    got = tickets(key, ["a"], TicketScheme.CONSISTENT_SAMPLER)[0].tobytes()
    assert got == hashlib.sha256((seed_hash + "a").encode()).digest()


def test_pool_digest_is_the_specified_hash() -> None:
    ids, strata = ["b", "a", "ab"], ["x", "y", "甲"]
    body = "a\ty\nab\t甲\nb\tx\n".encode()
    assert pool_digest(ids, strata) == hashlib.sha256(body).hexdigest()
    assert pool_digest(["a"]) == hashlib.sha256(b"a\tall\n").hexdigest()
    assert pool_digest([]) == hashlib.sha256(b"").hexdigest()


@given(pools(min_size=1))
def test_pool_digest_ignores_row_order(pool: tuple[list[str], list[str]]) -> None:
    ids, strata = pool
    rev = pool_digest(ids[::-1], strata[::-1])
    assert pool_digest(ids, strata) == rev
    moved = [*strata[1:], "Z"] if len(set(strata)) == 1 else strata[1:] + strata[:1]
    if moved != strata:
        assert pool_digest(ids, moved) != rev


def test_pool_digest_refuses_duplicates_and_control_characters() -> None:
    with pytest.raises(DuplicateIdError, match="'a' occurs more than once"):
        pool_digest(["a", "b", "a"], ["x", "y", "z"])
    with pytest.raises(InvalidLabelError, match="row 1"):
        pool_digest(["a", "b\tc"])
    with pytest.raises(InvalidLabelError, match="stratum label"):
        pool_digest(["a"], ["x\ny"])
    with pytest.raises(InvalidLabelError, match="row 0"):
        pool_digest([""])


def test_weak_seeds_are_refused() -> None:
    with pytest.raises(WeakSeedError, match="15 bytes"):
        draw_key("t", bytes(15))
    with pytest.raises(WeakSeedError, match="not hexadecimal"):
        draw_key("t", "zz" * 16)
    with pytest.raises(InvalidLabelError, match="task label"):
        draw_key("a\x00b", SEED)


# --- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "population", "expected"),
    [
        (0.05, 100, 5),
        (0.07, 100, 7),  # 0.07 * 100 == 7.000000000000001 in floating point
        (0.29, 100, 29),  # 0.29 * 100 == 28.999999999999996
        (0.1, 30, 3),  # 0.1 * 30 == 3.0000000000000004
        ("0.07", 100, 7),
        ("7%", 100, 7),
        ("7/100", 100, 7),
        (Fraction(7, 100), 100, 7),
        (Decimal("0.07"), 100, 7),
        (0.05, 101, 6),
        (0.03, 34, 2),
        (1, 9, 9),
        (0, 9, 0),
    ],
)
def test_exact_ceiling_at_boundaries(ratio: object, population: int, expected: int) -> None:
    assert SizeRule(ratio=ratio).size(population) == expected  # type: ignore[arg-type]


@given(rules, st.integers(0, 5000))
def test_sizes_follow_the_rule(rule: SizeRule, population: int) -> None:
    n = rule.size(population)
    assert n == oracle_size(rule, population)
    assert 0 <= n <= population
    assert n >= min(population, rule.minimum) or (rule.maximum is not None and n == rule.maximum)
    assert rule.alternates_for(population, n) == min(population - n, rule.alternates)


def test_float_ratios_mean_their_decimal() -> None:
    for hundredths in range(101):
        text = f"0.{hundredths:02d}" if hundredths < 100 else "1"
        assert SizeRule(ratio=float(text)).ratio == Fraction(hundredths, 100)
        assert SizeRule(ratio=float(text)).size(100) == hundredths


def test_ratio_text_is_exact() -> None:
    assert [ratio_text(Fraction(x)) for x in ("1/20", "1/3", "3", "1/8", "7/100")] == [
        "0.05",
        "1/3",
        "3",
        "0.125",
        "0.07",
    ]


def test_size_rule_json_round_trip() -> None:
    rule = SizeRule(ratio="1/3", minimum=2, maximum=9, alternates=4)
    assert SizeRule.from_json(rule.to_json()) == rule
    assert SizeRule.from_json(SizeRule(count=3).to_json()) == SizeRule(count=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of"),
        ({"ratio": "0.1", "count": 3}, "exactly one of"),
        ({"ratio": "1.5"}, "outside"),
        ({"ratio": "-0.1"}, "outside"),
        ({"ratio": "abc"}, "not a number"),
        ({"ratio": True}, "must be a number"),
        ({"count": -1}, ">= 0"),
        ({"ratio": "0.1", "minimum": 5, "maximum": 2}, "above maximum"),
    ],
)
def test_invalid_size_rules(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSizeRuleError, match=message):
        SizeRule(**kwargs)  # type: ignore[arg-type]


# --- selection properties -------------------------------------------------------------------


@settings(max_examples=40)
@given(pools(), rules, seeds, st.sampled_from(SCHEMES))
def test_draw_matches_the_oracle(
    pool: tuple[list[str], list[str]], rule: SizeRule, seed: bytes, scheme: TicketScheme
) -> None:
    ids, strata = pool
    d = draw_entities(ids, strata, rule, task_label="任务", seed=seed, scheme=scheme)
    selected, alternates = oracle_draw(ids, strata, rule, scheme, "任务", seed)
    assert [p.id for p in d.selected] == selected
    assert [p.id for p in d.alternates] == alternates


@given(pools(), rules, seeds, st.sampled_from(SCHEMES))
def test_same_inputs_same_draw(
    pool: tuple[list[str], list[str]], rule: SizeRule, seed: bytes, scheme: TicketScheme
) -> None:
    ids, strata = pool
    a = draw_entities(ids, strata, rule, task_label="t", seed=seed, scheme=scheme)
    b = draw_entities(list(ids), list(strata), rule, task_label="t", seed=seed, scheme=scheme)
    assert a == b
    assert a.selected == b.selected


@given(pools(), rules, seeds, st.sampled_from(SCHEMES), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(
    pool: tuple[list[str], list[str]],
    rule: SizeRule,
    seed: bytes,
    scheme: TicketScheme,
    rnd: object,
) -> None:
    ids, strata = pool
    rows = list(zip(ids, strata, strict=True))
    rnd.shuffle(rows)  # type: ignore[attr-defined]
    shuffled = draw_entities(
        [r[0] for r in rows], [r[1] for r in rows], rule, task_label="t", seed=seed, scheme=scheme
    )
    assert shuffled == draw_entities(ids, strata, rule, task_label="t", seed=seed, scheme=scheme)


@given(pools(min_size=1), count_rules, seeds, st.sampled_from(SCHEMES), st.data())
def test_removing_a_non_selected_candidate_changes_nothing(
    pool: tuple[list[str], list[str]],
    rule: SizeRule,
    seed: bytes,
    scheme: TicketScheme,
    data: st.DataObject,
) -> None:
    ids, strata = pool
    before = draw_entities(ids, strata, rule, task_label="t", seed=seed, scheme=scheme)
    chosen = {p.id for p in before.selected}
    others = [i for i in ids if i not in chosen]
    if not others:
        return
    gone = data.draw(st.sampled_from(others))
    keep = [k for k, i in enumerate(ids) if i != gone]
    after = draw_entities(
        [ids[k] for k in keep], [strata[k] for k in keep], rule, task_label="t", seed=seed,
        scheme=scheme,
    )  # fmt: skip
    assert after.selected == before.selected
    # The ranking loses the removed candidate and may gain the next one at its end.
    after_ranked = ranked(after)
    for s, r in ranked(before).items():
        kept = [i for i in r if i != gone]
        assert after_ranked.get(s, [])[: len(kept)] == kept


@given(pools(min_size=1), with_alternates, seeds, st.sampled_from(SCHEMES), st.data())
def test_removing_a_selected_candidate_promotes_the_first_alternate(
    pool: tuple[list[str], list[str]],
    rule: SizeRule,
    seed: bytes,
    scheme: TicketScheme,
    data: st.DataObject,
) -> None:
    ids, strata = pool
    before = draw_entities(ids, strata, rule, task_label="t", seed=seed, scheme=scheme)
    if not before.selected:
        return
    gone = data.draw(st.sampled_from(before.selected))
    keep = [k for k, i in enumerate(ids) if i != gone.id]
    after = draw_entities(
        [ids[k] for k in keep], [strata[k] for k in keep], rule, task_label="t", seed=seed,
        scheme=scheme,
    )  # fmt: skip
    first_alternate = next((p for p in before.alternates if p.stratum == gone.stratum), None)
    expected = [p for p in before.selected if p != gone]
    if first_alternate is not None:
        expected.append(first_alternate)
        replaced = before.replace(gone.id, ReplacementReason.DEREGISTERED_BEFORE_DRAW)
        assert set(replaced.active) == set(after.selected)
    assert set(after.selected) == set(expected)


@given(pools(), st.one_of(rules, count_rules), seeds, st.sampled_from(SCHEMES))
def test_no_stratum_is_over_or_under_drawn(
    pool: tuple[list[str], list[str]], rule: SizeRule, seed: bytes, scheme: TicketScheme
) -> None:
    ids, strata = pool
    d = draw_entities(ids, strata, rule, task_label="t", seed=seed, scheme=scheme)
    stratum_of = dict(zip(ids, strata, strict=True))
    assert [s.label for s in d.strata] == sorted(set(strata), key=str.encode)
    for s in d.strata:
        size = strata.count(s.label)
        assert (s.size, s.sample) == (size, rule.size(size))
        assert s.alternates == min(size - s.sample, rule.alternates)
        assert sum(p.stratum == s.label for p in d.selected) == s.sample
        assert sum(p.stratum == s.label for p in d.alternates) == s.alternates
    assert all(stratum_of[p.id] == p.stratum for p in d.selected + d.alternates)
    assert len({p.id for p in d.selected + d.alternates}) == len(d.selected) + len(d.alternates)


def test_chi_square_does_not_reject_uniformity() -> None:
    """Over 3,000 seeds, each of 12 candidates is drawn first about equally often."""
    ids = [f"9135010{k:02d}" for k in range(12)]
    for scheme in SCHEMES:
        counts = dict.fromkeys(ids, 0)
        for k in range(3000):
            seed = hashlib.sha256(b"chi-square" + k.to_bytes(4, "big")).digest()
            d = draw_entities(
                ids, None, SizeRule(count=1), task_label="u", seed=seed, scheme=scheme
            )
            counts[d.selected[0].id] += 1
        result = stats.chisquare(list(counts.values()))
        assert result.pvalue > 0.001, (scheme, counts)


def test_chi_square_would_reject_a_biased_draw() -> None:
    """The uniformity test has teeth: taking the smallest ID (a classic bug) fails it."""
    counts = [3000] + [0] * 11
    assert stats.chisquare(counts).pvalue < 0.001


# --- the consistent_sampler scheme -------------------------------------------------------------


@settings(max_examples=25)
@given(pools(min_size=1, max_size=40), st.one_of(rules, count_rules), seeds)
def test_consistent_sampler_mode_reproduces_the_package(
    pool: tuple[list[str], list[str]], rule: SizeRule, seed: bytes
) -> None:
    ids, strata = pool
    d = draw_entities(
        ids, strata, rule, task_label="t", seed=seed, scheme=TicketScheme.CONSISTENT_SAMPLER
    )
    key = draw_key("t", seed)
    got = ranked(d)
    for s in d.strata:
        members = [i for i, t in zip(ids, strata, strict=True) if t == s.label]
        take = s.sample + s.alternates
        expected = list(sampler(members, seed=key.hex(), take=take, output="id"))
        assert got.get(s.label, []) == expected


def test_consistent_sampler_digits_match_python_on_edge_values() -> None:
    values = [0, 1, 9, 10**63 - 1, 10**63, 10**64, 2**256 - 1, 10**77, 10**77 - 1]
    rng = np.random.default_rng(5)  # test input only
    values += [int.from_bytes(rng.bytes(n), "big") for n in (8, 20, 26, 27, 32) for _ in range(40)]
    digests = np.frombuffer(b"".join(v.to_bytes(32, "big") for v in values), np.uint8)
    limbs = digests.reshape(-1, 32).view(">u4").astype(np.uint64)
    strings = [s.decode() for s in draw_module._cs_strings(limbs)]
    assert strings == [f"{v:064d}"[::-1] for v in values]
    prefix = draw_module._cs_prefix(limbs)
    assert prefix.tolist() == [int(f"{v:064d}"[::-1][:9]) for v in values]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_ties_in_the_prefix_fall_back_to_the_full_ticket(
    scheme: TicketScheme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a prefix of only 2 bits almost everything ties; the result must not change."""
    ids = [f"E{k}" for k in range(400)]
    strata = ["A", "B", "C"] * 133 + ["A"]
    rule = SizeRule(ratio="0.1", alternates=3)
    expected = draw_entities(ids, strata, rule, task_label="t", seed=SEED, scheme=scheme)
    real = draw_module._order_keys

    def coarse(s: TicketScheme, digests: np.ndarray) -> tuple[object, int, object]:
        prefix, _, full = real(s, digests)
        return prefix >> np.uint64(62 if s is TicketScheme.SSJ_DRAW_1 else 28), 2, full

    monkeypatch.setattr(draw_module, "_order_keys", coarse)
    assert draw_entities(ids, strata, rule, task_label="t", seed=SEED, scheme=scheme) == expected


# --- inputs, strata, duplicates --------------------------------------------------------------


def test_every_input_form_gives_the_same_draw() -> None:
    ids = [f"9135{k:04d}" for k in range(50)]
    strata = ["甲" if k % 3 else "B" for k in range(50)]
    rule = SizeRule(ratio="0.2", alternates=2)
    base = draw_entities(ids, strata, rule, task_label="t", seed=SEED)
    forms = [
        (np.array([i.encode() for i in ids]), strata),
        (np.array(ids), np.array(strata)),
        (ids, Strata.from_labels(strata)),
        (ids, Categorical.from_values(strata)),
        (ids, [s.encode() for s in strata]),
        (ids, {"甲": rule, "B": rule}),
    ]
    for id_form, strata_form in forms:
        if isinstance(strata_form, dict):
            d = draw_entities(id_form, strata, strata_form, task_label="t", seed=SEED)
        else:
            d = draw_entities(id_form, strata_form, rule, task_label="t", seed=SEED)
        assert d == base


def test_global_order_is_by_label_bytes_then_ticket() -> None:
    ids = [f"x{k}" for k in range(30)]
    strata = ["甲", "a", "B"] * 10
    d = draw_entities(ids, strata, SizeRule(count=3), task_label="t", seed=SEED)
    assert [s.label for s in d.strata] == ["B", "a", "甲"]
    assert [p.stratum for p in d.selected] == ["B"] * 3 + ["a"] * 3 + ["甲"] * 3
    for s in ("B", "a", "甲"):
        picks = [p.ticket for p in d.selected if p.stratum == s]
        assert picks == sorted(picks)


def test_unstratified_draw_uses_the_default_stratum() -> None:
    d = draw_entities(["a", "b", "c"], None, SizeRule(count=2), task_label="t", seed=SEED)
    assert {p.stratum for p in d.selected} == {DEFAULT_STRATUM}


def test_rules_mapping_must_cover_every_stratum_and_may_add_empty_ones() -> None:
    with pytest.raises(MissingRuleError, match=r"\['B'\]"):
        draw_entities(["a", "b"], ["A", "B"], {"A": SizeRule(count=1)}, task_label="t", seed=SEED)
    d = draw_entities(
        ["a"], ["A"], {"A": SizeRule(count=1), "D": SizeRule(count=2)}, task_label="t", seed=SEED
    )
    assert [(s.label, s.size, s.sample) for s in d.strata] == [("A", 1, 1), ("D", 0, 0)]


def test_duplicates_that_could_be_drawn_are_refused() -> None:
    with pytest.raises(DuplicateIdError, match="'a'"):
        draw_entities(["a", "b", "a"], None, SizeRule(count=3), task_label="t", seed=SEED)
    with pytest.raises(DuplicateIdError, match="'a'"):
        draw_entities(["a", "a"], ["X", "Y"], SizeRule(count=1), task_label="t", seed=SEED)


def test_bad_strata_input() -> None:
    with pytest.raises(ValueError, match="3 candidate IDs but 2"):
        draw_entities(["a", "b", "c"], ["x", "y"], SizeRule(count=1), task_label="t", seed=SEED)
    with pytest.raises(InvalidLabelError, match="stratum label"):
        draw_entities(["a"], [""], SizeRule(count=1), task_label="t", seed=SEED)


# --- replacements -------------------------------------------------------------------------


def test_replacements_take_the_next_unused_alternate_of_the_stratum() -> None:
    ids = [f"E{k}" for k in range(40)]
    strata = ["A", "B"] * 20
    d = draw_entities(ids, strata, SizeRule(count=2, alternates=2), task_label="t", seed=SEED)
    a_sel = [p for p in d.selected if p.stratum == "A"]
    a_alt = [p for p in d.alternates if p.stratum == "A"]
    d1 = d.replace(a_sel[0].id, "not_found_at_address")
    assert d1.replacements[-1].by == a_alt[0].id
    d2 = d1.replace(a_alt[0].id, ReplacementReason.OTHER, note="已迁出辖区外")
    assert d2.replacements[-1].by == a_alt[1].id
    assert a_alt[1] in d2.active and a_alt[0] not in d2.active and a_sel[0] not in d2.active
    assert len(d2.active) == len(d.selected)
    with pytest.raises(ReplacementError, match="no unused alternate"):
        d2.replace(a_sel[1].id, "duplicate_record")
    with pytest.raises(ReplacementError, match="not in the current selection"):
        d2.replace(a_sel[0].id, "duplicate_record")
    with pytest.raises(ReplacementError, match="needs a note"):
        d.replace(a_sel[0].id, "other")
    with pytest.raises(ValueError, match="not a valid ReplacementReason"):
        d.replace(a_sel[0].id, "felt like it")


def test_documented_test_vectors() -> None:
    """Every line of the test-vector block in docs/ssj-draw-1.md is recomputed."""
    block = DOC.read_text(encoding="utf-8").split("## Test vectors", 1)[1]
    lines = re.findall(r"```text\n(.*?)```", block, flags=re.S)[0].splitlines()
    v = {k.strip(): val.strip() for k, val in (line.split("=", 1) for line in lines)}
    seed = bytes.fromhex(v["seed"])
    key = draw_key(v["task_label"], seed)
    assert key.hex() == v["key"]
    ticket_rows = [(k.split()[1:], val) for k, val in v.items() if k.startswith("ticket ")]
    ids = [k[1] for k, _ in ticket_rows]
    strata = [k[0] for k, _ in ticket_rows]
    assert pool_digest(ids, strata) == v["pool_digest"]
    assert [tickets(key, [i])[0].tobytes().hex() for i in ids] == [t for _, t in ticket_rows]
    rules = {
        "A": SizeRule(ratio="0.25", alternates=1),
        "C": SizeRule(ratio="0.5", minimum=1, alternates=1),
    }
    d = draw_entities(ids, strata, rules, task_label=v["task_label"], seed=seed)
    assert " ".join(p.id for p in d.selected) == v["selected"]
    assert " ".join(p.id for p in d.alternates) == v["alternates"]
    assert hashlib.sha256(key.hex().encode()).hexdigest() == v["cs seed_hash"]
    cs_rows = [(k.split()[3], val.split()) for k, val in v.items() if k.startswith("cs ticket")]
    for entity, (digest, number) in cs_rows:
        got = tickets(key, [entity], TicketScheme.CONSISTENT_SAMPLER)[0].tobytes()
        assert got.hex() == digest
        assert "0." + f"{int.from_bytes(got, 'big'):064d}"[::-1][:20] == number
    cs = draw_entities(
        ids, strata, rules, task_label=v["task_label"], seed=seed, scheme="consistent_sampler"
    )
    assert " ".join(p.id for p in cs.selected) == v["cs selected"]
    assert " ".join(p.id for p in cs.alternates) == v["cs alternates"]
