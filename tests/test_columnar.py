"""The columnar bundle: a JSON head with Parquet files, verified by streaming them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import shuangsuiji.columnar as columnar
from shuangsuiji.bundle import make_bundle, record_digest, verify_bundle
from shuangsuiji.cli import main
from shuangsuiji.columnar import (
    file_digest,
    head_for_draw,
    read_head,
    verify_columnar,
    write_columnar,
    write_head,
)
from shuangsuiji.draw import SizeRule, draw_entities, pool_digest
from shuangsuiji.engines.duckdb import draw_duckdb, freeze_duckdb
from shuangsuiji.seeds import Ceremony, party_commitment

CST = timezone(timedelta(hours=8))
TASK = "2026-全国-抽查-001"
IDS = [f"91{k:07d}{'中é'[k % 2]}" for k in range(3_000)]
STRATA = ["A/350102" if k % 5 == 0 else "B" if k % 5 < 3 else "甲" for k in range(3_000)]
RULES = {
    "A/350102": SizeRule(ratio="0.02", minimum=1, alternates=3),
    "B": SizeRule(ratio="0.01", alternates=2),
    "甲": SizeRule(count=7, alternates=1),
    "乙": SizeRule(count=1),  # a stratum without candidates
}


def ceremony_for(pool: str) -> Ceremony:
    at = datetime(2026, 6, 1, 9, tzinfo=CST)
    parties = {"市场监管局": bytes([7]) * 32, "纪检监察组": bytes([9]) * 32}
    c = Ceremony(TASK, pool, frozen_at=at)
    for k, (p, v) in enumerate(parties.items()):
        c = c.commit(p, party_commitment(TASK, pool, p, v), at + timedelta(minutes=1 + k))
    for k, (p, v) in enumerate(parties.items()):
        c = c.reveal(p, v, at + timedelta(minutes=10 + k))
    return c


DEREGISTERED = [f"90{k:07d}X" for k in range(0, 400, 2)]  # 200 entities
LATE = [f"90{k:07d}X" for k in range(1, 400, 2)]  # 200 entities, between them in utf8(id)
CUTOFF = "2026-06-15"  # the LATE entities registered on 2026-06-30


def json_bundle() -> dict[str, Any]:
    c = ceremony_for(pool_digest(IDS, STRATA))
    d = draw_entities(IDS, STRATA, RULES, task_label=TASK, seed=c.seed())
    d = d.replace(d.selected[0].id, "not_found_at_address")
    excluded = [
        {
            "reason": "deregistered_or_revoked",
            "ids": DEREGISTERED,
            "facts": [{"status": "注销"}] * len(DEREGISTERED),
        },
        {
            "reason": "registered_after_cutoff",
            "ids": LATE,
            "facts": [{"registered": "2026-06-30"}] * len(LATE),
        },
    ]
    return make_bundle(
        d,
        IDS,
        STRATA,
        seed_provenance=c,
        policy_hash="5e" * 32,
        exclusions={"deregistered_or_revoked": 200, "registered_after_cutoff": 200},
        library_version="0.1.0",
        process={"excluded": excluded, "cutoff": CUTOFF},
    )


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 97 rows: the stream crosses many batches and shrinks its heaps often."""
    monkeypatch.setattr(columnar, "BATCH_ROWS", 97)


def test_a_json_bundle_written_columnar_verifies(tmp_path: Path, small_batches: None) -> None:
    bundle = json_bundle()
    assert verify_bundle(bundle).ok
    head_path = write_columnar(bundle, tmp_path, "draw-1", row_group_rows=500)
    head = read_head(head_path)
    assert "candidates" not in head and "excluded" not in head
    assert head["pool_digest"] == bundle["pool_digest"]
    assert head["candidates_file"] == {
        "path": "draw-1.candidates.parquet",
        "sha256": file_digest(tmp_path / "draw-1.candidates.parquet"),
        "rows": 3_000,
    }
    assert head["excluded_file"]["rows"] == 400
    excluded = pq.read_table(tmp_path / "draw-1.excluded.parquet")
    assert excluded.column("id").to_pylist() == sorted(DEREGISTERED + LATE)
    assert pq.ParquetFile(tmp_path / "draw-1.candidates.parquet").num_row_groups == 6
    report = verify_columnar(head, tmp_path)
    assert report.ok, report
    assert len(head_path.read_bytes()) < len(json.dumps(bundle)) / 10


def _verify_cli(head_path: Path) -> Any:
    return CliRunner().invoke(main, ["verify", str(head_path), "--json"])


