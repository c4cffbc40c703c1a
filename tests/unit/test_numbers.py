"""Recipient numbers: split, normalise, 05/06/07 (docs/api.md)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.numbers import NumberFault, first_fault, number_fault, split_dest, unique


def test_split_trims_drops_empty_and_strips_prefixes() -> None:
    """Commas split; blanks trimmed; trailing comma ignored; + and 00 removed."""
    assert split_dest(" 33612345678, +33612345679,0033612345670 ,") == [
        "33612345678",
        "33612345679",
        "33612345670",
    ]


def test_manual_example_number_is_accepted() -> None:
    """The manual's own 3363123456 (10 digits, code 33) is acceptable."""
    assert number_fault("3363123456") is None


def test_non_numeric_is_05() -> None:
    """A letter or an inner blank is 05."""
    assert number_fault("33612a45678") is NumberFault.NOT_NUMERIC
    assert number_fault("336 12345678") is NumberFault.NOT_NUMERIC
    assert number_fault("３３６１２３４５６７８") is NumberFault.NOT_NUMERIC


def test_short_and_long_are_06() -> None:
    """Fewer than 10 or more than 15 digits is 06."""
    assert number_fault("336123456") is NumberFault.TOO_SHORT
    assert number_fault("3361234567890123") is NumberFault.TOO_SHORT


def test_national_format_is_07() -> None:
    """A French national number (leading 0) has no country calling code: 07."""
    assert number_fault("0612345678") is NumberFault.BAD_PREFIX
    assert number_fault("2801234567") is NumberFault.BAD_PREFIX  # 28x is unassigned


def test_checks_in_manual_order_whatever_the_list_order() -> None:
    """05 beats 06 beats 07 across the whole list."""
    assert first_fault(["0612345678", "336", "33x"]) is NumberFault.NOT_NUMERIC
    assert first_fault(["0612345678", "336"]) is NumberFault.TOO_SHORT
    assert first_fault(["33612345678", "0612345678"]) is NumberFault.BAD_PREFIX
    assert first_fault(["33612345678", "14155550123"]) is None


def test_unique_keeps_first_seen_order() -> None:
    """Duplicates are kept once, in order."""
    assert unique(["3", "1", "3", "2", "1"]) == ["3", "1", "2"]


NUMBER_PIECES = st.sampled_from(
    [
        "33612345678",
        "3363123456",
        "999123456789",
        "1234",
        "+33612345678",
        "0033612345678",
        " 336",
        "12a45678901",
        "",
        ",",
        "00",
        "4",
        "9",
        "٣٣٦١٢٣٤٥٦٧٨",
    ]
)


@given(st.lists(NUMBER_PIECES, max_size=12), st.booleans())
def test_fast_paths_agree_with_the_number_by_number_rules(pieces: list[str], long: bool) -> None:
    """Splitting and checking a whole list at C speed (long lists) gives the per-number
    answers, and so does the short-list path."""
    if long:  # past the sizes where the list-wide paths take over
        pieces = pieces + ["33612345678"] * 100
    dest = ",".join(pieces)
    numbers = split_dest(dest)
    slow: list[str] = []
    for item in dest.split(","):
        number = item.strip(" \t\r\n")
        if not number:
            continue
        if number.startswith("+"):
            number = number[1:]
        elif number.startswith("00"):
            number = number[2:]
        slow.append(number)
    assert numbers == slow
    faults = {number_fault(n) for n in numbers} - {None}
    expected = min(faults, key=lambda f: f.value) if faults else None
    assert first_fault(numbers) is expected
