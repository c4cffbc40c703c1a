"""Receipts the simulator owes: the `Pending` record, and its deliver_sm frame.

A receipt goes from the message's destination back to its source, ``esm_class``
0x04, ``data_coding`` 0, with the SMPP 3.4 appendix B text::

    id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DELIVRD err:000 text:<first 20 characters>

(``dlvrd:000`` and ``err:001`` when not delivered; dates in the simulator's local
time) and, unless TEXT_ONLY_RECEIPTS, the ``receipted_message_id`` and
``message_state`` TLVs.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from passerelle.simulator.config import IdFormat
from passerelle.smpp.coding import decode_text
from passerelle.smpp.frame import HEADER
from passerelle.smpp.pdu import CommandId, DeliverSm, SubmitSm
from passerelle.smpp.tlv import MessageState, Tlv, TlvParam, find_bytes

RECEIPT_ESM_CLASS = 0x04
TEXT_CHARS = 20
_STATE_OCTETS = {
    "DELIVRD": bytes((MessageState.DELIVERED,)),
    "EXPIRED": bytes((MessageState.EXPIRED,)),
    "REJECTD": bytes((MessageState.REJECTED,)),
    "UNDELIV": bytes((MessageState.UNDELIVERABLE,)),
}
# deliver_sm body: service_type "", source (the destination), destination (the source),
# esm_class 0x04, protocol_id, priority, schedule "", validity "", registered_delivery,
# replace_if_present, data_coding, sm_default_msg_id all 0, sm_length, short_message
_BODY = b"\x00%c%c%b\x00%c%c%b\x00\x04" + bytes(8) + b"%c%b"
_TLV = struct.Struct(">HH")


@dataclass(frozen=True, slots=True)
class Pending:
    """A receipt owed to `system_id` for message `number`; times are `time.time()`."""

    system_id: str
    number: int
    stat: str
    submitted: float
    due: float
    source_ton: int
    source_npi: int
    source: str
    destination_ton: int
    destination_npi: int
    destination: str
    text: str

    @classmethod
    def of_submit(
        cls, system_id: str, number: int, stat: str, submitted: float, due: float, pdu: SubmitSm
    ) -> Pending:
        """The receipt of an accepted submit_sm."""
        payload = pdu.short_message or find_bytes(pdu.tlvs, Tlv.MESSAGE_PAYLOAD) or b""
        text = decode_text(pdu.data_coding, payload[: TEXT_CHARS * 2])[:TEXT_CHARS]
        if not (text.isascii() and text.isprintable()):
            text = "".join(c if c.isascii() and c.isprintable() else "?" for c in text)
        return cls(
            system_id,
            number,
            stat,
            submitted,
            due,
            pdu.source_addr_ton,
            pdu.source_addr_npi,
            pdu.source_addr,
            pdu.dest_addr_ton,
            pdu.dest_addr_npi,
            pdu.destination_addr,
            text,
        )


def format_id(number: int, hexadecimal: bool) -> str:
    """A message id as the operator writes it."""
    return format(number, "x") if hexadecimal else str(number)


def resp_in_hex(ids: IdFormat) -> bool:
    """True when submit_sm_resp carries hexadecimal ids."""
    return ids in (IdFormat.HEX, IdFormat.HEX_RESP)


def receipt_in_hex(ids: IdFormat) -> bool:
    """True when receipts carry hexadecimal ids."""
    return ids in (IdFormat.HEX, IdFormat.HEX_RECEIPT)


class ReceiptWriter:
    """Builds receipt frames; caches the formatted minute (one strftime per minute)."""

    __slots__ = ("_hex", "_minute", "_stamp", "_tlvs")

    def __init__(self, ids: IdFormat, tlvs: bool) -> None:
        self._hex = receipt_in_hex(ids)
        self._tlvs = tlvs
        self._minute = -1
        self._stamp = ""

    def stamp(self, when: float) -> str:
        """``YYMMDDhhmm`` of `when`, local time."""
        minute = int(when // 60)
        if minute == self._minute:
            return self._stamp
        stamp = time.strftime("%y%m%d%H%M", time.localtime(when))
        if minute > self._minute:
            self._minute, self._stamp = minute, stamp
        return stamp

    def text(self, pending: Pending, done: float) -> str:
        """The appendix B text of `pending`."""
        delivered = pending.stat == "DELIVRD"
        return (
            f"id:{format_id(pending.number, self._hex)} sub:001 "
            f"dlvrd:{'001' if delivered else '000'} "
            f"submit date:{self.stamp(pending.submitted)} done date:{self.stamp(done)} "
            f"stat:{pending.stat} err:{'000' if delivered else '001'} text:{pending.text}"
        )

    def frame(self, pending: Pending, sequence: int, done: float) -> bytes:
        """The deliver_sm frame carrying `pending`: byte for byte `encode(self.pdu(...))`,
        written without the dataclass (a third of the cost; a test pins the equality)."""
        text = self.text(pending, done).encode("latin-1")
        body = _BODY % (
            pending.destination_ton,
            pending.destination_npi,
            pending.destination.encode("latin-1"),
            pending.source_ton,
            pending.source_npi,
            pending.source.encode("latin-1"),
            len(text),
            text,
        )
        if self._tlvs:
            rid = format_id(pending.number, self._hex).encode()
            body += _TLV.pack(Tlv.RECEIPTED_MESSAGE_ID, len(rid) + 1) + rid + b"\x00"
            body += _TLV.pack(Tlv.MESSAGE_STATE, 1) + _STATE_OCTETS[pending.stat]
        return HEADER.pack(16 + len(body), CommandId.DELIVER_SM, 0, sequence) + body

    def pdu(self, pending: Pending, sequence: int, done: float) -> DeliverSm:
        """The deliver_sm carrying `pending`, as a codec value."""
        tlvs: tuple[TlvParam, ...] = ()
        if self._tlvs:
            tlvs = (
                TlvParam.of_cstr(Tlv.RECEIPTED_MESSAGE_ID, format_id(pending.number, self._hex)),
                TlvParam(Tlv.MESSAGE_STATE, _STATE_OCTETS[pending.stat]),
            )
        return DeliverSm(
            sequence,
            source_addr_ton=pending.destination_ton,
            source_addr_npi=pending.destination_npi,
            source_addr=pending.destination,
            dest_addr_ton=pending.source_ton,
            dest_addr_npi=pending.source_npi,
            destination_addr=pending.source,
            esm_class=RECEIPT_ESM_CLASS,
            short_message=self.text(pending, done).encode("latin-1"),
            tlvs=tlvs,
        )
