"""msgids for accepted messages (9 random digits, as the legacy API promises), and the
`messages` row of a message under its msgid, as both SQL backends insert it."""

from __future__ import annotations

import os
from typing import Any

from passerelle.core.values import MSGID_HIGH, MSGID_LOW, NewMessage


class MsgidSource:
    """Random msgids from the OS CSPRNG, read 4 KiB at a time (one syscall per ~850).

    Each draw takes one random unsigned word and keeps them only below the largest multiple of
    the msgid range that fits, so every msgid stays equally likely (as `new_msgid`).
    """

    _SPAN = MSGID_HIGH - MSGID_LOW + 1
    _LIMIT = (1 << (8 * memoryview(bytes(8)).cast("I").itemsize)) // _SPAN * _SPAN

    def __init__(self) -> None:
        self._words = memoryview(b"").cast("I")  # unsigned 32-bit words
        self._next = 0

    def draw(self) -> int:
        """One uniformly random msgid in [MSGID_LOW, MSGID_HIGH]."""
        while True:
            i = self._next
            if i >= len(self._words):
                self._words = memoryview(os.urandom(4096)).cast("I")
                i = 0
            self._next = i + 1
            value: int = self._words[i]
            if value < self._LIMIT:
                return MSGID_LOW + value % self._SPAN


def message_row(m: NewMessage, msgid: int) -> tuple[Any, ...]:
    """The `messages` columns of `m` under `msgid`: msgid, account_id, created_at, sender,
    sender_type, text, flash, callback, recipient_count, cost, idem_key."""
    return (
        msgid,
        m.account_id,
        m.created_at,
        m.sender,
        m.sender_type,
        m.text,
        m.flash,
        m.callback,
        len(m.recipients),
        m.cost,
        m.idem_key,
    )
