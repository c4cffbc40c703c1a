"""From a claimed recipient to its submit_sm (docs/smpp.md: TON/NPI, coding, flash, receipts)."""

from __future__ import annotations

from passerelle.core.modes import Coding
from passerelle.core.values import Connector, DueRecipient
from passerelle.smpp.coding import Alphabet, encode_text
from passerelle.smpp.pdu import SubmitSm

# sendertype → (source TON, source NPI)
SOURCE_TON_NPI: dict[int, tuple[int, int]] = {
    5: (5, 0),  # alphanumeric
    1: (1, 1),  # international number
    0: (3, 0),  # short code / network specific
}
DEST_TON_NPI = (1, 1)
REGISTERED_DELIVERY = 0x01  # always ask for the final receipt: `statut` needs it


def submit_sm(due: DueRecipient, connector: Connector) -> SubmitSm:
    """The submit_sm of `due` through `connector` (its sequence is set by the session)."""
    ton, npi = SOURCE_TON_NPI.get(due.sender_type, (5, 0))
    alphabet = Alphabet.LATIN1 if connector.coding == Coding.LATIN1 else Alphabet.GSM
    data_coding, payload = encode_text(due.text, alphabet, flash=due.flash)
    return SubmitSm(
        sequence=0,
        source_addr_ton=ton,
        source_addr_npi=npi,
        source_addr=due.sender,
        dest_addr_ton=DEST_TON_NPI[0],
        dest_addr_npi=DEST_TON_NPI[1],
        destination_addr=due.dest,
        registered_delivery=REGISTERED_DELIVERY,
        data_coding=data_coding,
        short_message=payload,
    )
