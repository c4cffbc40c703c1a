"""Start-up hygiene: unknown PASSERELLE_* variables, the text log format, quiet Alembic,
private simulator files."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from passerelle import logs
from passerelle.logs import TextFormatter
from passerelle.settings import unknown_variables
from passerelle.simulator.stats import write_json


def test_misspelt_variable_names_the_setting_meant() -> None:
    """A typo gets the closest setting; a far name none; settings and others are silent."""
    environ = {
        "PASSERELLE_WROKERS": "2",
        "PASSERELLE_ZZZ": "1",
        "PASSERELLE_PORT": "8080",
        "passerelle_log_level": "info",
        "HOME": "/root",
    }
    assert unknown_variables(environ) == [
        "PASSERELLE_WROKERS is not a Passerelle setting and is ignored; "
        "did you mean PASSERELLE_WORKERS?",
        "PASSERELLE_ZZZ is not a Passerelle setting and is ignored",
    ]


def test_text_format_shows_the_structured_fields() -> None:
    """`PASSERELLE_LOG_FORMAT=text`: the fields follow the message as key=value."""
    record = logging.LogRecord("passerelle", logging.INFO, __file__, 1, "listening", (), None)
    record.url = "http://127.0.0.1:8080"
    record.port = 8080
    record.reason = "two words"
    line = TextFormatter().format(record)
    assert line.endswith(' listening url=http://127.0.0.1:8080 port=8080 reason="two words"')
    assert "asctime=" not in line


def test_alembic_info_is_silenced_but_not_its_warnings() -> None:
    """Alembic's per-start info lines are dropped; its warnings still reach the log."""
    root, alembic = logging.getLogger(), logging.getLogger("alembic")
    saved = (root.handlers[:], root.level, alembic.level)
    try:
        logs.setup_logging("info", "text")
        plugins = logging.getLogger("alembic.runtime.plugins")
        assert not plugins.isEnabledFor(logging.INFO)
        assert plugins.isEnabledFor(logging.WARNING)
        assert logging.getLogger("passerelle").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        alembic.setLevel(saved[2])


def test_simulator_files_are_private(tmp_path: Path) -> None:
    """The simulator's state and stats files (numbers, texts) are written 0600."""
    target = tmp_path / "sim.state.json"
    leftover = tmp_path / f".{target.name}.{os.getpid()}.tmp"
    leftover.write_text("{}")
    leftover.chmod(0o644)
    write_json(target, {"pending": [["33612345678", "Bonjour"]]})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
