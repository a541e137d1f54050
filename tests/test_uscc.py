"""Credit codes (统一社会信用代码): check characters, normalization and the edge cases clerks meet."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kqtools.uscc import (ALPHABET, WEIGHTS, check_char, check_registration_number, check_uscc, is_valid_clean,
                          looks_like_resident_id, make_uscc, normalize, org_check_char)

VALID = ["91110108551385082Q", "9144030071526726XG", "91310000631696382C", "121200004013590816",
         "12440600MB2C07549J", "N2330100MA27XL8N3Q",
         "91350100M000100Y43"]  # the worked example of GB 32100-2015 (its text prints ...Y4Z, then computes 3)


# ---- oracles written from the rules' text (DOMAIN.md section 2), sharing no code with kqtools.uscc
RULE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"                                # value = index
RULE_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]  # as printed in the standard
RULE_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def rule_check(first17: str) -> str:
    total = sum(RULE_ALPHABET.index(c) * w for c, w in zip(first17, RULE_WEIGHTS))
    return RULE_ALPHABET[(31 - total % 31) % 31]


def rule_org_check(first8: str) -> str:
    """GB 11714: digits as themselves, letters A=10 … Z=35; C9 = 11 - (sum mod 11), 10 -> X, 11 -> 0."""
    total = sum((int(c) if c.isdigit() else ord(c) - ord("A") + 10) * w for c, w in zip(first8, RULE_ORG_WEIGHTS))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def rule_valid(code: str) -> bool:
    return (len(code) == 18 and all(c in RULE_ALPHABET for c in code) and code[2:8].isdigit()
            and rule_org_check(code[8:16]) == code[16] and rule_check(code[:17]) == code[17])


def rule_build(prefix2: str, division: str, org8: str) -> str:
    first17 = prefix2 + division + org8 + rule_org_check(org8)
    return first17 + rule_check(first17)

prefix2 = st.text(ALPHABET, min_size=2, max_size=2)
division = st.text("0123456789", min_size=6, max_size=6)
org8 = st.text(ALPHABET, min_size=8, max_size=8)
codes = st.builds(rule_build, prefix2, division, org8)
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


@given(prefix2, division, org8)
def test_codes_built_by_the_rules_text_validate_and_make_uscc_builds_the_same(p2, div, org):
    code = rule_build(p2, div, org)
    assert check_uscc(code) == (code, None) and is_valid_clean(code)
    assert make_uscc(p2, div, org) == code
    assert check_char(code[:17]) == rule_check(code[:17]) and org_check_char(org) == rule_org_check(org)


@settings(max_examples=500)
@given(st.text(ALPHABET, min_size=2, max_size=2), division, st.text(ALPHABET, min_size=10, max_size=10))
def test_check_uscc_accepts_exactly_what_the_rules_text_accepts(p2, div, rest):
    """Any 18 symbols (most fail one check or both): kq's verdict is the oracle's, on both paths."""
    code = p2 + div + rest
    assert (check_uscc(code)[1] is None) == rule_valid(code) == is_valid_clean(code)


def test_the_oracle_itself_agrees_with_published_codes():
    assert all(rule_valid(c) for c in VALID)
    assert not rule_valid("91350100M000100Y4Z") and rule_check("91350100M000100Y4") == "3"


def test_a_code_failing_only_the_organization_code_check_is_refused():
    """Position 17 wrong, position 18 right for the 17 before it: only the GB 11714 check catches it."""
    code = "91330100MA27XL8N00"
    assert rule_check(code[:17]) == code[17] and rule_org_check(code[8:16]) != code[16]
    _, error = check_uscc(code)
    assert error and "organization-code check character (position 17)" in error
    assert not is_valid_clean(code)


@given(codes, st.sampled_from(ALPHABET))
def test_any_wrong_organization_check_character_is_refused_even_with_a_matching_last_one(code, ch):
    if ch == code[16]:
        return
    first17 = code[:16] + ch
    forged = first17 + rule_check(first17)            # the mod-31 check passes by construction
    _, error = check_uscc(forged)
    assert error is not None, forged


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


def resident_id(first17: str) -> str:
    """GB 11643-1999 as written: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 -> X."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17))
    r = (12 - total % 11) % 11
    return first17 + ("X" if r == 10 else str(r))


