"""The library's refusals in the command line's own terms.

The library speaks to programmers ("freeze() first", "pass encoding='gb18030'"); a person at
a terminal needs the command and the option that fix it. :func:`in_cli_terms` rewrites each
Python hint the library gives into the command to run, in Chinese with the English term, and
leaves every other word of the message (what was wrong, where) as the library wrote it.
"""

from __future__ import annotations

import re

# (library hint, the same hint at the command line); the patterns are matched in order.
HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"freeze\(\) first", "先冻结候选名单：`shuangsuiji seed freeze TASK` (freeze)"),
        (
            r"pass encoding='([\w-]+)'",
            r"加选项 `--encoding \1` 再导入 (pass --encoding \1)",
        ),
        (
            r"Use mode='upsert' to replace stored rows\.",
            "要替换已存的记录，加选项 `--upsert` 再导入 (upsert)。",
        ),
        (
            r"\(see correct\(\)\)",
            "(更正用 `shuangsuiji results record … --reason` (correct))",
        ),
        (
            r"\(Store\.save_policy or a policy\.toml\)",
            "(`shuangsuiji policy set policy.toml`)",
        ),
        (
            r"\(use shuangsuiji\.seeds\.random_seed\(\)\)",
            "(用 `shuangsuiji seed contribute` 生成 (random seed))",
        ),
        (
            r"change the team with reassign\(\)",
            "用 `shuangsuiji teams reassign` 调整检查组 (reassign)",
        ),
        (r"\(reason=\.\.\.\)", "(加选项 `--reason`)"),
        (
            r"with calendar\.with_notice\('([^']+)'\)",
            r"with `--notice \1` (载入该年的国务院放假通知, with_notice)",
        ),
        (r"pass estimate=True", "加选项 `--estimate` (estimate)"),
    )
)


def in_cli_terms(message: str) -> str:
    """``message`` with each Python hint replaced by the command that does it.

    >>> in_cli_terms("task T1: freeze() first")
    'task T1: 先冻结候选名单：`shuangsuiji seed freeze TASK` (freeze)'
    >>> in_cli_terms("re-save it as 'CSV UTF-8' or pass encoding='gb18030'.")
    "re-save it as 'CSV UTF-8' or 加选项 `--encoding gb18030` 再导入 (pass --encoding gb18030)."
    """
    for pattern, replacement in HINTS:
        message = pattern.sub(replacement, message)
    return message
