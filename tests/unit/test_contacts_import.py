"""Reading imported contact files: the pure row parser and the CSV/XLSX readers."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from passerelle.console.imports import read_upload
from passerelle.core.console import NewContact
from passerelle.core.contacts import (
    MAX_ROWS,
    Problem,
    group_problem,
    name_problem,
    normalise,
    parse_rows,
)
from passerelle.exceptions import InvalidValue
from passerelle.service_directory import checked_contact, checked_group


def test_good_lines_become_contacts() -> None:
    """Numbers are normalised like a send's; the name is optional."""
    parsed = parse_rows([["+33612345678", "Alice"], ["0033 6 12 34 56 79", ""], ["33612345680"]])
    assert parsed.errors == [] and not parsed.header
    assert parsed.contacts == [
        NewContact("Alice", "33612345678"),
        NewContact("", "33612345679"),
        NewContact("", "33612345680"),
    ]


def test_bad_lines_are_reported_by_line_number() -> None:
    """Each refused line says its number (empty lines counted), its value and why."""
    rows = [["33612345678", "A"], ["33x612345678", "B"], [], ["336123", "C"], ["0612345678", "D"]]
    rows.append(["33612345678", "again"])
    parsed = parse_rows(rows)
    assert [c.number for c in parsed.contacts] == ["33612345678"]
    found = [(e.line, e.value, e.problem) for e in parsed.errors]
    assert found == [
        (2, "33x612345678", Problem.NOT_NUMERIC),
        (4, "336123", Problem.TOO_SHORT),
        (5, "0612345678", Problem.BAD_PREFIX),
        (6, "33612345678", Problem.DUPLICATE),
    ]
    assert parsed.errors[-1].detail == "1"


def test_header_names_the_columns_in_any_order() -> None:
    """A first row without a number is a header; `nom`/`tel` are found in any order."""
    parsed = parse_rows([["Nom", "Téléphone"], ["Alice", "33612345678"]])
    assert parsed.header
    assert parsed.contacts == [NewContact("Alice", "33612345678")]
    parsed = parse_rows([["name", "x", "NUMERO"], ["Bob", "?", "33612345679"]])
    assert parsed.contacts == [NewContact("Bob", "33612345679")]


def test_no_header_number_column_is_sniffed() -> None:
    """Without a header, the number is the first row's cell holding a valid number."""
    parsed = parse_rows([["Alice", "33612345678"], ["Bob", "33612345679"]])
    assert not parsed.header
    assert [c.name for c in parsed.contacts] == ["Alice", "Bob"]


def test_bad_first_line_is_data_not_header() -> None:
    """A first line with a wrong number is reported, not skipped as a header."""
    parsed = parse_rows([["Alice", "0612345678"], ["Bob", "33612345679"]])
    assert not parsed.header
    assert [(e.line, e.problem) for e in parsed.errors] == [(1, Problem.BAD_PREFIX)]
    assert parsed.contacts == [NewContact("Bob", "33612345679")]


def test_semicolon_delimiter_and_bom() -> None:
    """A UTF-8 CSV with a BOM and `;` is read, accents kept."""
    data = "\ufeffnumero;nom\n33612345678;Élodie\n33612345679;Zoé\n".encode()
    parsed = read_upload(data)
    assert parsed.header and parsed.errors == []
    assert parsed.contacts[0] == NewContact("Élodie", "33612345678")


def test_windows_1252_fallback() -> None:
    """A file that is not UTF-8 is read as Windows-1252."""
    parsed = read_upload("33612345678,Hélène\r\n".encode("cp1252"))
    assert parsed.contacts == [NewContact("Hélène", "33612345678")]


def test_row_cap_reports_the_rest() -> None:
    """Past MAX_ROWS data rows, one error says where reading stopped; the rest are kept."""
    rows = [[str(33600000000 + i)] for i in range(MAX_ROWS + 5)]
    parsed = parse_rows(rows)
    assert len(parsed.contacts) == MAX_ROWS
    assert [(e.line, e.problem) for e in parsed.errors] == [(MAX_ROWS + 1, Problem.TOO_MANY_ROWS)]


