"""SMPP 3.4 PDU values: the command ids, and one frozen dataclass per PDU kind.

Each value carries `sequence` and `command_status` and writes its own body with
`encode_body()`; the header, `encode`, `decode` and `FrameReader` are in `frame`.
C-octet strings are `str` written as Latin-1 (every octet round-trips),
`short_message` is `bytes` (see `coding` for text), optional parameters are raw
`TlvParam`s kept in wire order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from passerelle.smpp.tlv import TlvParam, encode_tlvs

RESPONSE_BIT = 0x80000000
MAX_SHORT_MESSAGE = 254


class CommandId(enum.IntEnum):
    """The commands Passerelle reads and writes (SMPP 3.4 section 5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class BindKind(enum.IntEnum):
    """The three binds; the value is the request's command_id."""

    RECEIVER = 0x01
    TRANSMITTER = 0x02
    TRANSCEIVER = 0x09


def is_response(command_id: int) -> bool:
    """True for a response command_id (generic_nack included)."""
    return bool(command_id & RESPONSE_BIT)


def _c(text: str) -> bytes:
    raw = text.encode("latin-1")
    if b"\x00" in raw:
        raise ValueError(f"NUL inside C-octet string {text!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Bind:
    """bind_receiver, bind_transmitter or bind_transceiver."""

    sequence: int
    command_status: int = 0
    kind: BindKind = BindKind.TRANSCEIVER
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    @property
    def command_id(self) -> CommandId:
        """bind_receiver, bind_transmitter or bind_transceiver."""
        return CommandId(self.kind)

    def encode_body(self) -> bytes:
        return b"%b\x00%b\x00%b\x00%c%c%c%b\x00" % (
            _c(self.system_id),
            _c(self.password),
            _c(self.system_type),
            self.interface_version,
            self.addr_ton,
            self.addr_npi,
            _c(self.address_range),
        )


@dataclass(frozen=True, slots=True)
class BindResp:
    """The response to a bind; its TLVs may carry sc_interface_version."""

    sequence: int
    command_status: int = 0
    kind: BindKind = BindKind.TRANSCEIVER
    system_id: str = ""
    tlvs: tuple[TlvParam, ...] = ()

    @property
    def command_id(self) -> CommandId:
        """The _resp of `kind`."""
        return CommandId(self.kind | RESPONSE_BIT)

    def encode_body(self) -> bytes:
        return _c(self.system_id) + b"\x00" + encode_tlvs(self.tlvs)


@dataclass(frozen=True, slots=True)
class _ShortMessage:
    """The body shared by submit_sm and deliver_sm (sections 4.4.1 and 4.6.1)."""

    sequence: int
    command_status: int = 0
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[TlvParam, ...] = ()

    def encode_body(self) -> bytes:
        sm = self.short_message
        if len(sm) > MAX_SHORT_MESSAGE:
            raise ValueError(f"short_message of {len(sm)} octets (max 254): use message_payload")
        return b"%b\x00%c%c%b\x00%c%c%b\x00%c%c%c%b\x00%b\x00%c%c%c%c%c%b%b" % (
            _c(self.service_type),
            self.source_addr_ton,
            self.source_addr_npi,
            _c(self.source_addr),
            self.dest_addr_ton,
            self.dest_addr_npi,
            _c(self.destination_addr),
            self.esm_class,
            self.protocol_id,
            self.priority_flag,
            _c(self.schedule_delivery_time),
            _c(self.validity_period),
            self.registered_delivery,
            self.replace_if_present_flag,
            self.data_coding,
            self.sm_default_msg_id,
            len(sm),
            sm,
            encode_tlvs(self.tlvs) if self.tlvs else b"",
        )


@dataclass(frozen=True, slots=True)
class SubmitSm(_ShortMessage):
    """submit_sm: a message from the ESME to the SMSC."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True)
class DeliverSm(_ShortMessage):
    """deliver_sm: a message or a delivery receipt from the SMSC."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM


@dataclass(frozen=True, slots=True)
class DataSm:
    """data_sm (section 4.7.1): the text travels in the message_payload TLV."""

    command_id: ClassVar[CommandId] = CommandId.DATA_SM
    sequence: int
    command_status: int = 0
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: tuple[TlvParam, ...] = ()

    def encode_body(self) -> bytes:
        return b"%b\x00%c%c%b\x00%c%c%b\x00%c%c%c%b" % (
            _c(self.service_type),
            self.source_addr_ton,
            self.source_addr_npi,
            _c(self.source_addr),
            self.dest_addr_ton,
            self.dest_addr_npi,
            _c(self.destination_addr),
            self.esm_class,
            self.registered_delivery,
            self.data_coding,
            encode_tlvs(self.tlvs),
        )


@dataclass(frozen=True, slots=True)
class _MessageIdResp:
    """A response whose body is a message_id (empty in deliver_sm_resp) and TLVs."""

    sequence: int
    command_status: int = 0
    message_id: str = ""
    tlvs: tuple[TlvParam, ...] = ()

    def encode_body(self) -> bytes:
        return _c(self.message_id) + b"\x00" + encode_tlvs(self.tlvs)


@dataclass(frozen=True, slots=True)
class SubmitSmResp(_MessageIdResp):
    """submit_sm_resp: the operator's id for the message, used to match receipts."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP


@dataclass(frozen=True, slots=True)
class DeliverSmResp(_MessageIdResp):
    """deliver_sm_resp: message_id is unused (NULL)."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP


@dataclass(frozen=True, slots=True)
class DataSmResp(_MessageIdResp):
    """data_sm_resp: the operator's id, and TLVs such as delivery_failure_reason."""

    command_id: ClassVar[CommandId] = CommandId.DATA_SM_RESP


@dataclass(frozen=True, slots=True)
class _HeaderOnly:
    """A PDU without a body."""

    sequence: int
    command_status: int = 0

    def encode_body(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class EnquireLink(_HeaderOnly):
    """enquire_link: the keep-alive."""

    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True)
class EnquireLinkResp(_HeaderOnly):
    """enquire_link_resp."""

    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True, slots=True)
class Unbind(_HeaderOnly):
    """unbind: the orderly end of a session."""

    command_id: ClassVar[CommandId] = CommandId.UNBIND


@dataclass(frozen=True, slots=True)
class UnbindResp(_HeaderOnly):
    """unbind_resp."""

    command_id: ClassVar[CommandId] = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True)
class GenericNack(_HeaderOnly):
    """generic_nack: the answer to a PDU that could not be read."""

    command_id: ClassVar[CommandId] = CommandId.GENERIC_NACK


Pdu: TypeAlias = (
    Bind
    | BindResp
    | SubmitSm
    | SubmitSmResp
    | DeliverSm
    | DeliverSmResp
    | DataSm
    | DataSmResp
    | EnquireLink
    | EnquireLinkResp
    | Unbind
    | UnbindResp
    | GenericNack
)
