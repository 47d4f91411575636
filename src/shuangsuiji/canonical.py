"""Canonical JSON: the one byte string the audit trail hashes and exports, and that bundles,
commitments and announcements are hashed over (:mod:`shuangsuiji.audit` gives the chain).

**The rule** (:func:`canonical_json`):

- values are JSON objects (``dict`` with ``str`` keys), arrays (``list`` or ``tuple``),
  strings, integers with ``|n| <= 2**53 - 1`` (the I-JSON range every language can hold),
  finite floats, ``true``, ``false`` and ``null``; anything else (NaN, infinity, bytes, dates,
  numpy scalars, non-string keys) is refused with :class:`CanonicalJsonError`;
- object members are sorted by key, comparing keys by Unicode code points (this differs from
  RFC 8785, which compares UTF-16 code units, only for keys that mix characters above U+FFFF
  with characters U+E000..U+FFFF);
- no whitespace at all: ``,`` between members and elements, ``:`` between key and value;
- strings are written between ``"`` with exactly these escapes: ``\\"``, ``\\\\``, ``\\b``,
  ``\\f``, ``\\n``, ``\\r``, ``\\t``, and ``\\u00XX`` (lower-case hex) for the other characters
  below U+0020; every other character, including non-ASCII, U+007F and U+2028, is written as
  itself; strings are not Unicode-normalised, and lone surrogates are refused;
- integers in plain decimal; floats as Python's ``repr``: the shortest decimal that reads back
  to the same double, in exponent form ``1e-05`` / ``1e+16`` (sign and at least two exponent
  digits) when the decimal exponent is below -4 or at least 16, else positional with at least
  one digit after the point (``0.1``, ``3.0``, ``-0.0``); prefer integers or strings for values
  another implementation must reproduce;
- the text is encoded as UTF-8, with no byte-order mark and no trailing newline.

In Python this is ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False).encode("utf-8")`` after the type checks above.

>>> canonical_json({"b": [1, 2.5, None], "a": "抽查"})
b'{"a":"\\xe6\\x8a\\xbd\\xe6\\x9f\\xa5","b":[1,2.5,null]}'
"""

from __future__ import annotations

import json
import math
from typing import Any

from shuangsuiji.errors import InvalidInputError

__all__ = [
    "MAX_SAFE_INTEGER",
    "AuditError",
    "CanonicalJsonError",
    "canonical_json",
    "canonical_text",
    "parse_json",
]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude canonical JSON accepts (I-JSON, RFC 7493)."""

_MAX_DEPTH = 64


class AuditError(InvalidInputError):
    """Base class of the audit trail's errors, from canonical JSON to the chain (all are bad
    input, hence ``ValueError``)."""


class CanonicalJsonError(AuditError):
    """A value cannot be written as canonical JSON; the message gives its path (``$.a[2]``)."""


class _NotJson(Exception):
    """Raised inside the walk; each level adds its key, so paths cost nothing until needed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _walk(value: Any, depth: int, strings: bool) -> None:
    if depth > _MAX_DEPTH:
        raise _NotJson(f"nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if strings:
            _check_utf8(value)
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise _NotJson(
                f"integer {value} is outside ±(2**53 - 1), which not every JSON reader keeps "
                "exactly; store it as a string"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJson(f"{value!r} is not a JSON number; use null or a string")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJson(
                    f"key {key!r} is a {type(key).__name__}; JSON object keys must be str "
                    "(convert it explicitly so the log shows what was meant)"
                )
            try:
                if strings:
                    _check_utf8(key)
                _walk(item, depth + 1, strings)
            except _NotJson as bad:
                bad.path.append(f"[{json.dumps(key, ensure_ascii=False)}]")
                raise
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            try:
                _walk(item, depth + 1, strings)
            except _NotJson as bad:
                bad.path.append(f"[{i}]")
                raise
        return
    raise _NotJson(
        f"a {type(value).__module__}.{type(value).__qualname__} is not a JSON value; convert "
        "it first (str() for dates and IDs, .item() or .tolist() for numpy values)"
    )


def _check_utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _NotJson(
            f"string contains the lone surrogate U+{ord(text[exc.start]):04X}, which UTF-8 "
            "cannot encode; fix the text's decoding"
        ) from None


def _check_json(value: Any, strings: bool = False) -> None:
    """Raise :class:`CanonicalJsonError` with a path like ``$["a"][2]`` for a non-JSON value."""
    try:
        _walk(value, 0, strings)
    except _NotJson as bad:
        path = "$" + "".join(reversed(bad.path))
        raise CanonicalJsonError(f"{path}: {bad.message}") from None


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as canonical JSON bytes (the rule is in the module docstring).

    Raises :class:`CanonicalJsonError` naming the path of the first value JSON cannot carry.

    >>> canonical_json({"z": 1, "a": {"y": True, "b": "x y"}})
    b'{"a":{"b":"x y","y":true},"z":1}'
    >>> canonical_json({"ratio": float("nan")})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.canonical.CanonicalJsonError: $["ratio"]: nan is not a JSON number; use null ...
    """
    _check_json(obj)
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        _check_json(obj, strings=True)  # names the string holding the lone surrogate
        raise


def canonical_text(obj: Any) -> str:
    """:func:`canonical_json` as text (how the store keeps JSON columns).

    >>> canonical_text({"b": "检查", "a": [1, 2]})
    '{"a":[1,2],"b":"检查"}'
    """
    return canonical_json(obj).decode("utf-8")


def _reject_constant(name: str) -> Any:
    raise InvalidInputError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInputError(f"duplicate key {key!r} in one object")
        result[key] = value
    return result


def parse_json(text: str) -> Any:
    """Strict JSON parse: no NaN/Infinity, no duplicate keys (they would hide a value)."""
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