def test_long_cells_and_names() -> None:
    """A cell over 200 characters, or a name with a control character, refuses its line."""
    parsed = parse_rows([["33612345678", "x" * 201], ["33612345679", "a\x07b"]])
    assert [e.problem for e in parsed.errors] == [Problem.CELL_TOO_LONG, Problem.NAME_CONTROL]
    assert len(parsed.errors[0].value) <= 60


def test_name_and_group_rules() -> None:
    """Names are 1-100 characters, group names 1-64, without control characters."""
    assert name_problem("") is Problem.NAME_EMPTY
    assert name_problem("x" * 101) is Problem.NAME_TOO_LONG
    assert name_problem("Jean\nDupont") is Problem.NAME_CONTROL
    assert name_problem("x" * 100) is None
    assert group_problem("g" * 65) is Problem.GROUP_TOO_LONG
    assert group_problem("Clients VIP") is None
    assert normalise(" +33 6-12.34.56.78 ") == "33612345678"


def test_xlsx_first_sheet() -> None:
    """An XLSX file's first sheet is read; numbers typed as numbers lose their `.0`."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Nom", "Numéro"])
    sheet.append(["Alice", 33612345678])
    sheet.append(["Bob", 33612345679.0])
    sheet.append(["Carl", "abc"])
    out = io.BytesIO()
    book.save(out)
    parsed = read_upload(out.getvalue())
    assert parsed.contacts == [
        NewContact("Alice", "33612345678"),
        NewContact("Bob", "33612345679"),
    ]
    assert [(e.line, e.problem) for e in parsed.errors] == [(4, Problem.NOT_NUMERIC)]


def test_zip_bomb_is_refused_before_parsing() -> None:
    """An archive with too many entries, or too large unpacked, is refused unread."""
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(1001):
            archive.writestr(f"f{i}", b"")
    with pytest.raises(InvalidValue) as caught:
        read_upload(many.getvalue())
    assert str(caught.value) == "dir.import.bomb"
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (51 * 1024 * 1024))
    with pytest.raises(InvalidValue) as caught:
        read_upload(big.getvalue())
    assert str(caught.value) == "dir.import.bomb"


def test_unreadable_files() -> None:
    """An old .xls, a damaged zip or an empty file is refused with a reason."""
    for data, key in [
        (b"\xd0\xcf\x11\xe0rest", "dir.import.xls"),
        (b"PK\x03\x04garbage", "dir.import.unreadable"),
        (b"  \n", "dir.import.empty"),
    ]:
        with pytest.raises(InvalidValue) as caught:
            read_upload(data)
        assert str(caught.value) == key


def test_xlsx_with_a_dtd_is_refused() -> None:
    """An XML part declaring a DTD (entity expansion, external entities) is refused."""
    book = openpyxl.Workbook()
    book.active.append(["33612345678"])
    out = io.BytesIO()
    book.save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    hostile = io.BytesIO()
    with zipfile.ZipFile(hostile, "w") as archive:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                data = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + data
            archive.writestr(entry.filename, data)
    with pytest.raises(InvalidValue) as caught:
        read_upload(hostile.getvalue())
    assert str(caught.value) == "dir.import.unreadable"
    assert read_upload(out.getvalue()).contacts  # the same file without it is read


def test_refused_values_say_why_with_the_api_code() -> None:
    """A refused number's InvalidValue names the API code a send would answer."""
    for number, code in [("33x12345678", "05"), ("336123", "06"), ("0612345678", "07")]:
        with pytest.raises(InvalidValue, match=f"API code {code}"):
            checked_contact("Ann", number)
    with pytest.raises(InvalidValue, match="name"):
        checked_contact("  ", "33612345678")
    assert checked_contact(" Ann ", "+33 6 12 34 56 78") == NewContact("Ann", "33612345678")
    with pytest.raises(InvalidValue, match="group name"):
        checked_group("a\tb")
