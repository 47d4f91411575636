"""The tutorial (docs/tutorial.md) runs as written: its ```` ```{.bash .tutorial} ```` blocks,
in order, as one bash script in an empty folder on SQLite; every step must exit 0 and the final
``verify`` and ``verify-log`` must pass."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```\{\.bash \.(tutorial|tutorial-later)\}\n(.*?)^```$", re.S | re.M)
# `tutorial-later` blocks happen days later (public values entered once their date has come):
# they run with a `shuangsuiji` whose store clock is LATER_DAYS ahead, as tests/test_cli.py does.
LATER_DAYS = 4
LATER_SHIM = """import sys
from datetime import datetime, timedelta

import shuangsuiji.store


class _Later(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(days=%d)


shuangsuiji.store.datetime = _Later
from shuangsuiji.cli import main

sys.exit(main())
"""

# Parts of the success messages quoted in the tutorial's output blocks (no year, no digest: a
# run's task codes and digests differ from the quoted run's).
QUOTED = (
    "数据库已就绪 store ready: sqlite:///shuangsuiji.db（结构版本 schema revision ",
    "已导入 imported: 24 户检查对象 (entities)，名录摘要 digest cf8cad7fda48ccc0…",
    "已导入 imported: 8 名执法检查人员 (inspectors)",
    "已保存 stored: 实施细则 policy（内容哈希 content hash ",
    "已提交承诺 committed: 信用监管科 → T",
    "的检查组种子 team seed\n",
    "已揭示 revealed: 纪检监察组 → T",
    "已生成抽取前公告 pre-draw announcement: T",
    "第 1 次 (attempt 1)，抽中 14 户 (selected)，种子 seed ",
    "已更换 replaced: ",
    "（not_found_at_address 通过登记的住所无法联系）",
    "已冻结人员配备 staffing frozen: T",
    "已录入 recorded: 14 条检查结果 (results)",
    "已写入 wrote: publications.csv, publications.json, publication.html, "
    "publication-internal.html（目录 in 公示）",
    "（期限 due ",
    "可完全重新推导 (re-derives exactly)：抽中 14 户 (selected)，任务 task T",
    "审计日志完整，记录一致 (audit log intact and the records agree)：",
    "：52 条事件 (events)，链头 head ",
    "检查对象抽查健康度 draw health of entities：1 次抽取 (draws)，24 个单位 (units)，α 0.01：",
    "  逐个单位检验 units：统计量 ",
    "  分布检验 spread：统计量 ",
    "  签号检验 tickets：统计量 ",
    "抽取过程 conduct of the draws：0 项待复核 (to review)",
)


def tutorial_steps() -> list[tuple[str, str]]:
    """(kind, text) of every executed block, in order."""
    return BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))


def tutorial_blocks() -> list[str]:
    return [text for _, text in tutorial_steps()]


def test_the_tutorial_has_its_steps() -> None:
    script = "\n".join(tutorial_blocks())
    for command in (
        "import entities",
        "import inspectors",
        "import conflicts",
        "items import",
        "policy set",
        "seed freeze",
        "seed contribute",
        "seed commit",
        "seed announce",
        "seed reveal",
        "seed select",
        "replace",
        "teams freeze",
        "teams draw",
        "results import",
        "publish",
        "export publications",
        "verify bundle",
        "verify-log",
        "health",
        "seed public",
        "seed values",
    ):
        assert f"shuangsuiji {command}" in script, command


@pytest.mark.skipif(shutil.which("bash") is None, reason="the tutorial is a bash script")
def test_the_tutorial_runs(tmp_path: Path) -> None:
    steps = tutorial_steps()
    later = tmp_path.parent / f"{tmp_path.name}-later-bin"
    later.mkdir()
    shim = later / "shuangsuiji"
    shim.write_text(f"#!{sys.executable}\n" + LATER_SHIM % LATER_DAYS, encoding="utf-8")
    shim.chmod(0o755)
    script = ["set -euo pipefail"]
    for n, (kind, block) in enumerate(steps, 1):
        if kind == "tutorial-later":
            script.append(f'export PATH={str(later)!r}:"$PATH"')
        script += [f"echo '::step {n}'", block]
    script.append("echo '::done'")
    env = dict(os.environ)
    # the `shuangsuiji` of the Python running the tests, and the same python3
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["COLUMNS"] = "100"
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    reached = re.findall(r"^::step (\d+)$", done.stdout, re.M)
    failed_at = reached[-1] if reached else "before the first step"
    assert done.returncode == 0, (
        f"tutorial step {failed_at} of {len(steps)} failed:\n{done.stdout[-3000:]}\n{done.stderr}"
    )
    assert done.stdout.rstrip().endswith("::done")
    # `health` may exit 1 (a statistical alarm is "review", and a fair draw raises one with
    # probability alpha); it must still have run and reported, without a crash.
    assert "draw health of entities：" in done.stdout and "Traceback" not in done.stderr
    # the messages the tutorial's ```text blocks quote are the ones the commands print now
    quoted = TUTORIAL.read_text(encoding="utf-8")
    for message in QUOTED:
        assert message in quoted and message in done.stdout, message
    assert (tmp_path / "shuangsuiji.db").exists()
    assert list((tmp_path / "公示").glob("publication.html"))
    # the last verify and verify-log, again, as JSON
    assert [kind for kind, _ in steps].count("tutorial-later") == 1
    assert list(tmp_path.glob("bundle-T*-SP.json")), "the public-value draw made no bundle"
    for command in (
        ["verify", next(tmp_path.glob("bundle-T*-GS.json")).name, "--json"],
        ["verify", next(tmp_path.glob("bundle-T*-SP.json")).name, "--json"],
        ["verify-log", "--json"],
    ):
        check = subprocess.run(
            ["shuangsuiji", *command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