def test_the_cli_verifies_a_head_and_names_a_tampered_file(tmp_path: Path) -> None:
    head_path = write_columnar(json_bundle(), tmp_path, "draw-1")
    ok = _verify_cli(head_path)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    # One candidate removed from the file: its SHA-256 no longer matches the head.
    path = tmp_path / "draw-1.candidates.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)
    bad = _verify_cli(head_path)
    assert bad.exit_code == 1
    assert any(p.startswith("candidates_file: ") for p in json.loads(bad.output)["problems"])


def _rewrite(tmp_path: Path, head: dict[str, Any], table: pa.Table) -> dict[str, Any]:
    """Replace the candidates file and re-commit the head to it (a consistent forgery)."""
    path = tmp_path / head["candidates_file"]["path"]
    pq.write_table(table, path)
    head = {**head, "candidates_file": {**head["candidates_file"], "sha256": file_digest(path)}}
    head["record_digest"] = record_digest(head)
    return head


def test_a_recommitted_file_with_other_candidates_fails_on_the_pool_digest(
    tmp_path: Path, small_batches: None
) -> None:
    head = read_head(write_columnar(json_bundle(), tmp_path, "d"))
    table = pq.read_table(tmp_path / "d.candidates.parquet")
    # Move one candidate to another stratum: same rows, other strata.
    strata = table.column("stratum").to_pylist()
    strata[5] = "B" if strata[5] != "B" else "甲"
    forged = _rewrite(tmp_path, head, table.set_column(1, "stratum", pa.array(strata)))
    fields = {p.field for p in verify_columnar(forged, tmp_path).problems}
    assert "pool_digest" in fields
    # Drop a row: counts differ from the recorded sizes; the file is streamed again.
    forged = _rewrite(tmp_path, head, table.slice(0, 2_000))
    fields = {p.field for p in verify_columnar(forged, tmp_path).problems}
    assert {"pool_digest", "candidates_file"} <= fields
    assert any(f.startswith("strata.") for f in fields)


def test_unsorted_or_repeated_ids_are_refused(tmp_path: Path) -> None:
    head = read_head(write_columnar(json_bundle(), tmp_path, "d"))
    table = pq.read_table(tmp_path / "d.candidates.parquet")
    for forged_table in (
        pa.concat_tables([table.slice(1, 10), table.slice(0, 1), table.slice(11)]),
        pa.concat_tables([table.slice(0, 11), table.slice(10)]),
    ):
        report = verify_columnar(_rewrite(tmp_path, head, forged_table), tmp_path)
        assert any("strictly increasing utf8(id)" in p.message for p in report.problems)


def test_a_candidates_file_of_another_schema_is_refused_before_its_rows(tmp_path: Path) -> None:
    head = read_head(write_columnar(json_bundle(), tmp_path, "d"))
    table = pq.read_table(tmp_path / "d.candidates.parquet")
    forged = _rewrite(tmp_path, head, table.rename_columns(["uscc", "stratum"]))
    problems = [str(p) for p in verify_columnar(forged, tmp_path).problems]
    assert (
        "candidates_file: d.candidates.parquet has the columns ['uscc', 'stratum'], "
        "section 14 specifies ['id', 'stratum']"
    ) in problems


def test_a_head_cannot_point_the_verifier_elsewhere(tmp_path: Path) -> None:
    head = read_head(write_columnar(json_bundle(), tmp_path, "d"))
    for name in ("../d.candidates.parquet", "/etc/passwd", "sub/d.parquet"):
        forged = {**head, "candidates_file": {**head["candidates_file"], "path": name}}
        report = verify_columnar(forged, tmp_path)
        problems = [p for p in report.problems if p.field == "candidates_file"]
        assert len(problems) == 1
        assert "bare file name" in problems[0].message


