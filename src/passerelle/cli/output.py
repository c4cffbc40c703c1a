"""How the `passerelle` command prints: consoles and tables that never cut a value.

On a terminal, lines fit its width and a long table cell folds onto the next line
(never ``…``). Piped into a file or another program there is no width to respect:
nothing is wrapped or cut, so ``passerelle callbacks list | grep`` sees whole msgids.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

UNBOUNDED = 100_000  # columns when not a terminal: wider than any line we print


def console(stderr: bool = False) -> Console:
    """A console for standard output (or error) that wraps only on a terminal."""
    made = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not made.is_terminal:
        made.width = UNBOUNDED
    return made


def table(*headers: str) -> Table:
    """A table whose cells fold rather than being cut when the terminal is narrow."""
    return Table(*(Column(header, overflow="fold") for header in headers))


def plain(text: object) -> str:
    """`text` as it is, even if it holds ``[...]`` (rich would read it as markup)."""
    return escape(str(text))