@pytest.mark.parametrize("birth", ["19000101", "19490101", "19801030", "19800131", "20991231", "19751120"])
def test_resident_ids_at_the_edges_of_a_birth_date_are_named(birth):
    code = resident_id(f"320412{birth}003")
    assert looks_like_resident_id(code)
    assert "resident ID" in check_uscc(code)[1]


@pytest.mark.parametrize("birth", ["18991231", "21000101", "19800001", "19801301", "19800100", "19800132"])
def test_no_birth_date_no_resident_id(birth):
    assert not looks_like_resident_id(resident_id(f"320412{birth}003"))


def test_the_first_character_outside_the_code_alphabet_is_the_one_named():
    """A and Z are letters (Z merely excluded from credit codes), 0 and 9 digits; '#' is none: named."""
    for code in ("91Z10108551385082#", "9AA10108551385082#", "0919010855138508#Q"):
        assert check_uscc(code)[1] == "character '#' is not allowed in a credit code", code


def test_pre_2016_xiamen_code_only_via_allowlist():
    code = "91350203M0001QKT19"
    _, error = check_uscc(code)
    assert error and "allow-list" in error
    assert check_uscc(code, allowed={code}) == (code, None)
    assert check_uscc(code.lower(), allowed={code}) == (code, None)  # normalized before the lookup


def test_letter_first_characters():
    """Registration authorities A-Y (N: 农业; Y: others): built from the rules' text, not by make_uscc."""
    assert check_uscc("N2330100MA27XL8N3Q")[1] is None
    for first in "YAN":
        code = rule_build(first + "1", "330100", "MA27XL8N")
        assert check_uscc(code) == (code, None)
        assert check_uscc(code[:17] + ALPHABET[(ALPHABET.index(code[17]) + 1) % 31])[1] is not None


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


# 15-digit registration numbers (注册号, GS15-2006) published as valid: the standard's own example
# 110108000000016 and business licences collected in a public test suite
REGISTRATION_NUMBERS = ["110108000000016", "310117003171688", "330282602082220", "430524600099555",
                        "350205200033663", "320507000045918", "440301104041144", "440307811872564",
                        "130903000004802", "370125200024527", "330225000051892", "340100000400528",
                        "445381600190918", "441900001868015", "310230000419464", "440301103072002",
                        "320483000067847", "320300000174110"]


def iso7064_mod_11_10(digits: str) -> bool:
    """ISO 7064 MOD 11,10 as python-stdnum states it (start 5; valid when the checksum is 1): another
    formulation than kqtools.uscc's, checked below against stdnum's published examples."""
    check = 5
    for d in digits:
        check = (((check or 10) * 2) % 11 + int(d)) % 10
    return check == 1


def test_the_mod_11_10_oracle_agrees_with_published_examples():
    assert iso7064_mod_11_10("794623") and iso7064_mod_11_10("002006673085")
    assert not iso7064_mod_11_10("794624") and not iso7064_mod_11_10("002006673086")


@pytest.mark.parametrize("number", REGISTRATION_NUMBERS)
def test_registration_number_mod_11_10(number):
    """Each published number is valid; any other last digit, and any single mistyped digit, is not."""
    assert check_registration_number(number) and iso7064_mod_11_10(number)
    for pos in range(15):
        for d in "0123456789":
            if d != number[pos]:
                assert not check_registration_number(number[:pos] + d + number[pos + 1:]), (pos, d)
    assert check_registration_number(f" {number[:6]}-{number[6:]} ")         # normalized first
    assert not check_registration_number(number[:14]) and not check_registration_number(number + "0")


@given(st.text("0123456789", min_size=15, max_size=15))
def test_registration_numbers_follow_iso_7064_mod_11_10(number):
    assert check_registration_number(number) == iso7064_mod_11_10(number)


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
