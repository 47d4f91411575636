"""Tests for the printable HTML draw record (抽取记录).

The page is checked as text (content, escaping, self-containment, print CSS) and, when
Chromium is installed (``.ci/run`` installs it with ``fonts-noto-cjk``), rendered headless to
``test-artifacts/draw-record.png`` (screen) and ``test-artifacts/draw-record.pdf`` (print).
"""

from __future__ import annotations

import hashlib
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chromium import ARTIFACTS, needs_chromium, png_size, run, screenshot
from htmlpage import parse
from shuangsuiji.audit import canonical_json, next_event
from shuangsuiji.labels import stratum_label
from shuangsuiji.report import ReportInputError, render_draw_record

EVIL = "<script>alert(\"x\")</script> & 'q'"


def sample_bundle() -> tuple[dict[str, Any], dict[str, Any]]:
    """A realistic bundle (SSJ-DRAW-1 tickets from hashlib) and the record's extras."""
    label = "SJ-2025-031"
    seed = hashlib.sha256(b"sample seed").hexdigest()
    key = hashlib.sha256(b"SSJ-DRAW-1\x00" + label.encode() + b"\x00" + bytes.fromhex(seed))
    candidates = [
        {"id": f"9135010{j:04d}MA2Y{j % 10}X", "stratum": "ABCD"[j % 4] if j % 7 else "D"}
        for j in range(400)
    ]
    rules = {"A": 0.03, "B": 0.05, "C": 0.2, "D": 0.1}
    selected: list[dict[str, str]] = []
    alternates: list[dict[str, str]] = []
    strata = {}
    for stratum, ratio in rules.items():
        members = [c["id"] for c in candidates if c["stratum"] == stratum]
        tickets = {i: hashlib.sha256(key.digest() + i.encode()).hexdigest() for i in members}
        ranked = sorted(members, key=lambda i: int(tickets[i], 16))
        n = math.ceil(ratio * len(members))
        selected += [{"id": i, "stratum": stratum, "ticket": tickets[i]} for i in ranked[:n]]
        alternates += [
            {"id": i, "stratum": stratum, "ticket": tickets[i]} for i in ranked[n : n + 2]
        ]
        rule = {"ratio": str(ratio), "count": None, "minimum": 1, "maximum": None, "alternates": 2}
        strata[stratum] = {"size": len(members), "sample": n, "alternates": 2, "rule": rule}
    teams = [
        {"entity": p["id"], "inspectors": [f"ZF{k * 7 % 50:04d}", f"ZF{(k * 11 + 3) % 50:04d}"]}
        for k, p in enumerate(selected)
    ]
    bundle = {
        "spec": "SSJ-DRAW-1",
        "ticket_scheme": "ssj-draw-1",
        "task_label": label,
        "seed": seed,
        "pool_digest": hashlib.sha256(b"pool").hexdigest(),
        "candidates": candidates,
        "strata": strata,
        "selected": selected,
        "alternates": alternates,
        "teams": teams,
        "policy_hash": hashlib.sha256(b"policy").hexdigest(),
        "library_version": "0.1.0",
    }
    kinds = ["福州市某某贸易有限公司", "福州市某某餐饮有限公司", "福州市某某科技有限公司"]
    names = {p["id"]: kinds[k % 3] for k, p in enumerate(selected + alternates)}
    names.update(
        {f"ZF{k:04d}": "张王李赵刘陈杨黄"[k % 8] + "执法" + "一二三四五"[k % 5] for k in range(50)}
    )
    names[selected[0]["id"]] = EVIL
    replaced, by = (
        selected[2],
        next(a for a in alternates if a["stratum"] == selected[2]["stratum"]),
    )
    steps = [
        ("张三", "task.create", {"task": label, "name": "2025年第一季度食品经营者双随机抽查"}),
        ("张三", "policy.version", {"policy_hash": bundle["policy_hash"], "version": "2025-1"}),
        ("张三", "candidates.freeze", {"pool_digest": bundle["pool_digest"], "candidates": 400}),
        ("福州市市场监管局", "seed.commit", {"party": "福州市市场监管局"}),
        ("驻局纪检监察组", "seed.commit", {"party": "驻局纪检监察组"}),
        ("李四", "seed.reveal", {"seed": seed}),
        ("李四", "draw", {"selected": len(selected), "alternates": len(alternates)}),
        ("李四", "replacement", {"replaced": replaced["id"], "by": by["id"], "note": EVIL}),
        (EVIL, "teams.assign", {"teams": len(teams)}),
    ]
    events = []
    prev = None
    for minute, (actor, kind, payload) in enumerate(steps):
        time = f"2025-03-03T01:{minute * 5:02d}:00Z"
        prev = next_event(prev, time=time, actor=actor, kind=kind, payload=payload)
        events.append(prev.to_dict())
    assert prev is not None
    at = "2025-03-03T01:{:02d}:00+00:00".format
    provenance = {
        "kind": "ceremony",
        "spec": "SSJ-SEED-1",
        "task_label": label,
        "pool_digest": bundle["pool_digest"],
        "frozen_at": at(0),
        "commitments": [
            {"party": "福州市市场监管局", "commitment": "c1" * 32, "at": at(5)},
            {"party": "驻局纪检监察组", "commitment": "c2" * 32, "at": at(6)},
        ],
        "reveals": [
            {"party": "福州市市场监管局", "contribution": "11" * 16, "at": at(20)},
            {"party": "驻局纪检监察组", "contribution": "22" * 16, "at": at(21)},
        ],
    }
    extras = {
        "task": {
            "code": label,
            "name": "2025年第一季度食品经营者双随机抽查",
            "plan": "2025年度抽查工作计划",
            "departments": ["市场监管", "卫生健康"],
            "items": ["食品经营许可情况检查", "食品安全管理制度检查"],
            "start": "2025-03-10",
            "end": "2025-04-30",
        },
        "seed_provenance": provenance,
        "events": events,
        "audit_head": {"seq": prev.seq, "hash": prev.hash},
        "replacements": [
            {
                "replaced": replaced["id"],
                "by": by["id"],
                "stratum": replaced["stratum"],
                "reason": "deregistered_before_draw",
                "note": EVIL,
            }
        ],
        "names": names,
    }
    return bundle, extras


