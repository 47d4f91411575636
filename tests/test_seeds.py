"""SSJ-SEED-1: random seeds, commit–reveal ceremonies and public-value seeds."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shuangsuiji.seeds import (
    Ceremony,
    CeremonyError,
    CommitmentsClosedError,
    DuplicatePartyError,
    MissingRevealError,
    PublicAnnouncement,
    PublicSeed,
    PublicSeedError,
    PublicSource,
    RevealMismatchError,
    SeedRecordError,
    TimeOrderError,
    UnknownPartyError,
    canonical_value,
    check_provenance,
    combine_contributions,
    party_commitment,
    provenance_from_record,
    random_seed,
    system_ceremony,
)

CST = timezone(timedelta(hours=8))
POOL = "a0" * 32
TASK = "2025-福州-001"


def at(minute: int) -> datetime:
    return datetime(2025, 6, 1, 9, 0, tzinfo=CST) + timedelta(minutes=minute)


def ceremony(contributions: dict[str, bytes]) -> Ceremony:
    c = Ceremony(TASK, POOL, frozen_at=at(0))
    for k, (party, value) in enumerate(contributions.items()):
        c = c.commit(party, party_commitment(TASK, POOL, party, value), at(1 + k))
    for k, (party, value) in enumerate(contributions.items()):
        c = c.reveal(party, value, at(100 + k))
    return c


PARTIES = {"市场监管局": bytes([0x11]) * 16, "纪检监察组": bytes([0x22]) * 16}


def test_random_seeds_are_32_fresh_bytes() -> None:
    seeds = {random_seed() for _ in range(50)}
    assert len(seeds) == 50
    assert {len(s) for s in seeds} == {32}


def test_commitment_is_the_specified_hash() -> None:
    body = "SSJ-SEED-1\x00commit\x00" + TASK + "\x00" + POOL + "\x00市场监管局\x00"
    expected = hashlib.sha256(body.encode() + PARTIES["市场监管局"]).hexdigest()
    assert party_commitment(TASK, POOL, "市场监管局", PARTIES["市场监管局"]) == expected


def test_combination_is_the_specified_hash() -> None:
    head = f"SSJ-SEED-1\x00combine\x00{TASK}\x00{POOL}\x00".encode()
    body = b"".join(
        p.encode() + b"\x00" + hashlib.sha256(PARTIES[p]).digest()
        for p in sorted(PARTIES, key=str.encode)
    )
    assert combine_contributions(TASK, POOL, PARTIES) == hashlib.sha256(head + body).digest()
    assert ceremony(PARTIES).seed() == hashlib.sha256(head + body).digest()


party_names = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=6
)


@given(
    st.dictionaries(party_names, st.binary(min_size=16, max_size=24), min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_seed_does_not_depend_on_order_and_depends_on_every_contribution(
    contributions: dict[str, bytes], rnd: object
) -> None:
    items = list(contributions.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    seed = ceremony(contributions).seed()
    assert ceremony(dict(items)).seed() == seed
    for party in contributions:
        changed = {**contributions, party: bytes(16) + contributions[party]}
        assert combine_contributions(TASK, POOL, changed) != seed
    assert combine_contributions(TASK, "b1" * 32, contributions) != seed
    assert combine_contributions(TASK + "x", POOL, contributions) != seed


def test_ceremony_refuses_steps_out_of_order() -> None:
    a, b = PARTIES["市场监管局"], PARTIES["纪检监察组"]
    c = Ceremony(TASK, POOL, frozen_at=at(0))
    c1 = c.commit("甲", party_commitment(TASK, POOL, "甲", a), at(1))
    with pytest.raises(DuplicatePartyError, match="'甲' has already committed"):
        c1.commit("甲", party_commitment(TASK, POOL, "甲", a), at(2))
    with pytest.raises(TimeOrderError, match="before the pool was frozen"):
        c.commit("甲", party_commitment(TASK, POOL, "甲", a), at(-1))
    with pytest.raises(UnknownPartyError, match="'乙' revealed but never committed"):
        c1.reveal("乙", b, at(3))
    with pytest.raises(RevealMismatchError, match="party '甲'"):
        c1.reveal("甲", b, at(3))
    c2 = c1.commit("乙", party_commitment(TASK, POOL, "乙", b), at(2))
    with pytest.raises(TimeOrderError, match="before the last commitment"):
        c2.reveal("甲", a, at(1))
    c3 = c2.reveal("甲", a, at(3))
    with pytest.raises(CommitmentsClosedError, match="'丙' tried to commit after '甲' revealed"):
        c3.commit("丙", party_commitment(TASK, POOL, "丙", a), at(4))
    with pytest.raises(DuplicatePartyError, match="'甲' has already revealed"):
        c3.reveal("甲", a, at(4))
    with pytest.raises(MissingRevealError, match=r"\['乙'\]"):
        c3.seed()
    assert c3.reveal("乙", b, at(5)).seed() == combine_contributions(TASK, POOL, {"甲": a, "乙": b})
    with pytest.raises(MissingRevealError, match="no party"):
        c.seed()


def test_ceremony_input_checks() -> None:
    c = Ceremony(TASK, POOL, frozen_at=at(0))
    with pytest.raises(CeremonyError, match="at least 16 random bytes"):
        party_commitment(TASK, POOL, "甲", b"short")
    with pytest.raises(TimeOrderError, match="timezone-aware"):
        c.commit("甲", "ab" * 32, datetime(2025, 6, 1, 9, 1))
    with pytest.raises(SeedRecordError, match="64 lower-case hex"):
        c.commit("甲", "AB" * 32, at(1))
    with pytest.raises(ValueError, match="control character"):
        c.commit("甲\n", "ab" * 32, at(1))


def test_ceremony_record_round_trip_and_problems() -> None:
    c = ceremony(PARTIES)
    record = c.to_record()
    assert Ceremony.from_record(record) == c
    assert provenance_from_record(record) == c
    assert c.problems() == []
    forged = {**record, "reveals": [dict(r) for r in record["reveals"]]}
    forged["reveals"][0]["contribution"] = "33" * 16
    assert "does not match its commitment" in Ceremony.from_record(forged).problems()[0]
    early = {**record, "reveals": [dict(r) for r in record["reveals"]]}
    early["reveals"][0]["at"] = at(0).isoformat()
    assert "before the last commitment" in Ceremony.from_record(early).problems()[0]
    with pytest.raises(SeedRecordError, match="malformed ceremony record"):
        Ceremony.from_record({"kind": "ceremony"})
    with pytest.raises(SeedRecordError, match="unknown seed provenance kind"):
        provenance_from_record({"kind": "dice"})


def test_check_provenance_binds_seed_task_and_pool() -> None:
    c = ceremony(PARTIES)
    record, seed = c.to_record(), c.seed()
    assert check_provenance(record, seed=seed, task_label=TASK, pool_digest=POOL) == []
    assert check_provenance(record, seed=bytes(32), task_label=TASK, pool_digest=POOL) == [
        "the seed it yields is not the draw's seed"
    ]
    other_pool = check_provenance(record, seed=seed, task_label=TASK, pool_digest="b1" * 32)
    assert any("pool digest" in p for p in other_pool)
    assert any(
        "task" in p for p in check_provenance(record, seed=seed, task_label="X", pool_digest=POOL)
    )


def test_system_ceremony() -> None:
    c = system_ceremony(TASK, POOL, frozen_at=at(0), committed_at=at(1), revealed_at=at(2))
    assert c.problems() == []
    assert len(c.seed()) == 32
    fixed = system_ceremony(
        TASK, POOL, frozen_at=at(0), committed_at=at(1), revealed_at=at(2), contribution=bytes(16)
    )
    assert fixed.seed() == combine_contributions(TASK, POOL, {"system": bytes(16)})


LOTTERY = PublicSource("中国福利彩票 双色球", "第2025062期 开奖号码", date(2025, 6, 3))
BEACON = PublicSource("NIST beacon", "pulse 2025-06-03T12:00Z", date(2025, 6, 3))


def announcement(*sources: PublicSource) -> PublicAnnouncement:
    return PublicAnnouncement(TASK, POOL, at(0), at(60), sources or (LOTTERY,))


def test_public_seed_is_the_specified_hash() -> None:
    a = announcement(LOTTERY, BEACON)
    head = f"SSJ-SEED-1\x00announce\x00{TASK}\x00{POOL}\x00".encode()
    sources = "".join(
        f"{s.label}\x00{s.reference}\x00{s.expected.isoformat()}\x00" for s in (LOTTERY, BEACON)
    )
    assert a.digest() == hashlib.sha256(head + sources.encode()).hexdigest()
    record = a.resolve(["03 11 17 22 28 31 + 09", "ABC"], datetime(2025, 6, 3, 21, tzinfo=CST))
    body = f"SSJ-SEED-1\x00public\x00{a.digest()}\x0003 11 17 22 28 31 + 09\x00ABC\x00"
    assert record.seed() == hashlib.sha256(body.encode()).digest()


def test_public_values_are_canonicalised() -> None:
    a = announcement()
    when = datetime(2025, 6, 3, 21, tzinfo=CST)
    plain = a.resolve(["03 11 17 22 28 31 + 09"], when).seed()
    assert a.resolve([" 03 11  17 22\t28 31 + 09\n"], when).seed() == plain
    assert a.resolve(["03 11 17 22 28 31 + 10"], when).seed() != plain
    assert canonical_value("Cafe\u0301  No.\u00a07") == "Caf\u00e9 No. 7"


def test_public_seed_refuses_values_known_at_announcement() -> None:
    late = PublicAnnouncement(TASK, POOL, at(0), datetime(2025, 6, 3, 8, tzinfo=CST), (LOTTERY,))
    with pytest.raises(PublicSeedError, match="not after the announcement date"):
        late.resolve(["1 2 3"], datetime(2025, 6, 3, 21, tzinfo=CST))
    with pytest.raises(PublicSeedError, match="before its date"):
        announcement().resolve(["1 2 3"], datetime(2025, 6, 2, 21, tzinfo=CST))
    with pytest.raises(PublicSeedError, match="2 sources announced but 1 values"):
        announcement(LOTTERY, BEACON).resolve(["1"], datetime(2025, 6, 3, 21, tzinfo=CST))
    unfrozen = PublicAnnouncement(TASK, POOL, at(10), at(5), (LOTTERY,))
    assert any("before the pool was frozen" in p for p in unfrozen.problems())


def test_public_record_round_trip_and_check() -> None:
    record = announcement().resolve(["03 11 17"], datetime(2025, 6, 3, 21, tzinfo=CST))
    data = record.to_record()
    assert PublicSeed.from_record(data) == record
    seed = record.seed()
    assert check_provenance(data, seed=seed, task_label=TASK, pool_digest=POOL) == []
    forged = {**data, "values": ["03 11 18"]}
    assert check_provenance(forged, seed=seed, task_label=TASK, pool_digest=POOL) == [
        "the seed it yields is not the draw's seed"
    ]
    moved = {**data, "sources": [{**data["sources"][0], "expected": "2025-06-04"}]}
    problems = check_provenance(moved, seed=seed, task_label=TASK, pool_digest=POOL)
    assert "announcement_digest does not match the announced sources" in problems
    with pytest.raises(SeedRecordError, match="malformed public-seed record"):
        PublicSeed.from_record({"kind": "public", "sources": []})


def test_documented_seed_vectors() -> None:
    """The ceremony and public-value vectors of docs/ssj-draw-1.md."""
    pool = "a02396f9ce3b991dddec35abc891cda57137681eb9341afec83b8460badb1961"
    assert party_commitment(TASK, pool, "市场监管局", bytes([0x11]) * 16) == (
        "4096358c93ad15a2c6226ff475d6c086ebf0ea9c1741d04573fe73c3e5ac2b26"
    )
    assert party_commitment(TASK, pool, "纪检监察组", bytes([0x22]) * 16) == (
        "b60500c17844b8a015a6af6c78796f3c0e0028b1c89c664a9740f385c76a3472"
    )
    assert combine_contributions(TASK, pool, PARTIES).hex() == (
        "f5189149747ca6f859c04b3d0ad5d1a0baad20812ed21d32a0b5c15bb7cf73fe"
    )
    a = PublicAnnouncement(
        TASK, pool, datetime(2025, 6, 1, 9, tzinfo=CST), datetime(2025, 6, 1, 10, tzinfo=CST),
        (LOTTERY,),
    )  # fmt: skip
    assert a.digest() == "5112069766a6471d4d65cfde5ddb966ffff17ce12280ca0c9dd95c8878f9e5af"
    seed = a.resolve(["03 11 17 22 28 31 + 09"], datetime(2025, 6, 3, 21, 30, tzinfo=CST)).seed()
    assert seed.hex() == "00d0c9e5e934039fa2c1d68009533063332f01778e33d5d29fd9911188322ee3"
    doc = (Path(__file__).resolve().parents[1] / "docs" / "ssj-draw-1.md").read_text("utf-8")
    for value in (a.digest(), seed.hex(), combine_contributions(TASK, pool, PARTIES).hex()):
        assert value in doc