def test_a_duckdb_draw_gets_a_columnar_bundle_without_loading_the_pool(tmp_path: Path) -> None:
    source = tmp_path / "pool.parquet"
    pq.write_table(pa.table({"id": IDS[::-1], "stratum": STRATA[::-1]}), source)
    frozen = tmp_path / "d.candidates.parquet"
    counts = freeze_duckdb(source, frozen, row_group_rows=700)
    c = ceremony_for(pool_digest(IDS, STRATA))
    got = draw_duckdb(frozen, RULES, task_label=TASK, seed=c.seed(), check_ids=False)
    head = head_for_draw(
        got.draw,
        got.pool_digest,
        frozen,
        rows=sum(counts.values()),
        seed_provenance=c,
        library_version="0.1.0",
    )
    write_head(head, tmp_path / "d.json")
    assert verify_columnar(read_head(tmp_path / "d.json"), tmp_path).ok
    reference = make_bundle(
        draw_entities(IDS, STRATA, RULES, task_label=TASK, seed=c.seed()),
        IDS,
        STRATA,
        seed_provenance=c,
        library_version="0.1.0",
    )
    assert head["selected"] == reference["selected"]
    assert head["pool_digest"] == reference["pool_digest"]
    # A large draw's picks go to a file beside the candidates, named after them.
    large = head_for_draw(
        got.draw,
        got.pool_digest,
        frozen,
        rows=sum(counts.values()),
        seed_provenance=c,
        library_version="0.1.0",
        picks_threshold=10,
    )
    assert large["picks_file"]["path"] == "d.picks.parquet" and "selected" not in large
    assert verify_columnar(large, tmp_path).ok


