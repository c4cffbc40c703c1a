"""Reading an uploaded contact file (CSV or XLSX bytes) into rows of strings, within
bounds, for `core.contacts.parse_rows`.

Synchronous and CPU-bound: the page runs `read_upload` on a worker thread
(`asyncio.to_thread`), so the event loop never waits for a spreadsheet.

- **CSV**: UTF-8 with or without its BOM, else Windows-1252; the delimiter is ``;`` when
  the first line has more ``;`` than ``,``, else ``,``.
- **XLSX** (a zip): refused before parsing when the archive has more than `MAX_ENTRIES`
  entries or unpacks to more than `MAX_UNPACKED` bytes (a zip bomb). The sizes read are
  the archive's declared ones, and Python's zip reader never returns more than the
  declared size of an entry, so a lying archive fails instead of growing. An XML part
  with a document type declaration (entities) is refused too. Then the first sheet, with
  openpyxl in read-only mode, cached values rather than formulas.
- Old ``.xls`` files and anything else are refused with a sentence saying what to do.
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Generator
from contextlib import closing

from passerelle.core.contacts import MAX_COLUMNS, MAX_ROWS, Parsed, parse_rows
from passerelle.exceptions import InvalidValue

MAX_UPLOAD = 2 * 1024 * 1024
# a sheet of 10 000 contacts unpacks to ~1.7 MB and is read in ~0.2 s of CPU; 8 MiB bounds
# what one upload can cost (openpyxl holds the GIL while it reads) to about a second
MAX_UNPACKED = 8 * 1024 * 1024
MAX_ENTRIES = 1000
MAX_LINES = 10 * MAX_ROWS  # lines of a sheet read, empty ones included
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"


def unreadable(key: str) -> InvalidValue:
    """The error of a file that cannot be imported: an InvalidValue whose message is the
    key of the console text that says why."""
    return InvalidValue(key)


def decode_text(data: bytes) -> str:
    """UTF-8 (its BOM dropped), else Windows-1252 (undefined bytes replaced)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    """``;`` when the first non-empty line has more of them than commas, else ``,``."""
    for line in text.splitlines():
        if line.strip():
            return ";" if line.count(";") > line.count(",") else ","
    return ","


def csv_rows(data: bytes) -> Generator[list[str]]:
    """The rows of a CSV file (a NUL byte is read as nothing)."""
    text = decode_text(data).replace("\x00", "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        yield from reader
    except csv.Error as error:
        raise unreadable("dir.import.unreadable") from error


def check_zip(data: bytes) -> None:
    """Refuse an archive that is not a zip, has too many entries or unpacks too large."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise unreadable("dir.import.unreadable") from error
    if len(entries) > MAX_ENTRIES or sum(e.file_size for e in entries) > MAX_UNPACKED:
        raise unreadable("dir.import.bomb")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            dtd = any(
                declares_dtd(archive, entry)
                for entry in entries
                if entry.filename.endswith((".xml", ".rels"))
            )
    except Exception as error:  # damaged, encrypted or unknown compression: many kinds
        raise unreadable("dir.import.unreadable") from error
    if dtd:
        raise unreadable("dir.import.unreadable")


DTD_MARKS = tuple("<!DOCTYPE".encode(c) for c in ("utf-8", "utf-16-le", "utf-16-be"))
CHUNK = 1024 * 1024


def declares_dtd(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bool:
    """True when an XML part of the archive has a document type declaration: a
    spreadsheet never needs one, and entities are how XML grows or reaches out (the
    parser's own limits stay as a second guard). Read in chunks, within the sizes
    `check_zip` allowed."""
    overlap = max(len(mark) for mark in DTD_MARKS)
    tail = b""
    with archive.open(entry) as stream:
        while chunk := stream.read(CHUNK):
            window = tail + chunk
            if any(mark in window for mark in DTD_MARKS):
                return True
            tail = window[-overlap:]
    return False


def cell_text(value: object) -> str:
    """A spreadsheet cell as text: integral floats without ``.0`` (a number typed in a
    cell comes back as 33612345678.0), dates in ISO form, empty cells as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def xlsx_rows(data: bytes) -> Generator[list[str]]:
    """The rows of the first sheet of an XLSX file (after `check_zip`)."""
    import openpyxl  # type: ignore[import-untyped]

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a damaged file
        raise unreadable("dir.import.unreadable") from error
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        for line, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)):
            if line > MAX_LINES:  # parse_rows stops before, unless most rows are empty
                raise unreadable("dir.import.too_many_lines")
            yield [cell_text(v) for v in values]
    except InvalidValue:
        raise
    except Exception as error:
        raise unreadable("dir.import.unreadable") from error
    finally:
        book.close()


def read_upload(data: bytes) -> Parsed:
    """Parse an uploaded contact file: CSV or XLSX by its content. InvalidValue (a text key) when
    the file is too large, not a spreadsheet, a zip bomb or damaged."""
    if len(data) > MAX_UPLOAD:
        raise unreadable("error.too_large")
    if not data.strip():
        raise unreadable("dir.import.empty")
    if data.startswith(OLE_MAGIC):
        raise unreadable("dir.import.xls")
    if data.startswith(ZIP_MAGIC):
        check_zip(data)
        rows = xlsx_rows(data)
    else:
        rows = csv_rows(data)
    with closing(rows):
        return parse_rows(rows)
