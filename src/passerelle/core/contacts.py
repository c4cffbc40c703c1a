"""Contacts and groups: checking names and numbers, and reading imported rows (pure).

- **Names**: a contact's name is 1 to `MAX_NAME` characters, a group's 1 to `MAX_GROUP`,
  without control characters, blanks trimmed.
- **Numbers**: the rules of a send (`core.numbers`, codes 05, 06 and 07); a leading ``+``
  or ``00`` is removed, and so are the spaces, dots, dashes and brackets people type
  inside a number (``+33 6 12-34-56-78`` is stored ``33612345678``). What is stored is
  a number a send accepts as it is.
- **Imports**: `parse_rows` reads rows of strings (from a CSV or XLSX file, read by
  `console/imports.py`) into the contacts to store and the lines refused, with their
  line numbers. The first row is a header when it has no valid number and looks like
  one; a header names the columns (``numero``/``number``/``tel``..., ``nom``/``name``,
  in any order), otherwise the number is the first row's cell that holds a number and
  the name the first other cell. At most `MAX_ROWS` data rows are read (an error says
  where reading stopped), cells are at most `MAX_CELL` characters, and a number given
  twice in one file is reported on its second line.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from passerelle.core import numbers
from passerelle.core.codes import LegacyCode
from passerelle.core.console import NewContact

MAX_NAME = 100
MAX_GROUP = 64
MAX_ROWS = 10_000
MAX_CELL = 200
MAX_COLUMNS = 20  # columns read from a row; the others are ignored
SHOWN = 60  # characters of a refused value shown back

NUMBER_HEADERS = frozenset(
    {"numero", "number", "tel", "telephone", "phone", "mobile", "portable", "gsm", "msisdn"}
)
NAME_HEADERS = frozenset({"nom", "name"})
SEPARATORS = str.maketrans("", "", " .-()/\u00a0\t")


class Problem(enum.StrEnum):
    """Why a name, a number or an imported line is refused (the value is the key of
    its text in the console's tables, ``dir.problem.<value>``)."""

    NAME_EMPTY = "name_empty"
    NAME_TOO_LONG = "name_too_long"
    NAME_CONTROL = "name_control"
    GROUP_EMPTY = "group_empty"
    GROUP_TOO_LONG = "group_too_long"
    GROUP_CONTROL = "group_control"
    NUMBER_MISSING = "number_missing"
    NOT_NUMERIC = "not_numeric"
    TOO_SHORT = "too_short"
    BAD_PREFIX = "bad_prefix"
    DUPLICATE = "duplicate"
    CELL_TOO_LONG = "cell_too_long"
    TOO_MANY_ROWS = "too_many_rows"


def _code(code: LegacyCode) -> str:
    return f"API code {code.number}: {code.label}"


SENTENCES: dict[Problem, str] = {
    Problem.NAME_EMPTY: "name: required",
    Problem.NAME_TOO_LONG: f"name: at most {MAX_NAME} characters",
    Problem.NAME_CONTROL: "name: control characters (line breaks, tabs...) are not allowed",
    Problem.GROUP_EMPTY: "group name: required",
    Problem.GROUP_TOO_LONG: f"group name: at most {MAX_GROUP} characters",
    Problem.GROUP_CONTROL: "group name: control characters are not allowed",
    Problem.NUMBER_MISSING: f"number: required ({_code(LegacyCode.DEST_MISSING)})",
    Problem.NOT_NUMERIC: (
        f"number: digits only, after an optional + or 00 ({_code(LegacyCode.DEST_NOT_NUMERIC)})"
    ),
    Problem.TOO_SHORT: (
        f"number: {numbers.MIN_DIGITS} to {numbers.MAX_DIGITS} digits, country code included "
        f"({_code(LegacyCode.DEST_TOO_SHORT)})"
    ),
    Problem.BAD_PREFIX: (
        "number: must start with a country calling code, e.g. 33 for France "
        f"({_code(LegacyCode.BAD_PREFIX)})"
    ),
    Problem.DUPLICATE: "number: already on an earlier line of the file",
    Problem.CELL_TOO_LONG: f"a cell has more than {MAX_CELL} characters",
    Problem.TOO_MANY_ROWS: f"only the first {MAX_ROWS} lines are read: not this one and the rest",
}

_FAULTS = {
    numbers.NumberFault.NOT_NUMERIC: Problem.NOT_NUMERIC,
    numbers.NumberFault.TOO_SHORT: Problem.TOO_SHORT,
    numbers.NumberFault.BAD_PREFIX: Problem.BAD_PREFIX,
}
_BY_SENTENCE = {sentence: problem for problem, sentence in SENTENCES.items()}


def problem_of(message: str) -> Problem | None:
    """The problem whose sentence `message` is (to show it in the visitor's language)."""
    return _BY_SENTENCE.get(message)


def has_control(text: str) -> bool:
    """True when `text` has a control character (category Cc: tabs, line breaks...)."""
    return any(unicodedata.category(c) == "Cc" for c in text)


def name_problem(name: str) -> Problem | None:
    """Why a contact's name (already trimmed) is refused, or None."""
    if not name:
        return Problem.NAME_EMPTY
    if len(name) > MAX_NAME:
        return Problem.NAME_TOO_LONG
    return Problem.NAME_CONTROL if has_control(name) else None


def group_problem(name: str) -> Problem | None:
    """Why a group's name (already trimmed) is refused, or None."""
    if not name:
        return Problem.GROUP_EMPTY
    if len(name) > MAX_GROUP:
        return Problem.GROUP_TOO_LONG
    return Problem.GROUP_CONTROL if has_control(name) else None


def normalise(number: str) -> str:
    """A number as stored: separators removed, then a leading + or 00 (`core.numbers`)."""
    return numbers.normalise_one(number.strip().translate(SEPARATORS))


def number_problem(number: str) -> Problem | None:
    """Why a normalised number is refused by the rules of a send, or None."""
    if not number:
        return Problem.NUMBER_MISSING
    fault = numbers.number_fault(number)
    return None if fault is None else _FAULTS[fault]


@dataclass(frozen=True, slots=True)
class LineError:
    """A refused line of an import: its line number (1 = the file's first), the value
    shown back (cut to `SHOWN` characters) and why."""

    line: int
    value: str
    problem: Problem
    detail: str = ""  # e.g. the earlier line of a duplicate


@dataclass
class Parsed:
    """An import read: the contacts to store, the refused lines, and whether the first
    row was a header."""

    contacts: list[NewContact] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    header: bool = False


def _shown(value: str) -> str:
    return value if len(value) <= SHOWN else value[: SHOWN - 1] + "…"


def _header_key(cell: str) -> str:
    decomposed = unicodedata.normalize("NFKD", cell.strip().casefold())
    return "".join(c for c in decomposed if c.isalnum())


def _columns(first: Sequence[str]) -> tuple[bool, int, int | None]:
    """(header?, number column, name column) from the first non-empty row."""
    valid = [i for i, cell in enumerate(first) if number_problem(normalise(cell)) is None]
    if valid:
        number_col = valid[0]
        names = [i for i, c in enumerate(first) if i != number_col and c.strip()]
        return False, number_col, names[0] if names else (1 if number_col == 0 else 0)
    keys = [_header_key(cell) for cell in first]
    number_cols = [i for i, k in enumerate(keys) if k in NUMBER_HEADERS]
    name_cols = [i for i, k in enumerate(keys) if k in NAME_HEADERS]
    digits = any(ch.isdigit() for cell in first for ch in cell)
    if number_cols or name_cols or not digits:
        if number_cols:
            return True, number_cols[0], name_cols[0] if name_cols else None
        if name_cols:  # a name column only: the number is the first other column
            return True, 1 if name_cols[0] == 0 else 0, name_cols[0]
        return True, 0, 1
    # a first line of data whose number is wrong (reported as such): the number is the
    # cell with the most digits
    counts = [sum(ch.isdigit() for ch in cell) for cell in first]
    number_col = counts.index(max(counts))
    names = [i for i, c in enumerate(first) if i != number_col and c.strip()]
    return False, number_col, names[0] if names else (1 if number_col == 0 else 0)


def parse_rows(rows: Iterable[Sequence[str]]) -> Parsed:
    """Read imported rows (line numbers count from 1, empty rows included) into the
    contacts to store and the refused lines. Stops reading after `MAX_ROWS` data rows."""
    parsed = Parsed()
    seen: dict[str, int] = {}
    number_col: int = 0
    name_col: int | None = 1
    started = False
    data_rows = 0
    for line, raw in enumerate(rows, start=1):
        row = [cell.strip() for cell in raw[:MAX_COLUMNS]]
        if not any(row):
            continue
        if not started:
            started = True
            header, number_col, name_col = _columns(row)
            if header:
                parsed.header = True
                continue
        data_rows += 1
        if data_rows > MAX_ROWS:
            parsed.errors.append(LineError(line, "", Problem.TOO_MANY_ROWS))
            break
        number_cell = row[number_col] if number_col < len(row) else ""
        name = row[name_col] if name_col is not None and name_col < len(row) else ""
        if any(len(cell) > MAX_CELL for cell in row):
            parsed.errors.append(LineError(line, _shown(number_cell), Problem.CELL_TOO_LONG))
            continue
        number = normalise(number_cell)
        problem = number_problem(number)
        if problem is None and name:
            problem = name_problem(name)
        if problem is not None:
            of_name = problem in (Problem.NAME_TOO_LONG, Problem.NAME_CONTROL)
            shown = name if of_name else number_cell
            parsed.errors.append(LineError(line, _shown(shown), problem))
            continue
        if number in seen:
            earlier = str(seen[number])
            parsed.errors.append(LineError(line, _shown(number_cell), Problem.DUPLICATE, earlier))
            continue
        seen[number] = line
        parsed.contacts.append(NewContact(name, number))
    return parsed
