"""The manual's character list and the mapping onto it (annex 2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.charset import ACCEPTED, decode_bytes, map_text


def test_accepted_characters_kept() -> None:
    """Characters of the manual's list, newline and CR included, are kept."""
    text = "Salut c'est michelle ,comment ca va?\r\nÉté à 5€"
    assert map_text(text) == "Salut c'est michelle ,comment ca va?\r\nÉté à 5?"


def test_outside_list_becomes_question_mark() -> None:
    """ç, ê, [, ~ and emoji are not in the list and become '?'."""
    assert map_text("ça [ê]~😀") == "?a ?????"


def test_underscore_is_accepted() -> None:
    """Code 95 of the manual's table is the underscore."""
    assert map_text("a_b") == "a_b"


def test_list_size_matches_manual() -> None:
    """The manual lists LF, CR, printable ASCII less 9, and 30 Latin-1 letters and signs."""
    assert len(ACCEPTED) == 2 + (95 - 9) + 30
    assert {chr(c) for c in range(32, 127)} - ACCEPTED == set("`[\\]^{|}~")
    assert "`" not in ACCEPTED and "\\" not in ACCEPTED and "{" not in ACCEPTED
    assert {"¡", "¿", "£", "¤", "¥", "§"} <= ACCEPTED


def test_decode_prefers_utf8_then_cp1252() -> None:
    """Valid UTF-8 is UTF-8; other bytes are Windows-1252."""
    assert decode_bytes("é".encode()) == "é"
    assert decode_bytes(b"\xe9") == "é"
    assert decode_bytes(b"\x81") == "\ufffd"


@given(st.text(max_size=200))
def test_mapped_text_only_uses_accepted_characters(text: str) -> None:
    """Whatever the input, the output is in the accepted set and as long as the input."""
    mapped = map_text(text)
    assert set(mapped) <= ACCEPTED
    assert len(mapped) == len(text)


@given(st.binary(max_size=200))
def test_decode_never_raises(raw: bytes) -> None:
    """Any bytes decode to a string."""
    assert isinstance(decode_bytes(raw), str)
