"""The manual's accepted character list (annex 2) and the mapping of text onto it.

Every character outside the list becomes ``?``, as the manual says. The list is the
GSM 03.38 basic set as the manual prints it: CR, LF, printable ASCII except
`` ` [ \\ ] ^ { | } ~``, and the Latin-1 letters and signs GSM carries.
"""

from __future__ import annotations

ACCEPTED: frozenset[str] = frozenset(
    "\n\r"
    " !\"#$%&'()*+,-./0123456789:;<=>?@"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
    "abcdefghijklmnopqrstuvwxyz"
    "¡£¤¥§¿ÄÅÆÇÈÉÑÖØÜßàäåæèéìñòöøùü"
)


class _Mapper(dict[int, str]):
    """`str.translate` table: accepted characters map to themselves, others to '?'."""

    def __missing__(self, key: int) -> str:
        value = chr(key) if chr(key) in ACCEPTED else "?"
        self[key] = value
        return value


_MAPPER = _Mapper()


def map_text(text: str) -> str:
    """Return `text` with every character outside the accepted list replaced by '?'."""
    return text.translate(_MAPPER)


def is_accepted(text: str) -> bool:
    """True when every character of `text` is in the accepted list."""
    return all(c in ACCEPTED for c in text)


def decode_bytes(raw: bytes) -> str:
    """Decode percent-decoded bytes: valid UTF-8 as UTF-8, anything else as Windows-1252.

    The five bytes Windows-1252 leaves undefined decode to U+FFFD, which the mapping
    then turns into '?'.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