BUNDLE, EXTRAS = sample_bundle()
PAGE = render_draw_record(
    BUNDLE, extras=EXTRAS, printed_at="2025-03-03T02:00:00Z", agency="福州市市场监督管理局"
)


def test_page_is_well_formed_and_self_contained() -> None:
    doc = parse(PAGE)
    assert doc.errors == [] and doc.stack == []
    assert PAGE.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in PAGE
    assert doc.tags <= {
        "html", "head", "meta", "title", "style", "body", "div", "header", "h1", "h2", "span",
        "section", "table", "thead", "tbody", "tr", "th", "td", "code", "small", "br", "p",
        "footer",
    }  # fmt: skip
    for external in ("http://", "https://", "src=", "<link", "@import", "url(", "<script"):
        assert external not in PAGE


def test_every_value_is_escaped() -> None:
    text = "".join(parse(PAGE).text)
    assert text.count(EVIL) >= 4  # name (twice: selected), event actor, replacement note
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in PAGE
    hostile = {**BUNDLE, "task_label": '"><img onerror=x>', "library_version": EVIL}
    page = render_draw_record(hostile, extras={"names": {'"><b': EVIL}})
    doc = parse(page)
    assert doc.errors == [] and "img" not in doc.tags and "<script" not in page
    assert all(name in {"class", "title", "lang", "charset", "name", "content", "colspan"}
               for name, _ in doc.attrs)  # fmt: skip
    assert '"><img onerror=x>' in "".join(doc.text)


def test_content_of_the_record() -> None:
    text = "".join(parse(PAGE).text)
    for zh, en in [
        ("任务信息", "Task"),
        ("抽取依据", "Basis of the draw"),
        ("种子来源", "Seed provenance"),
        ("分层情况", "Strata"),
        ("抽中对象及检查组", "Selected entities and their teams"),
        ("备选对象", "Alternates"),
        ("替补记录", "Replacements"),
        ("过程记录", "Time line"),
        ("签字确认", "Signatures"),
        ("抽取人", "Drawn by"),
        ("监督人", "Supervised by"),
        ("记录人", "Recorded by"),
    ]:
        assert zh in text and en not in text
    bilingual = "".join(parse(render_draw_record(BUNDLE, extras=EXTRAS, bilingual=True)).text)
    assert all(en in bilingual for en in ("Basis of the draw", "Signatures", "Drawn by"))
    for value in (BUNDLE["policy_hash"], BUNDLE["pool_digest"], BUNDLE["seed"]):
        assert value in text
    body = {k: v for k, v in BUNDLE.items() if k != "candidates"}
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    assert digest in text  # binds the paper to the electronic bundle (record digest)
    assert "不符" not in text and "排除对象" in text
    assert EXTRAS["audit_head"]["hash"] in text and "seq 9" in text
    for pick in BUNDLE["selected"] + BUNDLE["alternates"]:
        assert pick["id"] in text and pick["ticket"][:12] in text
    assert "张执法一（ZF0000）" in text  # team members with names
    assert "抽取前已注销" in text and "已递补" in text and "已由" in text
    assert "2025-03-03 09:00:00" in text  # UTC 01:00 shown as Beijing time
    assert "福州市市场监管局" in text and "c1c1c1c1" in text  # the ceremony's parties
    assert "食品经营许可情况检查、食品安全管理制度检查" in text
    assert "2025-03-10 至 2025-04-30" in text
    assert "比例 0.2" in text and "候选 400" in text


def test_the_record_speaks_chinese_not_machine_codes() -> None:
    text = "".join(parse(PAGE.split("</style>", 1)[1]).text)  # the page without its CSS
    assert "A类（信用风险低）" in text and "D类（信用风险高）" in text  # strata, not "A"
    for code in ("deregistered_before_draw", "teams.assign", "seed.commit", "{\"", "ratio",
                 "Printed", "Signature", "none"):  # fmt: skip
        assert code not in text, code
    assert "分配检查组" in text and "检查组数：" in text  # event kinds and payloads in words


