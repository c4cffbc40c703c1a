"""Text to ``(data_coding, short_message octets)`` and back (SMPP 3.4 section 5.2.19).

Sending, three alphabets:

- ``GSM`` (data_coding 0x00): GSM 03.38 default alphabet, unpacked, one septet per
  octet. Extension-table characters (``{ } [ ] ~ \\ | ^ €`` and form feed) take two
  octets, ESC (0x1B) then their code. ``È``, which the manual's accepted list has
  and GSM lacks, is sent as ``E``; anything else becomes ``?``.
- ``LATIN1`` (0x03): ISO-8859-1, one octet per character; anything else becomes ``?``
  (``€`` included: it is not in ISO-8859-1).
- ``UCS2`` (0x08): UTF-16 big-endian. Characters beyond the BMP (emoji) travel as
  surrogate pairs, which is what handsets and SMSCs that say "UCS-2" actually accept.

Flash (message class 0) uses the GSM 03.38 "general data coding" group: 0x10 for the
GSM alphabet, 0x18 for UCS-2. That group has no Latin-1, so a flash message asked
in Latin-1 is sent as GSM flash (0x10); Passerelle's texts are in the GSM basic set
(`core.charset`), so nothing is lost for them. Decision recorded here.

Receiving (`decode_text`) never raises: the SMPP alphabets 0x00-0x0F and the GSM
coding groups are read; octets that do not decode become U+FFFD or ``?``; unknown,
compressed or binary codings are read as Latin-1 so no octet is lost.

The GSM table is our own, not the `gsm0338` package: gsm0338 1.1.0 encodes a stray
U+001B as a bare ESC (which silently changes the next character), drops a trailing
ESC, raises on an unknown escape sequence instead of falling back as 3GPP TS 23.038
says, registers a codec globally on import, has no type hints, and encodes one
character at a time (about 60 µs for 160 characters where `str.translate` takes a
few). The table below was checked against gsm0338's tables: same 128 + 10 codes.
"""

from __future__ import annotations

import enum

# GSM 03.38 default alphabet in code order; 0x1B (ESC) is a placeholder, never mapped.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
# Characters of `core.charset.ACCEPTED` that GSM lacks, sent as their nearest letter.
GSM_FALLBACK = {"È": "E"}
ESC = 0x1B


class Alphabet(enum.Enum):
    """The alphabets Passerelle sends in."""

    GSM = "gsm"
    LATIN1 = "latin1"
    UCS2 = "ucs2"


class DataCoding(enum.IntEnum):
    """The data_coding values Passerelle sends."""

    GSM = 0x00
    LATIN1 = 0x03
    UCS2 = 0x08
    GSM_FLASH = 0x10
    UCS2_FLASH = 0x18


class _EncodeTable(dict[int, str]):
    """`str.translate` table onto GSM octets (as Latin-1 code points); others to '?'."""

    def __missing__(self, key: int) -> str:
        return "?"


def _encode_table() -> _EncodeTable:
    table = _EncodeTable()
    for code, char in enumerate(GSM_BASIC):
        if code != ESC:
            table[ord(char)] = chr(code)
    for code, char in GSM_EXTENSION.items():
        table[ord(char)] = chr(ESC) + chr(code)
    for char, replacement in GSM_FALLBACK.items():
        table[ord(char)] = table[ord(replacement)]
    return table


_GSM_ENCODE = _encode_table()
_GSM_DECODE = str.maketrans(
    {chr(code): char for code, char in enumerate(GSM_BASIC) if code != ESC}
    | {chr(code): "?" for code in range(0x80, 0x100)}
)
_SMPP_CODECS = {
    0x01: "ascii",  # IA5
    0x03: "latin-1",
    0x06: "iso8859-5",
    0x07: "iso8859-8",
    0x08: "utf-16-be",
    0x0A: "iso2022-jp",
    0x0E: "euc-kr",  # KS C 5601
}


def gsm_encode(text: str) -> bytes:
    """GSM 03.38 unpacked octets of `text` (extension characters escaped, others '?')."""
    return text.translate(_GSM_ENCODE).encode("latin-1")


def gsm_decode(payload: bytes) -> str:
    """Text of unpacked GSM 03.38 octets; an unknown escape falls back to the basic table."""
    if ESC not in payload:
        return payload.decode("latin-1").translate(_GSM_DECODE)
    out: list[str] = []
    i, size = 0, len(payload)
    while i < size:
        octet = payload[i]
        if octet != ESC:
            out.append(GSM_BASIC[octet] if octet < 0x80 else "?")
            i += 1
            continue
        if i + 1 == size or payload[i + 1] == ESC:
            out.append(" ")  # lone ESC, or ESC ESC (another table): shown as a space
            i += 1 if i + 1 == size else 2
            continue
        octet = payload[i + 1]
        out.append(GSM_EXTENSION.get(octet) or (GSM_BASIC[octet] if octet < 0x80 else "?"))
        i += 2
    return "".join(out)


def gsm_septets(text: str) -> int:
    """How many septets `text` takes in the GSM alphabet (extension characters count 2)."""
    return len(text.translate(_GSM_ENCODE))


def is_gsm(text: str) -> bool:
    """True when `text` encodes to GSM without any character turned into '?'."""
    return "?" not in text.replace("?", "").translate(_GSM_ENCODE)


def encode_text(
    text: str, alphabet: Alphabet = Alphabet.GSM, flash: bool = False
) -> tuple[int, bytes]:
    """``(data_coding, octets)`` of `text` in `alphabet`, as message class 0 if `flash`."""
    if alphabet is Alphabet.UCS2:
        payload = text.encode("utf-16-be", errors="replace")
        return (DataCoding.UCS2_FLASH if flash else DataCoding.UCS2), payload
    if alphabet is Alphabet.LATIN1 and not flash:
        return DataCoding.LATIN1, text.encode("latin-1", errors="replace")
    return (DataCoding.GSM_FLASH if flash else DataCoding.GSM), gsm_encode(text)


def _scheme(data_coding: int) -> str:
    """'gsm', 'ucs2' or a Python codec name for a received data_coding."""
    if data_coding == 0x00:
        return "gsm"
    if data_coding < 0x10:
        return _SMPP_CODECS.get(data_coding, "latin-1")
    group = data_coding >> 4
    if group <= 0x7:  # general data coding (0x00-0x3F) and automatic deletion (0x40-0x7F)
        if data_coding & 0x20:  # compressed: not supported, keep the octets
            return "latin-1"
        return ("gsm", "latin-1", "utf-16-be", "latin-1")[(data_coding >> 2) & 0x3]
    if group in (0xC, 0xD):  # message waiting indication, GSM alphabet
        return "gsm"
    if group == 0xE:  # message waiting indication, UCS-2
        return "utf-16-be"
    if group == 0xF:  # data coding / message class: bit 2 set means 8-bit data
        return "latin-1" if data_coding & 0x04 else "gsm"
    return "latin-1"


def decode_text(data_coding: int, payload: bytes) -> str:
    """Text of a received short_message or message_payload; never raises."""
    scheme = _scheme(data_coding)
    if scheme == "gsm":
        return gsm_decode(payload)
    return payload.decode(scheme, errors="replace")
