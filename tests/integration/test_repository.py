"""The repository stands alone: `./dev` explains itself, docs cite only what is here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# references to files outside the repository (a design note kept elsewhere, the
# machine the project was first developed on, a sibling folder of peer harnesses)
OUTSIDE = re.compile(r"DESIGN(\.md|\s*§|\s+section|\s+\d)|/work/|\.\./shared|shared/peers")


def documents() -> list[Path]:
    """README, docs/, bench/ (not the raw results), examples/, deploy/, and the code and
    tests (whose docstrings point readers to the docs)."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found += [p for p in sorted((ROOT / "bench").iterdir()) if p.is_file()]
    found += [p for p in sorted((ROOT / "examples").rglob("*")) if p.is_file()]
    found += [p for p in sorted((ROOT / "deploy").rglob("*")) if p.is_file()]
    found += sorted((ROOT / "src").rglob("*.py"))
    found += [p for p in sorted((ROOT / "tests").rglob("*.py")) if p != Path(__file__)]
    return found


def test_dev_without_command_prints_its_usage_only() -> None:
    """`./dev` alone prints the two commands (no shell line) and exits 2."""
    done = subprocess.run(
        [str(ROOT / "dev")], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert "set -euo" not in done.stdout + done.stderr
    assert "./dev serve [ARGS]" in done.stdout and "./dev test  [ARGS]" in done.stdout


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_cite_only_the_repository(path: Path) -> None:
    """No document, script or module points at a design file or folder outside the repo."""
    text = path.read_text("utf-8", "replace")
    hits = [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]
    assert hits == [], hits
