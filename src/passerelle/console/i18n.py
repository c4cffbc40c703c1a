"""The console's words in French (the manual's, the default) and English.

Each area of the console keeps its texts in its own table (`texts_*.py`): a key and its
(French, English) pair. A key missing from every table shows as itself, which a test
catches (`tests/unit/test_console_texts.py`).
"""

from __future__ import annotations

from collections.abc import Callable

from passerelle.console import (
    texts_auth,
    texts_customer,
    texts_directory,
    texts_keys,
    texts_operator,
)

LANGS = ("fr", "en")

TEXTS: dict[str, tuple[str, str]] = {
    **texts_auth.TEXTS,
    **texts_customer.TEXTS,
    **texts_directory.TEXTS,
    **texts_keys.TEXTS,
    **texts_operator.TEXTS,
}


def translator(lang: str) -> Callable[[str], str]:
    """The function the templates call as ``t('key')``."""
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = TEXTS.get(key)
        return key if pair is None else pair[index]

    return t
