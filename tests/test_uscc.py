"""Credit codes (统一社会信用代码): check characters, normalization and the edge cases clerks meet."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kqtools.uscc import (ALPHABET, WEIGHTS, check_char, check_registration_number, check_uscc, is_valid_clean,
                          looks_like_resident_id, make_uscc, normalize, org_check_char)

VALID = ["91110108551385082Q", "9144030071526726XG", "91310000631696382C", "121200004013590816",
         "12440600MB2C07549J", "N2330100MA27XL8N3Q"]

prefix2 = st.text(ALPHABET, min_size=2, max_size=2)
division = st.text("0123456789", min_size=6, max_size=6)
org8 = st.text(ALPHABET, min_size=8, max_size=8)
codes = st.builds(make_uscc, prefix2, division, org8)
# what a mistyped character can be: any symbol of the alphabet, the excluded letters, lower case,
# full-width forms, punctuation and a few CJK characters
replacement = st.sampled_from(sorted(set(ALPHABET + "IOSVZ" + ALPHABET.lower() + "iosvz")
                                     | {chr(0xFF10 + i) for i in range(10)} | {"Ｑ", "ｑ", "Ｘ"}
                                     | set(" -_./,'\"") | {"中", "〇", "一"}))


def test_weights_are_powers_of_three_mod_31():
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize("code", VALID)
def test_valid_samples(code):
    assert check_uscc(code) == (code, None)


@given(codes)
def test_every_built_code_validates(code):
    assert len(code) == 18
    assert check_uscc(code) == (code, None)
    assert code[17] == check_char(code[:17])
    assert code[16] == org_check_char(code[8:16])


def test_single_substitution_claim_holds_by_arithmetic():
    """Changing one symbol of positions 1-17 from value a to b shifts the weighted sum by (b-a)*w.
    31 is prime and every weight is a nonzero residue, so the sum mod 31 always changes: no
    substitution inside the alphabet can keep the check character. Checked exhaustively here."""
    for w in WEIGHTS:
        assert w % 31 != 0
        for delta in range(1, 31):
            assert (delta * w) % 31 != 0


@settings(max_examples=400)
@given(codes, st.integers(0, 17), replacement)
def test_any_single_character_change_is_caught(code, pos, ch):
    mutated = code[:pos] + ch + code[pos + 1:]
    got, error = check_uscc(mutated)
    if normalize(mutated) == code:
        # lower case, full-width or a dropped space/quote: normalization restores the same code
        assert (got, error) == (code, None)
    else:
        assert error is not None, f"{mutated!r} accepted"


@given(codes, st.integers(0, 17), st.sampled_from(ALPHABET))
def test_substitution_inside_the_alphabet_is_caught(code, pos, ch):
    if ch == code[pos]:
        return
    mutated = code[:pos] + ch + code[pos + 1:]
    assert check_uscc(mutated)[1] is not None


@given(codes)
def test_normalization_of_full_width_lower_case_and_spaces(code):
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    assert check_uscc(full_width) == (code, None)
    assert check_uscc(code.lower()) == (code, None)
    assert check_uscc(f"  {code[:6]} {code[6:12]}-{code[12:]}\t") == (code, None)
    assert check_uscc(f"'{code}") == (code, None)  # Excel's text-prefix apostrophe


def test_resident_id_number_is_named():
    code, error = check_uscc("362322198709086409")
    assert error and "resident ID" in error
    # the mod-31 check passes by accident; only the organization code check catches it
    assert check_char("36232219870908640") == "9"
    _, error = check_uscc("11010519491231002X")  # a resident ID with an X check digit
    assert "resident ID" in error
    assert looks_like_resident_id("11010519491231002X")
    assert not looks_like_resident_id("91110108551385082Q")


def test_pre_2016_xiamen_code_only_via_allowlist():
    code = "91350203M0001QKT19"
    _, error = check_uscc(code)
    assert error and "allow-list" in error
    assert check_uscc(code, allowed={code}) == (code, None)
    assert check_uscc(code.lower(), allowed={code}) == (code, None)  # normalized before the lookup


def test_letter_first_characters():
    assert check_uscc("N2330100MA27XL8N3Q")[1] is None
    for first in "YA":
        code = make_uscc(first + "1", "330100", "MA27XL8N")
        assert check_uscc(code) == (code, None)


def test_positions_3_to_8_are_digits():
    first17 = "91A10108551385082"
    code = first17 + check_char(first17)
    _, error = check_uscc(code)
    assert "positions 3-8" in error


@pytest.mark.parametrize("raw", ["9.13205E+17", "9.13205e+17", "9.13205E17", 9.13205e17, 913205071000000000.0])
def test_excel_scientific_notation(raw):
    _, error = check_uscc(raw)
    assert "Excel turned this code into a number" in error
    assert "format the column as text" in error


def test_excel_rounded_to_15_digits():
    _, error = check_uscc("913205071234567000")
    assert "15 digits" in error


@pytest.mark.parametrize("raw,n", [("9131000063169638", 16), ("91310000631696382", 17)])
def test_truncated_digit_codes(raw, n):
    _, error = check_uscc(raw)
    assert f"{n} characters" in error and "Excel" in error


@pytest.mark.parametrize("raw,words", [
    ("", "empty"), ("9111010855138508", "16 characters"), ("91110108551385082Q1", "19 characters"),
    ("9111010855138508IQ", "letter I"), ("91110108551385082#", "'#'"),
    ("110108000000016", "registration number"),
])
def test_other_rejections_say_what_is_wrong(raw, words):
    _, error = check_uscc(raw)
    assert words in error


def test_mistyped_character_names_expected_check():
    _, error = check_uscc("91110108551385082R")
    assert "expected Q" in error


def test_registration_number_mod_11_10():
    body = "11010800000001"
    for d in "0123456789":
        if check_registration_number(body + d):
            break
    else:
        pytest.fail("no check digit found")
    assert sum(check_registration_number(body + x) for x in "0123456789") == 1


@settings(max_examples=500)
@given(codes, st.integers(0, 17), replacement, st.booleans())
def test_fast_check_agrees_with_the_full_rules(code, pos, ch, mutate):
    """is_valid_clean (int() parsing in bases 34 and 13) accepts exactly the clean codes check_uscc accepts."""
    raw = code[:pos] + ch + code[pos + 1:] if mutate else code
    full = check_uscc(raw)
    assert is_valid_clean(raw) == (full == (raw, None))


@pytest.mark.parametrize("raw", [None, 12345, 9.13205e17, "", "9111010855138508 Q", "91110108551385082Q\n",
                                 "９１１１０１０８５５１３８５０８２Ｑ", "91110108551385082q", "91 110108551385082Q"])
def test_fast_check_refuses_anything_needing_normalization(raw):
    assert not is_valid_clean(raw)
