"""List the functions of ``src/`` longer than a limit (default 80 lines), longest first.

    python scripts/long_functions.py                # every function over 80 lines
    python scripts/long_functions.py --limit 40     # another limit
    python scripts/long_functions.py --modules 1000 # also every module over 1,000 lines

A function's length runs from its ``def`` (decorators not counted) to its last line,
docstring included; nested functions count inside their parent and are listed too.
Exits 0 whatever it finds: it measures, it does not judge.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"


def long_functions(root: Path, limit: int) -> list[tuple[int, str, str]]:
    """``(lines, file, qualified name)`` of every function over ``limit`` lines."""
    found: list[tuple[int, str, str]] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        _visit(tree, [], path.relative_to(root.parent).as_posix(), limit, found)
    return sorted(found, key=lambda f: (-f[0], f[1], f[2]))


def _visit(
    node: ast.AST, scope: list[str], file: str, limit: int, found: list[tuple[int, str, str]]
) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (child.end_lineno or child.lineno) - child.lineno + 1
            if lines > limit:
                found.append((lines, file, ".".join([*scope, child.name])))
            _visit(child, [*scope, child.name], file, limit, found)
        elif isinstance(child, ast.ClassDef):
            _visit(child, [*scope, child.name], file, limit, found)
        else:
            _visit(child, scope, file, limit, found)


def long_modules(root: Path, limit: int) -> list[tuple[int, str]]:
    """``(lines, file)`` of every module over ``limit`` lines."""
    sizes = [
        (len(p.read_text(encoding="utf-8").splitlines()), p.relative_to(root.parent).as_posix())
        for p in sorted(root.rglob("*.py"))
    ]
    return sorted((s for s in sizes if s[0] > limit), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=80, help="function lines (default 80)")
    parser.add_argument("--modules", type=int, default=None, help="also modules over N lines")
    args = parser.parse_args()
    functions = long_functions(ROOT, args.limit)
    print(f"{len(functions)} function(s) over {args.limit} lines")
    for lines, file, name in functions:
        print(f"{lines:5d}  {file}:{name}")
    if args.modules is not None:
        modules = long_modules(ROOT, args.modules)
        print(f"{len(modules)} module(s) over {args.modules} lines")
        for lines, file in modules:
            print(f"{lines:5d}  {file}")


if __name__ == "__main__":
    main()
