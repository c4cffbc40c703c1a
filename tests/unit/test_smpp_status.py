"""The command_status table and its temporary / permanent classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.smpp.status import (
    TABLE,
    Status,
    StatusClass,
    classify,
    describe,
    is_throttle,
    name_of,
)

SMPP34_CODES = {
    *range(0x00, 0x09),
    *range(0x0A, 0x10),
    0x11, 0x13, 0x14, 0x15, 0x33, 0x34, 0x40, *range(0x42, 0x46), 0x48, 0x49, 0x50, 0x51,
    *range(0x53, 0x56), 0x58, *range(0x61, 0x68), *range(0xC0, 0xC5), 0xFE, 0xFF,
}  # fmt: skip


def test_every_smpp34_code_is_in_the_table() -> None:
    """All codes SMPP 3.4 section 5.1.3 defines are listed, plus 5.0's 0x100-0x112."""
    assert SMPP34_CODES | set(range(0x100, 0x113)) == set(TABLE)


def test_only_rok_is_ok() -> None:
    """0 is OK and no other code is."""
    assert [code for code, info in TABLE.items() if info.klass is StatusClass.OK] == [0]
    assert classify(0) is StatusClass.OK


@pytest.mark.parametrize("code", [0x14, 0x58])
def test_throttle_codes(code: int) -> None:
    """Message queue full and throttled are temporary and ask the connection to slow down."""
    assert classify(code) is StatusClass.TEMPORARY
    assert is_throttle(code) and describe(code).throttle


def test_no_other_throttle() -> None:
    """Only 0x14 and 0x58 are throttle codes."""
    assert {code for code, info in TABLE.items() if info.throttle} == {0x14, 0x58}
    assert not is_throttle(0x08)


@pytest.mark.parametrize("code", [0x04, 0x05, 0x08, 0x0D, 0x64, 0xFF])
def test_temporary(code: int) -> None:
    """System, bind-state, ESME-receiver temporary and unknown errors are temporary."""
    assert classify(code) is StatusClass.TEMPORARY


@pytest.mark.parametrize("code", [0x01, 0x03, 0x0A, 0x0B, 0x45, 0x50, 0x65, 0xC2, 0xFE, 0x104])
def test_permanent(code: int) -> None:
    """Bad addresses, lengths, fields and the ESME-receiver permanent error are permanent."""
    assert classify(code) is StatusClass.PERMANENT


@pytest.mark.parametrize("code", [0x09, 0x16, 0x3FF, 0x400, 0x4FF, 0x500, 0xFFFFFFFF])
def test_unknown_codes_are_temporary(code: int) -> None:
    """Reserved and vendor-specific codes retry rather than lose the message."""
    assert classify(code) is StatusClass.TEMPORARY
    assert name_of(code) == f"0x{code:08X}"


def test_vendor_range_description() -> None:
    """0x400-0x4FF is described as vendor-specific."""
    assert describe(0x401).description == "SMSC vendor-specific error"


def test_names() -> None:
    """Names come from the specification and the Status enum agrees with the table."""
    assert name_of(0x58) == "ESME_RTHROTTLED"
    assert name_of(0x0B) == "ESME_RINVDSTADR"
    assert all(TABLE[member].name == member.name for member in Status)


@given(st.integers(0, 2**32 - 1))
def test_classify_total(code: int) -> None:
    """Every 32-bit status classifies without error."""
    assert classify(code) in StatusClass
