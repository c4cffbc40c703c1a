"""Delivery receipts: TLVs, the appendix B text and its real-world variants, operator ids."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.receipts import (
    IdMode,
    Receipt,
    canonical_stat,
    normalise_id,
    parse_receipt,
    state_of,
)
from passerelle.core.states import RecipientState

STANDARD = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 "
    "stat:DELIVRD err:000 text:Bonjour"
)


def test_standard_text() -> None:
    """The appendix B format gives id, stat, err, final and the done date."""
    assert parse_receipt(STANDARD) == Receipt(
        message_id="0123456789",
        stat="DELIVRD",
        err="000",
        final=True,
        done_at=datetime(2024, 1, 15, 12, 31),
    )


def test_bytes_input() -> None:
    """short_message octets are accepted as they come off the wire."""
    receipt = parse_receipt(STANDARD.encode())
    assert receipt is not None and receipt.message_id == "0123456789"


@pytest.mark.parametrize(
    ("text", "message_id", "stat", "err", "done_at"),
    [
        (  # Kannel-like: hex id, seconds in the dates, capital Text
            "id:a1b2c3d4 sub:001 dlvrd:000 submit date:240115123045 "
            "done date:240115123112 stat:UNDELIV err:001 Text:Hello",
            "a1b2c3d4",
            "UNDELIV",
            "001",
            datetime(2024, 1, 15, 12, 31, 12),
        ),
        ("id:12345 stat:EXPIRED", "12345", "EXPIRED", None, None),  # fields missing
        (  # extra spaces everywhere
            "id: 12345  sub:001   dlvrd:001 submit date: 2401151230  done date: 2401151231 "
            " stat: DELIVRD  err: 000",
            "12345",
            "DELIVRD",
            "000",
            datetime(2024, 1, 15, 12, 31),
        ),
        (  # upper-case keys, empty text
            "ID:12345 SUB:001 DLVRD:001 SUBMIT DATE:2401151230 DONE DATE:2401151231 "
            "STAT:REJECTD ERR:0B1 TEXT:",
            "12345",
            "REJECTD",
            "0B1",
            datetime(2024, 1, 15, 12, 31),
        ),
        (  # underscores in the date keys, a stat spelled out
            "id:77 submit_date:2401151230 done_date:2401151231 stat:DELIVERED err:0",
            "77",
            "DELIVRD",
            "0",
            datetime(2024, 1, 15, 12, 31),
        ),
        (  # the original text repeats keys: ignored after text:
            "id:1 sub:001 dlvrd:000 stat:DELIVRD err:000 text:id:9 stat:UNDELIV",
            "1",
            "DELIVRD",
            "000",
            None,
        ),
        (  # four-digit year, no sub/dlvrd
            "id:ABCDEF done date:20240115123112 stat:ACCEPTD",
            "ABCDEF",
            "ACCEPTD",
            None,
            datetime(2024, 1, 15, 12, 31, 12),
        ),
        ("id:5 stat:ENROUTE err:000 done date:2413999999", "5", "ENROUTE", "000", None),
    ],
)
def test_text_variants(
    text: str, message_id: str, stat: str, err: str | None, done_at: datetime | None
) -> None:
    """Real-world variants of the receipt text are all read."""
    receipt = parse_receipt(text)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err, receipt.done_at) == (
        message_id,
        stat,
        err,
        done_at,
    )


def test_tlvs_only() -> None:
    """receipted_message_id + message_state suffice, without any text."""
    receipt = parse_receipt(b"", receipted_message_id="4F2A", message_state=5)
    assert receipt == Receipt("4F2A", "UNDELIV", None, True, None)


def test_tlvs_win_over_text() -> None:
    """TLVs give id, state and error; the text still gives the done date."""
    receipt = parse_receipt(
        STANDARD,
        receipted_message_id="ff\x00",
        message_state=3,
        network_error_code=bytes([3, 0, 27]),
    )
    assert receipt == Receipt("ff", "EXPIRED", "027", True, datetime(2024, 1, 15, 12, 31))


def test_unknown_message_state_falls_back_to_text() -> None:
    """A message_state outside 1-8 does not override the text's stat."""
    receipt = parse_receipt(STANDARD, message_state=9)
    assert receipt is not None and receipt.stat == "DELIVRD"