def test_a_registry_draw_exports_columnar_and_verifies_with_its_announcement(
    tmp_path: Path,
) -> None:
    from datetime import date

    from shuangsuiji.model import Plan, Task
    from shuangsuiji.registry import Registry
    from shuangsuiji.store import Store
    from shuangsuiji.synth import make_city

    reg = Registry(Store.open(f"sqlite:///{tmp_path / 'ssj.db'}"))
    reg.setup_city(make_city(1_500, seed=3), actor="管理员")
    reg.store.put_plan(Plan("P1", 2026, "计划", ("SCJG",)), actor="管理员")
    task = Task("T1", "P1", "抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
    reg.store.put_task(task, actor="管理员")
    reg.draw("T1", actor="抽取人", cutoff=date(2026, 6, 30))
    small = reg.export_bundle("T1", tmp_path / "draw-T1.json")
    assert "candidates" in json.loads(small.read_text(encoding="utf-8"))
    head_path = reg.export_bundle("T1", tmp_path / "draw-T1.json", columnar=True)
    head = read_head(head_path)
    assert "announcement" in head and head["candidates_file"]["rows"] > 1_000
    excluded = pq.read_table(tmp_path / head["excluded_file"]["path"]).to_pylist()
    stored = reg.bundle("T1")["excluded"]
    assert len(excluded) == sum(len(e["ids"]) for e in stored) == head["excluded_file"]["rows"]
    with_facts = [e for e in stored if e.get("facts")]
    assert with_facts, "the registry records the fact that decided each exclusion"
    first = with_facts[0]
    row = next(r for r in excluded if r["id"] == first["ids"][0])
    assert (row["reason"], json.loads(row["fact"])) == (first["reason"], first["facts"][0])
    result = _verify_cli(head_path)
    assert result.exit_code == 0, result.output
    # The announcement counts the candidates: a head that claims another count fails.
    forged = {**head, "candidates_file": {**head["candidates_file"], "rows": 7}}
    report = verify_columnar(forged, tmp_path)
    assert {"announcement", "candidates_file"} <= {p.field for p in report.problems}


# -- the excluded file: its content, not only its SHA-256 ------------------------------------


def _recommit(tmp_path: Path, head: dict[str, Any], field: str, table: pa.Table) -> dict[str, Any]:
    """Replace a file and re-commit the head to it: the attacker rewrites the head's
    SHA-256 and ``record_digest`` too, so only the content checks can catch the change."""
    path = tmp_path / head[field]["path"]
    pq.write_table(table, path)
    head = {**head, field: {**head[field], "sha256": file_digest(path)}}
    head["record_digest"] = record_digest(head)
    return head


def _excluded_messages(tmp_path: Path, head: dict[str, Any], table: pa.Table) -> list[str]:
    report = verify_columnar(_recommit(tmp_path, head, "excluded_file", table), tmp_path)
    assert {p.field for p in report.problems} == {"excluded_file"}, report
    return [p.message for p in report.problems]


@pytest.fixture
def columnar_head(tmp_path: Path, small_batches: None) -> dict[str, Any]:
    head = read_head(write_columnar(json_bundle(), tmp_path, "d"))
    assert verify_columnar(head, tmp_path).ok
    return head


def _excluded(tmp_path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(tmp_path / "d.excluded.parquet").to_pylist()
    return rows


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(
        rows, pa.schema([("reason", pa.string()), ("id", pa.string()), ("fact", pa.string())])
    )


def test_an_excluded_file_with_a_changed_reason_names_the_row_and_the_counts(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    assert rows[150]["id"] in DEREGISTERED  # rows alternate: even numbers were deregistered
    rows[150]["reason"] = "注销"
    assert _excluded_messages(tmp_path, columnar_head, _table(rows)) == [
        "d.excluded.parquet row 150: reason '注销' is not an exclusion reason of SSJ-DRAW-1 "
        "(deregistered_or_revoked, inspected_within_window, registered_after_cutoff)",
        "d.excluded.parquet has 199 rows with reason 'deregistered_or_revoked', the head's "
        "exclusions count 200",
    ]
    # A head that counts the unknown reason too: the rows agree, the reason is still refused.
    head = {
        **columnar_head,
        "exclusions": [
            {"reason": "deregistered_or_revoked", "count": 199},
            {"reason": "registered_after_cutoff", "count": 200},
            {"reason": "注销", "count": 2},
        ],
    }
    messages = _excluded_messages(tmp_path, head, _table(rows))
    assert messages[0].startswith("d.excluded.parquet row 150: reason '注销' is not an exclusion")
    assert messages[1:] == [
        "d.excluded.parquet has 1 rows with reason '注销', the head's exclusions count 2"
    ]


def test_a_known_reason_moved_to_another_entity_fails_on_the_counts(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    rows[150]["reason"] = "registered_after_cutoff"
    assert _excluded_messages(tmp_path, columnar_head, _table(rows)) == [
        "d.excluded.parquet row 150: the fact of '900000150X' must have exactly "
        "['registered'], got {'status': '注销'}",
        "d.excluded.parquet has 199 rows with reason 'deregistered_or_revoked', the head's "
        "exclusions count 200",
        "d.excluded.parquet has 201 rows with reason 'registered_after_cutoff', the head's "
        "exclusions count 200",
    ]


def test_a_repeated_or_unsorted_excluded_id_is_named_across_batches(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    # Row 97 is the first row of the second batch: it repeats the last ID of the first.
    repeated = [*rows[:97], {**rows[97], "id": rows[96]["id"]}, *rows[98:]]
    assert _excluded_messages(tmp_path, columnar_head, _table(repeated)) == [
        f"d.excluded.parquet row 97: ID {rows[96]['id']!r} is not greater than the ID before "
        "it: rows must be in strictly increasing utf8(id) order, so that no entity is "
        "excluded twice"
    ]
    swapped = [*rows[:10], rows[11], rows[10], *rows[12:200], rows[300], *rows[201:]]
    assert _excluded_messages(tmp_path, columnar_head, _table(swapped)) == [
        f"d.excluded.parquet row 11: ID {rows[10]['id']!r} is not greater than the ID before "
        "it: rows must be in strictly increasing utf8(id) order, so that no entity is "
        "excluded twice (2 rows have this fault)"
    ]


def test_an_excluded_file_with_a_row_left_out_fails_on_the_rows_and_the_counts(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    assert rows[0]["id"] in DEREGISTERED
    assert _excluded_messages(tmp_path, columnar_head, _table(rows[1:])) == [
        "d.excluded.parquet has 399 rows, the head records 400",
        "d.excluded.parquet has 199 rows with reason 'deregistered_or_revoked', the head's "
        "exclusions count 200",
    ]


def test_a_head_whose_counts_were_lowered_with_the_file_still_verifies_the_content(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    """A consistent forgery (an entity dropped, the count and rows lowered with it) passes
    every check of the files: only the anchored record_digest or the registry shows it."""
    rows = _excluded(tmp_path)
    head = {
        **columnar_head,
        "excluded_file": {**columnar_head["excluded_file"], "rows": 399},
        "exclusions": [
            {"reason": "deregistered_or_revoked", "count": 199},
            {"reason": "registered_after_cutoff", "count": 200},
        ],
    }
    forged = _recommit(tmp_path, head, "excluded_file", _table(rows[1:]))
    assert verify_columnar(forged, tmp_path).ok
    assert forged["record_digest"] != columnar_head["record_digest"]


def test_null_empty_or_control_character_ids_are_named(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    rows[3]["id"] = None
    rows[0]["id"] = ""
    rows[250]["id"] = rows[250]["id"] + "\n"
    rows[300]["id"] = rows[300]["id"] + "\x00" * 10_000
    rows[399]["reason"] = None
    messages = _excluded_messages(tmp_path, columnar_head, _table(rows))
    assert messages[:2] == [
        "d.excluded.parquet row 3: the reason or the ID is null (2 rows have this fault)",
        "d.excluded.parquet row 0: ID '' is empty or contains a control character "
        "(3 rows have this fault)",
    ]
    # A forged value of any length is quoted short.
    rows[0]["id"] = "90" + "\x00" * 10_000
    long = _excluded_messages(tmp_path, columnar_head, _table(rows))[1]
    assert long.startswith("d.excluded.parquet row 0: ID '90\\x00") and len(long) < 250


def test_an_excluded_file_of_another_schema_is_refused_before_its_rows(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    renamed = pa.Table.from_pylist([{"why": r["reason"], "id": r["id"]} for r in rows])
    assert _excluded_messages(tmp_path, columnar_head, renamed) == [
        "d.excluded.parquet has the columns ['why', 'id'], section 14 specifies "
        "['reason', 'id', 'fact']"
    ]
    typed = _table(rows).set_column(2, "fact", pa.array([1] * len(rows), pa.int64()))
    assert _excluded_messages(tmp_path, columnar_head, typed) == [
        "d.excluded.parquet: columns ['fact (int64)'] must be UTF-8 strings"
    ]


def test_an_id_both_excluded_and_a_candidate_is_named_with_both_rows(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    # Every excluded ID (90…) sorts before every candidate (91…): the last rows can take
    # candidate IDs and stay in order; reasons, counts and facts are unchanged.
    rows[398]["id"], rows[399]["id"] = IDS[5], IDS[2_000]
    assert _excluded_messages(tmp_path, columnar_head, _table(rows)) == [
        f"d.excluded.parquet row 398: ID {IDS[5]!r} is excluded (deregistered_or_revoked) "
        "and a candidate too (row 5 of d.candidates.parquet) (2 rows have this fault)"
    ]


def test_the_merge_walk_finds_a_shared_id_among_interleaved_files(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    """Excluded IDs that fall between candidates all along the file, across many batches of
    both files: the one ID that is a candidate too is found, and no other."""
    rows = _excluded(tmp_path)
    # IDS[k] + "0" sorts right after IDS[k] and before IDS[k + 1].
    between = [IDS[7 * k] + "0" for k in range(400)]
    between[333] = IDS[7 * 333]
    for row, ident in zip(rows, between, strict=True):
        row["id"] = ident
    assert _excluded_messages(tmp_path, columnar_head, _table(rows)) == [
        f"d.excluded.parquet row 333: ID {IDS[2_331]!r} is excluded (registered_after_cutoff) "
        "and a candidate too (row 2331 of d.candidates.parquet)"
    ]


def test_a_fact_with_the_wrong_keys_or_an_early_registration_is_named(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    assert (rows[10]["reason"], rows[11]["reason"]) == (
        "deregistered_or_revoked",
        "registered_after_cutoff",
    )
    rows[10]["fact"] = '{"status":"注销","task":"T1"}'
    rows[11]["fact"] = '{"registered":"2026-06-01"}'
    rows[13]["fact"] = '{"registered":"2026-06-15"}'  # on the cut-off is not after it
    rows[20]["fact"] = "注销"  # not JSON at all
    rows[250]["fact"] = '{"registered":"2026-07-01"}'  # in the third batch of 97 rows
    assert _excluded_messages(tmp_path, columnar_head, _table(rows)) == [
        "d.excluded.parquet row 10: the fact of '900000010X' must have exactly ['status'], "
        "got {'status': '注销', 'task': 'T1'} (3 rows have this fault)",
        "d.excluded.parquet row 11: the fact of '900000011X' registered 2026-06-01, not after "
        "the cut-off 2026-06-15 (2 rows have this fault)",
    ]


def test_a_fact_left_out_of_some_rows_of_a_reason_is_named(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    for k in (21, 23):
        rows[k]["fact"] = None
    assert _excluded_messages(tmp_path, columnar_head, _table(rows)) == [
        "d.excluded.parquet row 21: no fact for reason 'registered_after_cutoff', which has "
        "a fact on 198 other rows: record one on every row or on none (2 rows have this fault)"
    ]
    # A bundle frozen before facts were recorded has none on any row: nothing to check.
    bare = [{**r, "fact": None} for r in rows]
    head = _recommit(tmp_path, columnar_head, "excluded_file", _table(bare))
    assert verify_columnar(head, tmp_path).ok


def test_a_tampered_excluded_file_is_not_read_when_its_digest_differs(
    tmp_path: Path, columnar_head: dict[str, Any]
) -> None:
    rows = _excluded(tmp_path)
    pq.write_table(_table(rows[1:]), tmp_path / "d.excluded.parquet")
    report = verify_columnar(columnar_head, tmp_path)
    assert [p.field for p in report.problems] == ["excluded_file"]
    assert "has SHA-256" in report.problems[0].message


# -- the picks file: selected and alternates out of a large head -----------------------------


def test_a_small_bundle_keeps_its_picks_in_the_head(tmp_path: Path) -> None:
    head = read_head(write_columnar(json_bundle(), tmp_path, "d"))
    assert "picks_file" not in head and len(head["selected"]) == 31
    assert not (tmp_path / "d.picks.parquet").exists()


def test_picks_above_the_threshold_move_to_a_parquet_file_that_verify_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columnar, "BATCH_ROWS", 10)  # 37 picks: four batches
    bundle = json_bundle()
    head_path = write_columnar(bundle, tmp_path, "d", picks_threshold=36)
    head = read_head(head_path)
    assert "selected" not in head and "alternates" not in head
    assert head["picks_file"] == {
        "path": "d.picks.parquet",
        "sha256": file_digest(tmp_path / "d.picks.parquet"),
        "rows": 37,
    }
    rows = pq.read_table(tmp_path / "d.picks.parquet").to_pylist()
    assert rows == [{"list": "selected", **p} for p in bundle["selected"]] + [
        {"list": "alternates", **p} for p in bundle["alternates"]
    ]
    assert verify_columnar(head, tmp_path).ok
    result = _verify_cli(head_path)
    assert result.exit_code == 0, result.output
    text = CliRunner().invoke(main, ["verify", str(head_path)])
    assert "re-derives exactly)：抽中 31 户 (selected)" in text.output, text.output
    # At the threshold itself the picks stay in the head.
    (tmp_path / "at").mkdir()
    at = read_head(write_columnar(bundle, tmp_path / "at", "d", picks_threshold=37))
    assert "picks_file" not in at and at["selected"] == bundle["selected"]


@pytest.fixture
def picks_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(columnar, "BATCH_ROWS", 10)
    head = read_head(write_columnar(json_bundle(), tmp_path, "d", picks_threshold=0))
    assert verify_columnar(head, tmp_path).ok
    return head


def _picks(tmp_path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(tmp_path / "d.picks.parquet").to_pylist()
    return rows


def _picks_messages(tmp_path: Path, head: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    forged = _recommit(tmp_path, head, "picks_file", pa.Table.from_pylist(rows))
    report = verify_columnar(forged, tmp_path)
    assert {p.field for p in report.problems} == {"picks_file"}, report
    return [p.message for p in report.problems]


def test_a_recommitted_picks_file_names_the_first_row_that_differs(
    tmp_path: Path, picks_head: dict[str, Any]
) -> None:
    rows = _picks(tmp_path)
    # Two alternates swapped: row 32 and 33 (alternates start at row 31), in the fourth batch.
    swapped = [*rows[:32], rows[33], rows[32], *rows[34:]]
    assert _picks_messages(tmp_path, picks_head, swapped) == [
        f"d.picks.parquet row 32: recorded {rows[33]}, re-derived {rows[32]}"
    ]
    # A selected entity relabelled as an alternate.
    relabelled = [{**rows[0], "list": "alternates"}, *rows[1:]]
    assert _picks_messages(tmp_path, picks_head, relabelled) == [
        f"d.picks.parquet row 0: recorded {relabelled[0]}, re-derived {rows[0]}"
    ]


def test_a_picks_file_with_a_row_left_out_fails_on_its_rows(
    tmp_path: Path, picks_head: dict[str, Any]
) -> None:
    rows = _picks(tmp_path)
    assert _picks_messages(tmp_path, picks_head, rows[:-1]) == [
        "d.picks.parquet has 36 rows, the head records 37",
        "d.picks.parquet has 36 picks, the draw re-derives 31 selected and 6 alternates",
    ]


def test_a_head_with_a_picks_file_and_its_own_picks_is_refused(
    tmp_path: Path, picks_head: dict[str, Any]
) -> None:
    rows = _picks(tmp_path)
    selected = [{k: r[k] for k in ("id", "stratum", "ticket")} for r in rows[:31]]
    head = {**picks_head, "selected": selected}
    head["record_digest"] = record_digest(head)
    report = verify_columnar(head, tmp_path)
    assert [str(p) for p in report.problems] == [
        "picks_file: the head lists selected or alternates as well: they belong in one place"
    ]
