"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

Plain functions, no I/O. ``check_uscc`` returns ``(code, error)``: the normalized
code and ``None`` when valid, or the best normalization possible and a one-line
reason when not.
"""
from __future__ import annotations

import re
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 symbols: no I, O, S, V, Z
VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 ...
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organization code
_ORG_VALUE = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}

_STRIP = re.compile(r"[\s\-\u2010-\u2015\u00a0'\"`]+")
_SCI = re.compile(r"^\d(\.\d+)?E\+?\d+$")
_FULL = re.compile(r"^[0-9A-Z]{18}$")


# The fast check used on the import path, with C-level int() parsing doing the weighted sums:
# - mod 31: the weights are 3**i, and 34 = 3 (mod 31), so reading the first 17 values (as base-36
#   digit characters) reversed as a base-34 number gives the weighted sum mod 31;
# - GB 11714 (mod 11): the weights 3 7 9 10 5 8 4 2 are 2 * 2**(7-i) (mod 11), and 13 = 2 (mod 11),
#   so the 8 values taken mod 11, read as a base-13 number, give half the weighted sum mod 11.
# Bytes outside the alphabet become '~', which int() refuses (ValueError): the slow path explains.
_DIGITS36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_T31 = bytes(ord(_DIGITS36[ALPHABET.index(chr(i))]) if chr(i) in ALPHABET else ord("~") for i in range(256))
_T11 = bytes(ord(_DIGITS36[int(chr(i), 36) % 11]) if chr(i) in ALPHABET else ord("~") for i in range(256))
_EXPECT31 = tuple(ALPHABET[(31 - r) % 31] for r in range(31))
_EXPECT11 = tuple("0" if r == 0 else "X" if r == 1 else str(11 - r) for r in range(11))


def is_valid_clean(raw) -> bool:
    """True when ``raw`` is already a clean, valid 18-character code (no normalization needed)."""
    try:
        b = raw.encode("ascii")
        return (len(b) == 18 and b[2:8].isdigit()
                and _EXPECT31[int(b[16::-1].translate(_T31), 34) % 31] == raw[17]
                and _EXPECT11[2 * int(b[8:16].translate(_T11), 13) % 11] == raw[16])
    except (AttributeError, ValueError):  # not a str; not ASCII; a symbol outside the alphabet
        return False


def normalize(raw: object) -> str:
    """NFKC (full-width to half-width), upper case, drop spaces, hyphens and quotes."""
    if raw is None:
        return ""
    text = raw if isinstance(raw, str) else str(raw)
    if text.isascii() and len(text) == 18 and text.isalnum() and text.isupper():
        return text  # fast path: already clean
    return _STRIP.sub("", unicodedata.normalize("NFKC", text)).upper()


def check_char(first17: str) -> str:
    """The 18th character for the first 17 (raises KeyError on a symbol outside the alphabet)."""
    total = 0
    for ch, w in zip(first17, WEIGHTS):
        total += VALUE[ch] * w
    return ALPHABET[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    """Check character of the 9-character organization code (GB 11714)."""
    total = sum(_ORG_VALUE[ch] * w for ch, w in zip(first8, ORG_WEIGHTS))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643 resident ID, ISO 7064 MOD 11-2


def looks_like_resident_id(code: str) -> bool:
    """18 characters that are a plausible resident ID number (居民身份证号): birth date and MOD 11-2 check."""
    if len(code) != 18 or not code[:17].isdigit() or code[17] not in "0123456789X":
        return False
    y, m, d = int(code[6:10]), int(code[10:12]), int(code[12:14])
    if not (1900 <= y <= 2099 and 1 <= m <= 12 and 1 <= d <= 31):
        return False
    total = sum(int(c) * w for c, w in zip(code, _ID_WEIGHTS))
    return "10X98765432"[total % 11] == code[17]


def check_uscc(raw: object, allowed: frozenset | set = frozenset()) -> tuple[str, str | None]:
    """Validate one code. ``allowed`` holds confirmed codes that fail the check (pre-2016 Xiamen)."""
    if is_valid_clean(raw):  # fast path: a clean, valid code
        return raw, None
    if isinstance(raw, float):
        return (repr(raw), "Excel turned this code into a number; format the column as text and export again")
    code = normalize(raw)
    if is_valid_clean(code):  # full-width, lower case or spaces around a valid code (even one like 0E00...)
        return code, None
    if not code:
        return code, "empty credit code"
    if _SCI.match(code):
        return code, f"Excel turned this code into a number ({code}); format the column as text and export again"
    if code in allowed:
        return code, None
    if len(code) != 18:
        if code.isdigit() and len(code) == 15:
            return code, "15-digit registration number (注册号), not a unified social credit code"
        if code.isdigit() and len(code) in (16, 17):
            return code, f"{len(code)} characters, all digits: Excel probably dropped the last digits; format the column as text"
        return code, f"{len(code)} characters; a credit code has 18"
    if looks_like_resident_id(code) and not _passes(code):
        return code, "looks like a resident ID number (身份证号), not a credit code"
    if not _FULL.match(code):
        bad = next(ch for ch in code if ch not in VALUE and not ("0" <= ch <= "9" or "A" <= ch <= "Z"))
        return code, f"character {bad!r} is not allowed in a credit code"
    bad = next((ch for ch in code if ch not in VALUE), None)
    if bad is not None:
        return code, f"letter {bad} never appears in a credit code (I, O, S, V and Z are excluded)"
    if not code[2:8].isdigit():
        return code, "positions 3-8 must be the administrative-division digits"
    expected = check_char(code[:17])
    if expected != code[17]:
        if code.isdigit() and code.endswith("000"):
            return code, ("ends in 000 and fails the check: Excel probably rounded it to 15 digits; "
                          "format the column as text and export again")
        return code, (f"check character is {code[17]}, expected {expected}: a character is mistyped "
                      "(a genuine code issued before 2016 can be added to the allow-list)")
    if org_check_char(code[8:16]) != code[16]:
        return code, ("organization-code check character (position 17) does not match "
                      "(a genuine code issued before 2016 can be added to the allow-list)")
    return code, None


def _passes(code: str) -> bool:
    try:
        return check_char(code[:17]) == code[17] and org_check_char(code[8:16]) == code[16]
    except KeyError:
        return False


def is_valid(raw: object) -> bool:
    return check_uscc(raw)[1] is None


def make_uscc(prefix2: str, division: str, org8: str) -> str:
    """Build a valid code from registration/entity type, 6-digit division and 8-char org body."""
    org = org8 + org_check_char(org8)
    first17 = prefix2 + division + org
    return first17 + check_char(first17)


def check_registration_number(raw: object) -> bool:
    """Old 15-digit registration number (注册号), ISO 7064 MOD 11,10."""
    code = normalize(raw)
    if len(code) != 15 or not code.isdigit():
        return False
    p = 10
    for ch in code[:14]:
        s = (p + int(ch)) % 10 or 10
        p = (s * 2) % 11
    return (p + int(code[14])) % 10 == 1