@pytest.mark.parametrize("state", range(1, 9))
def test_every_message_state(state: int) -> None:
    """Each message_state value maps to its stat; ENROUTE and ACCEPTD are not final."""
    receipt = parse_receipt("", receipted_message_id="1", message_state=state)
    assert receipt is not None
    expected = ["ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN"]
    assert receipt.stat == [*expected, "REJECTD"][state - 1]
    assert receipt.final is (state not in (1, 6))


@pytest.mark.parametrize(
    "text",
    ["", "Hello, see you at 5", "id: stat:DELIVRD", "stat:DELIVRD err:000", "id:12 sub:001"],
)
def test_not_a_receipt(text: str) -> None:
    """Without an id or without a state there is no receipt: None, no exception."""
    assert parse_receipt(text) is None


def test_unknown_stat_word_changes_nothing() -> None:
    """An unrecognised stat is kept upper-cased, not final, and maps to no state."""
    receipt = parse_receipt("id:1 stat:Pending")
    assert receipt is not None and (receipt.stat, receipt.final) == ("PENDING", False)
    assert state_of(receipt) is None


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("DELIVRD", RecipientState.DELIVERED),
        ("UNDELIV", RecipientState.UNDELIVERED),
        ("UNKNOWN", RecipientState.UNDELIVERED),
        ("DELETED", RecipientState.UNDELIVERED),
        ("EXPIRED", RecipientState.EXPIRED),
        ("REJECTD", RecipientState.REJECTED),
        ("ENROUTE", None),
        ("ACCEPTD", None),
    ],
)
def test_state_of(stat: str, state: RecipientState | None) -> None:
    """Final stats map to a final recipient state; ENROUTE and ACCEPTD change nothing."""
    receipt = parse_receipt(f"id:1 stat:{stat}")
    assert receipt is not None and state_of(receipt) == state
    assert receipt.final is (state is not None)


def test_canonical_stat() -> None:
    """Spelled-out and lower-case stat words take their seven-letter form."""
    assert canonical_stat("delivered") == "DELIVRD"
    assert canonical_stat("Undeliverable") == "UNDELIV"
    assert canonical_stat("rejected") == "REJECTD"


@pytest.mark.parametrize(
    ("raw", "mode", "expected"),
    [
        ("0000012345", IdMode.AS_IS, "12345"),
        ("00AB12CD", IdMode.AS_IS, "ab12cd"),
        ("000", IdMode.AS_IS, "0"),
        (" abc-DEF_1 ", IdMode.AS_IS, "abc-DEF_1"),
        ("1E240", IdMode.HEX_TO_DEC, "123456"),
        ("0001e240", "hex-to-dec", "123456"),
        ("123456", IdMode.DEC_TO_HEX, "1e240"),
        ("000123456", "dec-to-hex", "1e240"),
        ("not-hex", IdMode.HEX_TO_DEC, "not-hex"),
        ("12ab", IdMode.DEC_TO_HEX, "12ab"),
        ("", IdMode.HEX_TO_DEC, ""),
    ],
)
def test_normalise_id(raw: str, mode: IdMode | str, expected: str) -> None:
    """Ids compare after base conversion, leading zeros stripped and hex lower-cased."""
    assert normalise_id(raw, mode) == expected


def test_normalise_id_matches_across_bases() -> None:
    """A decimal submit_sm_resp id meets its hexadecimal receipt id."""
    assert normalise_id("123456", IdMode.AS_IS) == normalise_id("0001E240", IdMode.HEX_TO_DEC)
    assert normalise_id("1E240", IdMode.AS_IS) == normalise_id("123456", IdMode.DEC_TO_HEX)


def test_normalise_huge_id() -> None:
    """An absurdly long id is kept as it is rather than converted."""
    assert normalise_id("9" * 5000, IdMode.DEC_TO_HEX) == "9" * 5000


@given(
    st.text(),
    st.none() | st.text(),
    st.none() | st.integers(0, 255),
    st.none() | st.binary(max_size=4),
)
def test_parse_never_raises(
    text: str, message_id: str | None, state: int | None, error: bytes | None
) -> None:
    """Whatever arrives, parsing gives a Receipt or None."""
    result = parse_receipt(
        text, receipted_message_id=message_id, message_state=state, network_error_code=error
    )
    assert result is None or isinstance(result, Receipt)


@given(st.text(), st.sampled_from(IdMode))
def test_normalise_never_raises(raw: str, mode: IdMode) -> None:
    """normalise_id is total over str."""
    assert isinstance(normalise_id(raw, mode), str)
