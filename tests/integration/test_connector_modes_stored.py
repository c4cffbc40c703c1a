"""Connector modes survive the store as their strings (memory and SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from passerelle.core.modes import BindMode, Coding, IdMode
from passerelle.core.values import Connector
from passerelle.store.base import Store
from tests.support import sqlite_store


@pytest.mark.parametrize(
    ("bind_mode", "id_mode", "coding"),
    [
        (BindMode.TRX, IdMode.AS_IS, Coding.GSM),
        (BindMode.TX_RX, IdMode.HEX_TO_DEC, Coding.LATIN1),
        (BindMode.TRX, IdMode.DEC_TO_HEX, Coding.LATIN1),
    ],
)
async def test_modes_read_back_as_members(
    store: Store, bind_mode: BindMode, id_mode: IdMode, coding: Coding
) -> None:
    """A connector's modes come back from the store as the same enum members."""
    await store.add_connector(
        Connector("op", "127.0.0.1", 2775, "gw", "pw", bind_mode=bind_mode, id_mode=id_mode,
                  coding=coding)
    )  # fmt: skip
    [back] = await store.list_connectors()
    assert (back.bind_mode, back.id_mode, back.coding) == (bind_mode, id_mode, coding)
    assert back.bind_mode is bind_mode and back.id_mode is id_mode and back.coding is coding


async def test_sqlite_holds_the_plain_strings(tmp_path: Path) -> None:
    """The connectors table holds the strings "tx+rx", "dec-to-hex", "latin1" (SQLite)."""
    store = await sqlite_store(tmp_path / "modes.db")
    await store.add_connector(
        Connector("op", "127.0.0.1", 2775, "gw", "pw", bind_mode=BindMode.TX_RX,
                  id_mode=IdMode.DEC_TO_HEX, coding=Coding.LATIN1)
    )  # fmt: skip
    await store.close()
    with sqlite3.connect(store.path) as conn:
        row = conn.execute("SELECT bind_mode, id_mode, coding FROM connectors").fetchone()
    assert row == ("tx+rx", "dec-to-hex", "latin1")
    assert all(type(value) is str for value in row)
