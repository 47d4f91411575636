"""Entity identifiers: the 统一社会信用代码 (USCC) and pluggable ID schemes.

The unified social credit code (GB 32100-2015) is 18 characters from the alphabet
``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, Z, S, V): registration authority (1),
entity type (1), administrative division (6), organisation code (9) and a check
character. With character values ``v_i`` and weights ``w_i = 3**i mod 31`` for the
first 17 positions, the check character has value ``(31 - sum(v_i * w_i) mod 31) mod 31``.

>>> validate_uscc("91350100m000100y43")
'91350100M000100Y43'
>>> validate_uscc("91350100M000100Y44")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shuangsuiji.errors.InvalidInputError: invalid USCC '91350100M000100Y44': position 18 ...

Pools that also hold older 15-digit registration numbers (注册号) or agency-local IDs use an
:class:`IdScheme`; :data:`USCC`, :data:`REGNO15`, :data:`LOCAL_ID` and :class:`AnyOf` are
provided, and an agency can pass any object with ``name`` and ``canonicalize``.
"""

from __future__ import annotations

import unicodedata
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError

__all__ = [
    "LOCAL_ID",
    "REGNO15",
    "USCC",
    "USCC_ALPHABET",
    "AnyOf",
    "IdScheme",
    "LocalId",
    "RegNo15",
    "Uscc",
    "canonical_id",
    "uscc_check_char",
    "uscc_valid_mask",
    "validate_uscc",
]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_FIELD = (
    ["registration authority"]
    + ["entity type"]
    + ["administrative division"] * 6
    + ["organisation code"] * 9
    + ["check character"]
)
MAX_ID_LENGTH = 64


def canonical_id(raw: str) -> str:
    """Canonical form of any ID (SSJ-DRAW-1): Unicode NFC without surrounding whitespace.

    >>> canonical_id("  ABC-1 ")
    'ABC-1'
    """
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise InvalidInputError("empty ID: every entity needs an identifier")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidInputError(
            f"ID {text[:20]!r}... is {len(text)} characters, at most {MAX_ID_LENGTH}"
        )
    bad = next((c for c in text if unicodedata.category(c)[0] == "C"), None)
    if bad is not None:
        raise InvalidInputError(f"ID {text!r} contains the control character U+{ord(bad):04X}")
    return text


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a USCC.

    >>> uscc_check_char("91350100M000100Y4")
    '3'
    """
    if len(first17) != 17:
        raise InvalidInputError(f"need the first 17 characters of a USCC, got {len(first17)}")
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """Return the canonical USCC, or raise ``InvalidInputError`` (a ``ValueError``) saying where.

    The message names the position and the character at fault.

    Canonicalisation folds full-width characters (NFKC), strips whitespace and upper-cases.
    Positions in messages count from 1, as printed on a business licence.

    >>> validate_uscc("９１110108ma01abcd3l")
    '91110108MA01ABCD3L'
    >>> validate_uscc("91110108MA01ABCDIL")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.errors.InvalidInputError: invalid USCC '91110108MA01ABCDIL': position 17 ...
    """
    if not isinstance(code, str):
        raise InvalidInputError(f"a USCC must be a string, got {type(code).__name__}")
    text = unicodedata.normalize("NFKC", code).strip().upper()
    if len(text) != 18:
        raise InvalidInputError(
            f"invalid USCC {code!r}: it has {len(text)} characters, a USCC has 18"
        )
    for pos, char in enumerate(text):
        if char not in _VALUE:
            hint = " (I, O, Z, S and V are never used)" if char in "IOZSV" else ""
            raise InvalidInputError(
                f"invalid USCC {code!r}: position {pos + 1} ({_FIELD[pos]}) has the character "
                f"{char!r}, which is not allowed{hint}"
            )
    expected = uscc_check_char(text[:17])
    if text[17] != expected:
        raise InvalidInputError(
            f"invalid USCC {code!r}: position 18 (check character) is {text[17]!r}, "
            f"expected {expected!r}"
        )
    return text


_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(USCC_ALPHABET):
    _LUT[ord(_c)] = _i
_W = np.array(_WEIGHTS, dtype=np.int64)


def uscc_valid_mask(codes: npt.NDArray[np.bytes_]) -> npt.NDArray[np.bool_]:
    """Vectorised check of already canonical (upper-case ASCII) USCCs held as ``S18`` bytes.

    Used by bulk imports; rows that fail are re-checked with :func:`validate_uscc` for the message.
    """
    arr = np.asarray(codes)
    if arr.dtype.kind != "S":
        raise TypeError("uscc_valid_mask expects a numpy bytes array (dtype 'S')")
    n = arr.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    lengths = np.char.str_len(arr)
    fixed = arr.astype("S18")
    mat = np.frombuffer(fixed.tobytes(), dtype=np.uint8).reshape(n, 18)
    vals = _LUT[mat]
    ok = (lengths == 18) & (vals != 255).all(axis=1)
    total = (vals[:, :17].astype(np.int64) * _W).sum(axis=1)
    check = (31 - total % 31) % 31
    valid: npt.NDArray[np.bool_] = ok & (check == vals[:, 17])
    return valid


@runtime_checkable
class IdScheme(Protocol):
    """How a pool's IDs are validated: ``canonicalize`` returns the canonical ID or raises."""

    name: str

    def canonicalize(self, raw: str) -> str: ...


