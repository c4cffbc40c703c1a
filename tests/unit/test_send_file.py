"""Reading the numbers file of `passerelle send --file` (`cli/batches.py`)."""

from __future__ import annotations

from pathlib import Path

from passerelle.cli.batches import key_base, read_numbers


def test_csv_header_blank_lines_duplicates_and_bad_lines(tmp_path: Path) -> None:
    """The first CSV column is read, the header and blanks skipped, bad lines reported."""
    path = tmp_path / "n.csv"
    path.write_text(
        "number;name\n+33611111111;Ann\n\n0033622222222;Bob\nabc;Cy\n123;Di\n33611111111;Ann\n"
    )
    found = read_numbers(path)
    assert [(g.line, g.number) for g in found.good] == [(2, "33611111111"), (4, "33622222222")]
    assert [(b.line, b.reason[:2]) for b in found.bad] == [(5, "05"), (6, "06")]
    assert found.duplicates == 1


def test_keys_depend_on_the_file_and_the_command(tmp_path: Path) -> None:
    """Same file and command: same key base; another text: another one."""
    path = tmp_path / "n.txt"
    path.write_text("33611111111\n")
    digest = read_numbers(path).digest
    assert key_base(digest, "a", "S", 5, 1000) == key_base(digest, "a", "S", 5, 1000)
    assert key_base(digest, "a", "S", 5, 1000) != key_base(digest, "b", "S", 5, 1000)
