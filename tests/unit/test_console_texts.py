"""Every text key the console's templates and pages use has a French and an English text."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from passerelle.console.i18n import TEXTS

CONSOLE = Path(str(files("passerelle.console")))
IN_TEMPLATES = re.compile(r"""\bt\(\s*['"]([a-z_.0-9]+)['"]\s*\)""")
IN_CODE = re.compile(
    r"""(?:\bt\(|Refusal\(\s*\d+,\s*|ok=|error=|message=)\s*['"]([a-z_]+\.[a-z_.0-9]*[a-z_0-9])['"]"""
)


def used_keys() -> set[str]:
    """The keys the templates and the page modules name literally."""
    keys: set[str] = set()
    for template in (CONSOLE / "templates").glob("*.html"):
        keys |= set(IN_TEMPLATES.findall(template.read_text()))
    for module in CONSOLE.glob("*.py"):
        keys |= set(IN_CODE.findall(module.read_text()))
    return keys


def test_every_used_key_has_both_texts() -> None:
    """No page shows a bare key: each used key has a non-empty French and English text."""
    keys = used_keys()
    assert len(keys) > 20  # the scan finds the keys
    missing = sorted(k for k in keys if k not in TEXTS)
    assert not missing, missing
    empty = sorted(k for k, (fr, en) in TEXTS.items() if not fr.strip() or not en.strip())
    assert not empty, empty