class Uscc:
    """The strict 统一社会信用代码 scheme (GB 32100-2015)."""

    name = "uscc"

    def canonicalize(self, raw: str) -> str:
        return validate_uscc(raw)


def _regno_check_digit(first14: str) -> str:
    # ISO 7064 MOD 11,10, the check of the 15-digit 工商注册号 (GS15-2006).
    p = 10
    for ch in first14:
        s = (p + int(ch)) % 10 or 10
        p = (s * 2) % 11
    return str((11 - p) % 10)


class RegNo15:
    """The 15-digit business registration number (注册号) used before the USCC.

    >>> REGNO15.canonicalize("110108000000016")
    '110108000000016'
    """

    name = "regno15"

    def canonicalize(self, raw: str) -> str:
        text = unicodedata.normalize("NFKC", raw).strip()
        if len(text) != 15 or not text.isascii() or not text.isdigit():
            raise InvalidInputError(f"invalid registration number {raw!r}: need 15 digits")
        expected = _regno_check_digit(text[:14])
        if text[14] != expected:
            raise InvalidInputError(
                f"invalid registration number {raw!r}: position 15 (check digit) is "
                f"{text[14]!r}, expected {expected!r}"
            )
        return text


class LocalId:
    """Agency-local IDs: any non-empty text, canonicalised per SSJ-DRAW-1 (NFC, stripped)."""

    name = "local"

    def canonicalize(self, raw: str) -> str:
        return canonical_id(raw)


class AnyOf:
    """Accept an ID valid under any of several schemes, tried in order.

    >>> scheme = AnyOf(USCC, REGNO15)
    >>> scheme.canonicalize("110108000000016")
    '110108000000016'
    """

    def __init__(self, *schemes: IdScheme) -> None:
        if not schemes:
            raise InvalidInputError("AnyOf needs at least one scheme")
        self.schemes = schemes
        self.name = "+".join(s.name for s in schemes)

    def canonicalize(self, raw: str) -> str:
        errors = []
        for scheme in self.schemes:
            try:
                return scheme.canonicalize(raw)
            except ValueError as exc:
                errors.append(f"{scheme.name}: {exc}")
        raise InvalidInputError(f"ID {raw!r} matches no accepted scheme ({'; '.join(errors)})")


USCC: IdScheme = Uscc()
REGNO15: IdScheme = RegNo15()
LOCAL_ID: IdScheme = LocalId()

SCHEMES: dict[str, IdScheme] = {"uscc": USCC, "regno15": REGNO15, "local": LOCAL_ID}


def scheme_by_name(name: str) -> IdScheme:
    """Look up a scheme by name; ``"uscc+regno15"`` combines schemes with :class:`AnyOf`."""
    parts = [p.strip() for p in name.split("+")]
    unknown = [p for p in parts if p not in SCHEMES]
    if unknown:
        raise InvalidInputError(f"unknown ID scheme {unknown[0]!r}; known: {', '.join(SCHEMES)}")
    if len(parts) == 1:
        return SCHEMES[parts[0]]
    return AnyOf(*(SCHEMES[p] for p in parts))
