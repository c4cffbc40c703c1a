"""The TLV fast path of receipt parsing gives what the full text parse gives."""

from __future__ import annotations

import pytest

from passerelle.core.receipts import parse_receipt

TEXTS = [
    "id:123 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD "
    "err:000 text:hello err:999",
    "id:123 sub:001 dlvrd:000 submit date:2611251200 done date:261125120159 stat:UNDELIV "
    "err:027 text:",
    "ID:123 SUB:001 DLVRD:001 SUBMIT DATE:2611251200 DONE DATE:2611251201 STAT:DELIVRD ERR:000",
    "id:123 stat:EXPIRED",
    "id:123 done_date:20261125120102 stat:DELIVRD err:5",
]
STATES = {"DELIVRD": 2, "UNDELIV": 5, "EXPIRED": 3}


@pytest.mark.parametrize("text", TEXTS)
def test_fast_path_matches_text_parse(text: str) -> None:
    """With id and state in TLVs, err and done date still come from the text, unchanged."""
    slow = parse_receipt(text)
    assert slow is not None
    fast = parse_receipt(text, receipted_message_id="123", message_state=STATES[slow.stat])
    assert fast == slow


def test_fast_path_network_error_code_wins() -> None:
    """network_error_code TLV gives err even when the text has one."""
    fast = parse_receipt(
        "id:9 stat:UNDELIV err:001",
        receipted_message_id="9",
        message_state=5,
        network_error_code=b"\x03\x00\x2a",
    )
    assert fast is not None and fast.err == "042"
