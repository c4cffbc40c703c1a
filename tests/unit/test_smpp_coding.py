"""Text to data_coding and octets, and back for received messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.charset import ACCEPTED, map_text
from passerelle.smpp.coding import (
    GSM_BASIC,
    GSM_EXTENSION,
    Alphabet,
    decode_text,
    encode_text,
    gsm_decode,
    gsm_encode,
    gsm_septets,
    is_gsm,
)

GSM, LATIN1, UCS2 = Alphabet.GSM, Alphabet.LATIN1, Alphabet.UCS2


@pytest.mark.parametrize(
    ("text", "alphabet", "expected"),
    [
        ("é", GSM, (0x00, b"\x05")),
        ("é", LATIN1, (0x03, b"\xe9")),
        ("é", UCS2, (0x08, b"\x00\xe9")),
        ("€", GSM, (0x00, b"\x1b\x65")),
        ("€", LATIN1, (0x03, b"?")),
        ("€", UCS2, (0x08, b"\x20\xac")),
        ("{", GSM, (0x00, b"\x1b\x28")),
        ("{", LATIN1, (0x03, b"{")),
        ("😀", GSM, (0x00, b"?")),
        ("😀", LATIN1, (0x03, b"?")),
        ("😀", UCS2, (0x08, b"\xd8\x3d\xde\x00")),
        ("@£$", GSM, (0x00, b"\x00\x01\x02")),
        ("Hi", GSM, (0x00, b"Hi")),
    ],
)
def test_encode(text: str, alphabet: Alphabet, expected: tuple[int, bytes]) -> None:
    """é, €, {, emoji and the GSM-specific positions, in each alphabet."""
    assert encode_text(text, alphabet) == expected


def test_flash() -> None:
    """Flash is message class 0: 0x10 for GSM, 0x18 for UCS-2, GSM 0x10 when Latin-1 asked."""
    assert encode_text("é€", GSM, flash=True) == (0x10, b"\x05\x1b\x65")
    assert encode_text("é€", UCS2, flash=True) == (0x18, b"\x00\xe9\x20\xac")
    assert encode_text("é€", LATIN1, flash=True) == (0x10, b"\x05\x1b\x65")


def test_every_extension_character_is_escaped() -> None:
    """The ten extension characters take ESC then their code."""
    for code, char in GSM_EXTENSION.items():
        assert gsm_encode(char) == bytes([0x1B, code])
    assert gsm_septets("".join(GSM_EXTENSION.values())) == 20


def test_stray_escape_character_is_not_sent_as_escape() -> None:
    """A U+001B in the text becomes '?', never a bare ESC that would change the next octet."""
    assert gsm_encode("a\x1bb") == b"a?b"


def test_accepted_set_encodes_to_gsm() -> None:
    """Every character of the manual's accepted list goes out in GSM; È as its nearest E."""
    for char in ACCEPTED - {"È"}:
        assert gsm_decode(gsm_encode(char)) == char
    assert gsm_encode("È") == b"E"
    assert is_gsm("".join(sorted(ACCEPTED)))


def test_is_gsm() -> None:
    """Question marks are GSM; ç and emoji are not."""
    assert is_gsm("Ça va? {ok}")
    assert not is_gsm("ça")
    assert not is_gsm("😀")


gsm_text = st.text(
    st.sampled_from([c for c in GSM_BASIC if c != "\x1b"] + [*GSM_EXTENSION.values()])
)


@given(gsm_text)
def test_gsm_round_trip(text: str) -> None:
    """Any text in the GSM tables decodes back to itself."""
    assert gsm_decode(gsm_encode(text)) == text
    assert decode_text(0x00, gsm_encode(text)) == text


@given(st.text())
def test_gsm_encode_any_text(text: str) -> None:
    """Any str encodes: one or two octets per character, all under 0x80."""
    octets = gsm_encode(text)
    assert all(o < 0x80 for o in octets)
    assert len(text) <= len(octets) <= 2 * len(text)
    assert gsm_decode(gsm_encode(map_text(text))) == map_text(text).replace("È", "E")


def test_gsm_decode_escapes() -> None:
    """An unknown escape falls back to the basic table; a lone or double ESC reads as space."""
    assert gsm_decode(b"\x1b\x41") == "A"
    assert gsm_decode(b"ab\x1b") == "ab "
    assert gsm_decode(b"\x1b\x1b\x41") == " A"
    assert gsm_decode(b"\x80a") == "?a"
    assert gsm_decode(b"\x1b\x80") == "?"


@pytest.mark.parametrize(
    ("data_coding", "payload", "text"),
    [
        (0x00, b"\x05t\x05", "été"),
        (0x01, b"Hello", "Hello"),
        (0x03, b"\xe9t\xe9", "été"),
        (0x08, b"\x00\xe9\x20\xac\xd8\x3d\xde\x00", "é€😀"),
        (0x10, b"\x1b\x65", "€"),
        (0x18, b"\x20\xac", "€"),
        (0xF0, b"\x05", "é"),
        (0xF4, b"\xe9", "é"),
        (0x04, b"\xff\x00", "\xff\x00"),
        (0x06, b"\xb0", "А"),  # ISO-8859-5 Cyrillic A
        (0xE0, b"\x00A", "A"),
        (0xC0, b"A", "A"),
        (0x30, b"\x01", "\x01"),  # compressed: octets kept
    ],
)
def test_decode_text(data_coding: int, payload: bytes, text: str) -> None:
    """Received messages decode by their data_coding, SMPP alphabets and GSM groups alike."""
    assert decode_text(data_coding, payload) == text


@given(st.integers(0, 255), st.binary(max_size=64))
def test_decode_text_never_raises(data_coding: int, payload: bytes) -> None:
    """Any data_coding with any octets decodes to some text."""
    assert isinstance(decode_text(data_coding, payload), str)


def test_odd_ucs2_does_not_raise() -> None:
    """A UCS-2 payload with an odd octet ends in a replacement character."""
    assert decode_text(0x08, b"\x00A\x00") == "A\ufffd"
