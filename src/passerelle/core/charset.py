"""The manual's accepted character list (annex 2) and the mapping of text onto it.

Every character outside the list becomes ``?``, as the manual says. The list is the
GSM 03.38 basic set as the manual prints it: CR, LF, printable ASCII except
`` ` [ \\ ] ^ { | } ~``, and the Latin-1 letters and signs GSM carries.
"""

from __future__ import annotations

import re

ACCEPTED: frozenset[str] = frozenset(
    "\n\r"
    " !\"#$%&'()*+,-./0123456789:;<=>?@"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
    "abcdefghijklmnopqrstuvwxyz"
    "¡£¤¥§¿ÄÅÆÇÈÉÑÖØÜßàäåæèéìñòöøùü"
)


# one character outside the list (re.escape makes each of them literal in the class)
_REFUSED = re.compile("[^" + "".join(re.escape(c) for c in sorted(ACCEPTED)) + "]")


def map_text(text: str) -> str:
    """Return `text` with every character outside the accepted list replaced by '?'."""
    return _REFUSED.sub("?", text)


def is_accepted(text: str) -> bool:
    """True when every character of `text` is in the accepted list."""
    return ACCEPTED.issuperset(text)


def decode_bytes(raw: bytes) -> str:
    """Decode percent-decoded bytes: valid UTF-8 as UTF-8, anything else as Windows-1252.

    The five bytes Windows-1252 leaves undefined decode to U+FFFD, which the mapping
    then turns into '?'.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