def test_print_css() -> None:
    for rule in ("@page", "size: A4", "page-break-inside: avoid", "display: table-header-group",
                 "@media print", "counter(page)"):  # fmt: skip
        assert rule in PAGE


def test_minimal_contract_bundle_renders_with_placeholders() -> None:
    minimal = {
        key: BUNDLE[key]
        for key in ("spec", "task_label", "seed", "pool_digest", "candidates", "selected")
    }
    page = render_draw_record(minimal)
    text = "".join(parse(page).text)
    assert "未附过程记录" in text and "替补记录" not in text and "种子来源" not in text
    sizes = {s: v["size"] for s, v in BUNDLE["strata"].items()}
    for stratum, size in sizes.items():  # strata derived from the candidates
        assert f"{stratum_label(stratum)}{size}" in text.replace(" ", "")


def test_strata_as_a_list_and_other_provenance_kinds() -> None:
    as_list = [{"stratum": k, **v} for k, v in BUNDLE["strata"].items()]
    public = {
        "kind": "public",
        "spec": "SSJ-SEED-1",
        "frozen_at": "2025-03-01T00:00:00+00:00",
        "announced_at": "2025-03-01T01:00:00+00:00",
        "sources": [{"label": "体彩大乐透", "reference": "第25023期", "expected": "2025-03-03"}],
        "announcement_digest": "ad" * 32,
        "values": ["03 11 17 25 31 + 04 09"],
        "revealed_at": "2025-03-03T13:30:00+00:00",
    }
    text = "".join(
        parse(
            render_draw_record({**BUNDLE, "strata": as_list}, extras={"seed_provenance": public})
        ).text
    )
    assert "体彩大乐透" in text and "03 11 17 25 31 + 04 09" in text and "ad" * 32 in text
    assert "比例 0.03" in text
    generic = {"commitment": "ee" * 32, "committed_at": "2025-03-01T00:00:00Z"}
    text = "".join(parse(render_draw_record(BUNDLE, extras={"seed_provenance": generic})).text)
    assert "ee" * 32 in text and "2025-03-01 08:00:00" in text


def test_a_changed_bundle_shows_a_digest_mismatch() -> None:
    stated = {**BUNDLE, "record_digest": "00" * 32}
    text = "".join(parse(render_draw_record(stated)).text)
    assert "与电子记录所载摘要不符" in text and "00" * 32 in text


def test_renders_a_bundle_made_by_the_library() -> None:
    from shuangsuiji.bundle import make_bundle
    from shuangsuiji.draw import ReplacementReason, SizeRule, draw_entities

    ids = [c["id"] for c in BUNDLE["candidates"]]
    strata = [c["stratum"] for c in BUNDLE["candidates"]]
    drawn = draw_entities(
        ids, strata, SizeRule(ratio="0.05", minimum=1, alternates=2), task_label="SJ-1",
        seed=bytes(range(32)),
    )  # fmt: skip
    first = drawn.selected[0].id
    drawn = drawn.replace(first, ReplacementReason.DEREGISTERED_BEFORE_DRAW)
    teams = [{"entity": p.id, "inspectors": ["ZF0001", "ZF0002"]} for p in drawn.active]
    bundle = make_bundle(
        drawn, ids, strata, teams=teams, policy_hash="ef" * 32, exclusions={"注销": 12}
    )
    text = "".join(parse(render_draw_record(bundle)).text)
    assert bundle["record_digest"] in text and "不符" not in text
    assert "注销 12" in text and "抽取前已注销" in text and "已由" in text
    for pick in bundle["selected"]:
        assert pick["id"] in text


def test_bad_input() -> None:
    with pytest.raises(ReportInputError, match="not JSON data"):
        render_draw_record({**BUNDLE, "seed": float("nan")})
    with pytest.raises(ReportInputError, match="unknown extras"):
        render_draw_record(BUNDLE, extras={"signature": "x"})
    with pytest.raises(ReportInputError, match="must be a mapping"):
        render_draw_record([BUNDLE])  # type: ignore[arg-type]


@needs_chromium
def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    assert fonts.strip(), "no Chinese font: apt-get install -y fonts-noto-cjk (else boxes)"
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "draw-record.html"
    page.write_text(PAGE, encoding="utf-8")
    png, pdf = ARTIFACTS / "draw-record.png", ARTIFACTS / "draw-record.pdf"
    pdf.unlink(missing_ok=True)
    screenshot(page, png, profile=tmp_path / "profile")
    assert png_size(png) == (1240, 1754)
    assert png.stat().st_size > 50_000  # a blank page compresses to a few kB
    run(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri(), profile=tmp_path / "pdf")
    data = pdf.read_bytes()
    pages = [int(n) for n in re.findall(rb"/Count (\d+)", data)]
    assert data.startswith(b"%PDF") and pages and 3 <= max(pages) <= 8  # A4 pages
    assert len(data) > 50_000
