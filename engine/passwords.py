"""The password policy: what a person's password must not be (pure; the list of common passwords ships in
``engine/data/common_passwords.txt``).

No rules of composition (an upper-case letter, a digit…): they make passwords harder to remember and no harder to
guess. Instead, as NIST SP 800-63B and OWASP ASVS 2.1 ask: at least 12 characters (a passphrase of a few words is
the easiest way there), at most 256; not one of the common passwords of public leaks, not even with digits or signs
added at either end ("Password2026!"); nothing made of the user's own name; not a few characters repeated.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from engine.errors import N_, Invalid

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_DISTINCT = 5
COMMON_FILE = Path(__file__).parent / "data" / "common_passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def fold(text: str) -> str:
    """Lower case without diacritics or spaces: "Nguyễn Văn Đức" -> "nguyenvanduc"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())


def _core(text: str) -> str:
    """The word inside the digits and signs added at its ends: "!Password2026" -> "password"."""
    start, end = 0, len(text)
    while start < end and not text[start].isalpha():
        start += 1
    while end > start and not text[end - 1].isalpha():
        end -= 1
    return text[start:end]


def problems(password: str, *, username: str = "", full_name: str = "") -> list[str]:
    """What is wrong with ``password`` for this person, as message ids (empty: it may be used)."""
    found: list[str] = []
    if len(password) < MIN_LENGTH:
        found.append(N_("The password must have at least 12 characters (a few words make a good one)"))
    if len(password) > MAX_LENGTH:
        found.append(N_("The password must have at most 256 characters"))
    folded = fold(password)
    common = common_passwords()
    if folded in common or _core(folded) in common or fold(password[::-1]) in common:
        found.append(N_("This password is one of the most common passwords; choose another"))
    names = [n for n in (fold(username), fold(full_name)) if len(n) >= 3]
    names += [fold(part) for part in full_name.split() if len(fold(part)) >= 4]
    if any(name in folded or (len(folded) >= 3 and folded in name) for name in names):
        found.append(N_("The password must not contain your user name or your name"))
    if len(set(folded)) < MIN_DISTINCT:
        found.append(N_("The password repeats too few characters; choose another"))
    return found


def check(password: str, *, username: str = "", full_name: str = "") -> None:
    """Refuse a password that breaks the policy, naming every reason."""
    found = problems(password, username=username, full_name=full_name)
    if found:
        raise Invalid(found[0], code="weak_password", details={"reasons": found})
