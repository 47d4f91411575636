from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shuangsuiji import validate_uscc
from shuangsuiji.ids import (
    LOCAL_ID,
    REGNO15,
    USCC,
    USCC_ALPHABET,
    AnyOf,
    scheme_by_name,
    uscc_check_char,
    uscc_valid_mask,
)

# Published example codes (check characters computed by the GB 32100-2015 rule).
KNOWN_VALID = ["91350100M000100Y43", "91110108MA01ABCD3L"]

body = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    first = draw(body)
    return first + uscc_check_char(first)


def test_known_codes() -> None:
    for code in KNOWN_VALID:
        assert validate_uscc(code) == code


def test_weights_are_powers_of_three_mod_31() -> None:
    # Independent recomputation of the rule from its statement in GB 32100-2015.
    code = "91350100M000100Y4"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code, weights, strict=True))
    assert uscc_check_char(code) == USCC_ALPHABET[(31 - total % 31) % 31] == "3"


@given(valid_codes())
def test_generated_valid_codes_pass(code: str) -> None:
    assert validate_uscc(code) == code
    assert validate_uscc(f"  {code.lower()} ") == code


@given(valid_codes(), st.integers(0, 17), st.sampled_from(USCC_ALPHABET + "IOZSVa-#中 "))
def test_every_single_character_change_is_rejected(code: str, pos: int, char: str) -> None:
    changed = code[:pos] + char + code[pos + 1 :]
    if changed.upper().strip() == code or (char == "a" and code[pos] == "A"):
        return  # no change after canonicalisation
    with pytest.raises(ValueError, match=r"position|characters"):
        validate_uscc(changed)


@given(st.lists(valid_codes(), min_size=1, max_size=30), st.data())
def test_vectorised_mask_agrees_with_scalar(codes: list[str], data: st.DataObject) -> None:
    mutated = [
        c[:5] + data.draw(st.sampled_from(USCC_ALPHABET)) + c[6:] if i % 2 else c
        for i, c in enumerate(codes)
    ]
    mask = uscc_valid_mask(np.asarray([m.encode() for m in mutated], dtype="S18"))
    for code, ok in zip(mutated, mask.tolist(), strict=True):
        try:
            validate_uscc(code)
            expected = True
        except ValueError:
            expected = False
        assert ok == expected


def test_error_names_position_and_character() -> None:
    with pytest.raises(ValueError, match=r"position 5 \(administrative division\).*'I'"):
        validate_uscc("9135I100M000100Y43")
    with pytest.raises(ValueError, match=r"position 18 \(check character\) is '4', expected '3'"):
        validate_uscc("91350100M000100Y44")
    with pytest.raises(ValueError, match="17 characters"):
        validate_uscc("91350100M000100Y4")


def test_full_width_input_is_folded() -> None:
    assert validate_uscc("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


def test_regno15_and_schemes() -> None:
    assert REGNO15.canonicalize("110108000000016") == "110108000000016"
    with pytest.raises(ValueError, match="position 15"):
        REGNO15.canonicalize("110108000000017")
    mixed = scheme_by_name("uscc+regno15")
    assert isinstance(mixed, AnyOf)
    assert mixed.canonicalize("110108000000016") == "110108000000016"
    assert mixed.canonicalize("91350100m000100y43") == "91350100M000100Y43"
    with pytest.raises(ValueError, match="matches no accepted scheme"):
        mixed.canonicalize("12345")
    assert LOCAL_ID.canonicalize(" 档案-7 ") == "档案-7"
    with pytest.raises(ValueError, match="control character"):
        LOCAL_ID.canonicalize("a\x00b")
    with pytest.raises(ValueError, match="unknown ID scheme"):
        scheme_by_name("passport")
    assert scheme_by_name("uscc") is USCC
