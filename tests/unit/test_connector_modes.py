"""Connector modes (`core.modes`): enums whose members are the stored strings."""

from __future__ import annotations

import enum

import click
import pytest

from passerelle.cli.delivery import connector_add
from passerelle.core.modes import BindMode, Coding, IdMode
from passerelle.core.receipts import IdMode as ReceiptsIdMode

STORED = {
    BindMode: ["trx", "tx+rx"],
    IdMode: ["as-is", "hex-to-dec", "dec-to-hex"],
    Coding: ["gsm", "latin1"],
}
MEMBERS = [member for mode in STORED for member in mode]


@pytest.mark.parametrize("mode", list(STORED), ids=lambda m: m.__name__)
def test_values_are_the_stored_strings(mode: type[enum.StrEnum]) -> None:
    """Each mode's values are exactly the strings the connectors table holds, in order."""
    assert [m.value for m in mode] == STORED[mode]


@pytest.mark.parametrize("member", MEMBERS, ids=str)
def test_round_trip_with_the_stored_string(member: enum.StrEnum) -> None:
    """A member is equal to, formats as, and is read back from its stored string."""
    text = member.value
    assert member == text and str(member) == text and f"{member}" == text
    assert type(member)(text) is member
    assert type(member)(member) is member


def test_cli_choices_are_unchanged() -> None:
    """`connector add` offers the same choices and defaults as before the enums."""
    options = {p.name: p for p in connector_add.params if isinstance(p, click.Option)}
    for name, mode, default in [
        ("bind_mode", BindMode, "trx"),
        ("id_mode", IdMode, "as-is"),
        ("coding", Coding, "gsm"),
    ]:
        option = options[name]
        assert isinstance(option.type, click.Choice)
        assert list(option.type.choices) == STORED[mode]
        assert option.default == default


def test_receipts_id_mode_is_the_same_enum() -> None:
    """`core.receipts.IdMode`, its old home, names the same class."""
    assert ReceiptsIdMode is IdMode
