"""``python -m shuangsuiji.server [FILE]``: write the service's OpenAPI schema (the committed
copy is ``docs/openapi.json``; a test checks it is current)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shuangsuiji.server import openapi_schema


def main(argv: list[str]) -> None:
    text = json.dumps(openapi_schema(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
