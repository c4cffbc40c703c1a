"""Recipient numbers: splitting `dest`, normalising, and the 05/06/07 checks."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

CALLING_CODES: frozenset[str] = frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
MIN_DIGITS = 10
MAX_DIGITS = 15  # E.164
# lists longer than this are split and checked list-wide first (C speed); short ones,
# the common case, number by number (cheaper below this size)
LONG = 1024
LONG_LIST = 64


class NumberFault(enum.Enum):
    """Why a recipient number is refused, in the manual's order of checks."""

    NOT_NUMERIC = 5
    TOO_SHORT = 6
    BAD_PREFIX = 7


_ORDER = tuple(NumberFault)


def split_dest(dest: str) -> list[str]:
    """Split `dest` on commas, trim blanks, drop empty items, strip a leading + or 00."""
    long_and_plain = len(dest) > LONG and not any(c in dest for c in " \t\r\n+")
    if long_and_plain and ",00" not in dest and not dest.startswith("00"):
        return list(filter(None, dest.split(",")))  # nothing to trim or strip: C speed
    out: list[str] = []
    for item in dest.split(","):
        number = item.strip(" \t\r\n")
        if not number:
            continue
        if number.startswith("+"):
            number = number[1:]
        elif number.startswith("00"):
            number = number[2:]
        out.append(number)
    return out


def normalise_one(number: str) -> str:
    """Normalise a single number as `split_dest` does (used by `statut&dest=`)."""
    items = split_dest(number.replace(",", ""))
    return items[0] if items else ""


def has_calling_code(number: str) -> bool:
    """True when the leading 1 to 3 digits are an ITU country calling code."""
    codes = CALLING_CODES
    return number[:1] in codes or number[:2] in codes or number[:3] in codes


def number_fault(number: str) -> NumberFault | None:
    """The first fault of one normalised number, or None when it is acceptable.

    Fewer than 10 or more than 15 digits both answer 06 (the manual's label for
    both 05 and 06 is "Le numéro du destinataire est invalide").
    """
    if not number.isascii() or not number.isdigit():
        return NumberFault.NOT_NUMERIC
    if not MIN_DIGITS <= len(number) <= MAX_DIGITS:
        return NumberFault.TOO_SHORT
    if not has_calling_code(number):
        return NumberFault.BAD_PREFIX
    return None


def first_fault(numbers: Sequence[str]) -> NumberFault | None:
    """The first failing check over all numbers, checks taken in the manual's order.

    All numbers are checked for 05 first, then all for 06, then all for 07, so the
    answer does not depend on the order of the list.
    """
    if len(numbers) > LONG_LIST and _all_fine(numbers):
        return None
    faults = {number_fault(n) for n in numbers}
    if len(faults) == 1 and None in faults:  # the common case: every number is fine
        return None
    for fault in _ORDER:
        if fault in faults:
            return fault
    return None


def _all_fine(numbers: Sequence[str]) -> bool:
    """True when every number passes every check, tested list-wide at C speed (a list of
    290 000 numbers in ~20 ms, where one check per number takes ~150 ms)."""
    if not numbers:
        return True
    joined = "".join(numbers)
    if not (joined.isascii() and joined.isdigit()):
        return False
    lengths = set(map(len, numbers))
    if min(lengths) < MIN_DIGITS or max(lengths) > MAX_DIGITS:
        return False
    return all(has_calling_code(p) for p in {n[:3] for n in numbers})


def unique(numbers: Sequence[str]) -> list[str]:
    """Numbers in their first-seen order, each once (duplicates sent and charged once)."""
    return list(dict.fromkeys(numbers))
