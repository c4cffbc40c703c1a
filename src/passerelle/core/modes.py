"""A connector's modes, as enums: how it binds, how its receipt ids read, how it codes text.

Each is an `enum.StrEnum` whose values are the strings stored in the ``connectors``
table and offered by ``passerelle connector add`` (``--bind``, ``--id-mode``,
``--coding``): a member *is* its stored string (``BindMode.TRX == "trx"``), so the
database, the CLI and the code share one spelling. Checks (`checks.check_connector`),
the CLI choices, the link (`delivery.link`), receipts (`core.receipts.normalise_id`)
and outbound coding (`delivery.outbound`) read them from here.
"""

from __future__ import annotations

import enum


class BindMode(enum.StrEnum):
    """One transceiver session, or a transmitter and a receiver."""

    TRX = "trx"
    TX_RX = "tx+rx"


class IdMode(enum.StrEnum):
    """How a connector's receipt ids relate to its submit_sm_resp ids."""

    AS_IS = "as-is"
    HEX_TO_DEC = "hex-to-dec"  # receipts in hexadecimal, submit_sm_resp in decimal
    DEC_TO_HEX = "dec-to-hex"  # receipts in decimal, submit_sm_resp in hexadecimal


class Coding(enum.StrEnum):
    """The alphabet a connector sends text in when GSM 03.38 is not enough for it."""

    GSM = "gsm"  # data_coding 0, UCS-2 when the text needs it
    LATIN1 = "latin1"  # data_coding 3, UCS-2 when the text needs it


def choices(mode: type[enum.StrEnum]) -> list[str]:
    """The stored strings of `mode`, in order (the CLI's choices)."""
    return [member.value for member in mode]
