"""The schema's revision read without Alembic (`store/version.py`), and `serve`'s start
on an up-to-date database that does not load Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from passerelle.store import migrate, version
from tests import pgserver


def test_head_is_alembics_head() -> None:
    """`version.HEAD` names the newest migration (update it with each new migration)."""
    config = migrate.alembic_config("sqlite:///unused.db")
    assert ScriptDirectory.from_config(config).get_current_head() == version.HEAD


def test_the_revision_is_read_on_sqlite(tmp_path: Path) -> None:
    """A fresh file has no revision; a migrated one is at HEAD; a missing one is None."""
    url = f"sqlite:///{tmp_path / 'v.db'}"
    assert version.current_revision(url) is None and not version.up_to_date(url)
    migrate.upgrade(url, "0014")
    assert version.current_revision(url) == "0014" and not version.up_to_date(url)
    migrate.upgrade(url)
    assert version.up_to_date(url)


def test_the_revision_is_read_on_postgresql(postgres_admin_url: str) -> None:
    """The same on PostgreSQL, through asyncpg alone."""
    url = pgserver.new_database()
    assert version.current_revision(url) is None
    migrate.upgrade(url)
    assert version.up_to_date(url)


def test_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    """Preparing an up-to-date database (what `serve` does at start) imports neither
    Alembic nor SQLAlchemy; a database behind is migrated."""
    db = tmp_path / "p.db"
    script = (
        "import sys\n"
        "from passerelle.settings import Settings\n"
        "from passerelle.wiring import prepare_database\n"
        f"prepare_database(Settings(_env_file=None, database_url='sqlite:///{db}'))\n"
        "print('alembic' in sys.modules, 'sqlalchemy' in sys.modules)\n"
    )
    run = [sys.executable, "-c", script]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert first.stdout.split() == ["True", "True"]  # a new file: migrated
    assert version.up_to_date(f"sqlite:///{db}")
    again = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert again.stdout.split() == ["False", "False"], again.stdout + again.stderr
