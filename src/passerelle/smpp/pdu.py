"""Sans-IO SMPP 3.4 codec: PDU values, `encode`, `decode` and a `FrameReader`.

One frozen dataclass per PDU kind, each carrying `sequence` and `command_status`;
`encode(pdu)` gives the frame, `decode(frame)` the value. C-octet strings are `str`
read and written as Latin-1 (every octet round-trips), `short_message` is `bytes`
(see `coding` for text), optional parameters are raw `TlvParam`s kept in wire order.

Decoding is lenient where real SMSCs are sloppy and strict where framing is at stake:

- a response may have an empty body whatever its status (its fields take their
  defaults), and octets after the mandatory fields of any body are read as TLVs;
- `PduError.status` is the status to answer with: ``ESME_RINVCMDLEN`` for a
  command_length under 16, over the maximum, or not covering the mandatory fields;
  ``ESME_RINVCMDID`` for a command Passerelle does not handle (it carries
  `sequence` and `command_id` for the ``generic_nack``); ``ESME_RINVMSGLEN`` for an
  sm_length past the end of the PDU; ``ESME_RINVOPTPARSTREAM`` for a truncated TLV.

After a framing error from `FrameReader` the stream cannot be resynchronised: answer
``generic_nack`` if you like, then close the connection. A `decode` error only spoils
its own frame.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from passerelle.exceptions import PasserelleError
from passerelle.smpp.status import Status
from passerelle.smpp.tlv import TlvParam, TlvStreamError, decode_tlvs, encode_tlvs

HEADER = struct.Struct(">IIII")
_B3 = struct.Struct(">BBB")
_B5 = struct.Struct(">BBBBB")
MAX_LENGTH = 65536
RESPONSE_BIT = 0x80000000
MAX_SHORT_MESSAGE = 254


class CommandId(enum.IntEnum):
    """The commands this codec reads and writes (SMPP 3.4 section 5.1.2.1)."""

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


class PduError(PasserelleError):
    """A frame that cannot be read, or a PDU that cannot be written.

    `status` is the command_status to answer with (``ESME_RSYSERR`` for a PDU that
    cannot be written: a bug of ours); `sequence` and `command_id` are those of the
    offending header when it could be read.
    """

    def __init__(
        self, message: str, status: int, sequence: int | None = None, command_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.sequence = sequence
        self.command_id = command_id


class _Malformed(Exception):
    """Raised inside body decoders; `decode` turns it into a PduError with the header."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def is_response(command_id: int) -> bool:
    """True for a response command_id (generic_nack included)."""
    return bool(command_id & RESPONSE_BIT)


def _c(text: str) -> bytes:
    raw = text.encode("latin-1")
    if b"\x00" in raw:
        raise ValueError(f"NUL inside C-octet string {text!r}")
    return raw


def _cstr_at(frame: bytes, pos: int) -> tuple[str, int]:
    end = frame.find(b"\x00", pos)
    if end < 0:
        raise _Malformed("unterminated C-octet string", Status.ESME_RINVCMDLEN)
    return frame[pos:end].decode("latin-1"), end + 1


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


def encode(pdu: Pdu) -> bytes:
    """The frame of `pdu`; PduError when a field cannot be written."""
    try:
        body = pdu.encode_body()
        return HEADER.pack(16 + len(body), pdu.command_id, pdu.command_status, pdu.sequence) + body
    except (ValueError, TypeError, OverflowError, struct.error) as exc:
        raise PduError(
            f"cannot encode {type(pdu).__name__}: {exc}",
            Status.ESME_RSYSERR,
            pdu.sequence,
            pdu.command_id,
        ) from exc


_Decoder: TypeAlias = Callable[[bytes, int, int, int], Pdu]


def _bind(frame: bytes, cid: int, status: int, seq: int) -> Pdu:
    system_id, pos = _cstr_at(frame, 16)
    password, pos = _cstr_at(frame, pos)
    system_type, pos = _cstr_at(frame, pos)
    version, ton, npi = _B3.unpack_from(frame, pos)
    address_range, _ = _cstr_at(frame, pos + 3)
    kind = BindKind(cid)
    return Bind(
        seq, status, kind, system_id, password, system_type, version, ton, npi, address_range
    )


def _bind_resp(frame: bytes, cid: int, status: int, seq: int) -> Pdu:
    kind = BindKind(cid & ~RESPONSE_BIT)
    if len(frame) == 16:
        return BindResp(seq, status, kind)
    system_id, pos = _cstr_at(frame, 16)
    return BindResp(seq, status, kind, system_id, decode_tlvs(frame, pos))


_Head: TypeAlias = tuple[str, int, int, str, int, int, str]


def _addresses(frame: bytes) -> tuple[_Head, int]:
    """service_type, source and destination: the head of submit/deliver/data_sm."""
    service_type, pos = _cstr_at(frame, 16)
    src_ton, src_npi = frame[pos], frame[pos + 1]
    source, pos = _cstr_at(frame, pos + 2)
    dst_ton, dst_npi = frame[pos], frame[pos + 1]
    destination, pos = _cstr_at(frame, pos + 2)
    return (service_type, src_ton, src_npi, source, dst_ton, dst_npi, destination), pos


def _short_message(cls: type[SubmitSm] | type[DeliverSm]) -> _Decoder:
    def decode_body(frame: bytes, cid: int, status: int, seq: int) -> Pdu:
        head, pos = _addresses(frame)
        esm, pid, prio = _B3.unpack_from(frame, pos)
        schedule, pos = _cstr_at(frame, pos + 3)
        validity, pos = _cstr_at(frame, pos)
        reg, rep, dc, dflt, length = _B5.unpack_from(frame, pos)
        end = pos + 5 + length
        if end > len(frame):
            raise _Malformed("sm_length runs past the PDU", Status.ESME_RINVMSGLEN)
        msg = frame[pos + 5 : end]
        tlvs = decode_tlvs(frame, end)
        return cls(
            seq, status, *head, esm, pid, prio, schedule, validity, reg, rep, dc, dflt, msg, tlvs
        )

    return decode_body


def _data_sm(frame: bytes, cid: int, status: int, seq: int) -> Pdu:
    head, pos = _addresses(frame)
    esm, reg, dc = _B3.unpack_from(frame, pos)
    return DataSm(seq, status, *head, esm, reg, dc, decode_tlvs(frame, pos + 3))


def _message_id_resp(
    cls: type[SubmitSmResp] | type[DeliverSmResp] | type[DataSmResp],
) -> _Decoder:
    def decode_body(frame: bytes, cid: int, status: int, seq: int) -> Pdu:
        if len(frame) == 16:
            return cls(seq, status)
        message_id, pos = _cstr_at(frame, 16)
        return cls(seq, status, message_id, decode_tlvs(frame, pos))

    return decode_body


def _header_only(
    cls: type[EnquireLink]
    | type[EnquireLinkResp]
    | type[Unbind]
    | type[UnbindResp]
    | type[GenericNack],
) -> _Decoder:
    def decode_body(frame: bytes, cid: int, status: int, seq: int) -> Pdu:
        return cls(seq, status)

    return decode_body


_DECODERS: dict[int, _Decoder] = {
    CommandId.BIND_RECEIVER: _bind,
    CommandId.BIND_TRANSMITTER: _bind,
    CommandId.BIND_TRANSCEIVER: _bind,
    CommandId.BIND_RECEIVER_RESP: _bind_resp,
    CommandId.BIND_TRANSMITTER_RESP: _bind_resp,
    CommandId.BIND_TRANSCEIVER_RESP: _bind_resp,
    CommandId.SUBMIT_SM: _short_message(SubmitSm),
    CommandId.DELIVER_SM: _short_message(DeliverSm),
    CommandId.DATA_SM: _data_sm,
    CommandId.SUBMIT_SM_RESP: _message_id_resp(SubmitSmResp),
    CommandId.DELIVER_SM_RESP: _message_id_resp(DeliverSmResp),
    CommandId.DATA_SM_RESP: _message_id_resp(DataSmResp),
    CommandId.ENQUIRE_LINK: _header_only(EnquireLink),
    CommandId.ENQUIRE_LINK_RESP: _header_only(EnquireLinkResp),
    CommandId.UNBIND: _header_only(Unbind),
    CommandId.UNBIND_RESP: _header_only(UnbindResp),
    CommandId.GENERIC_NACK: _header_only(GenericNack),
}


def decode(frame: bytes) -> Pdu:
    """The PDU of one complete frame; PduError (with the status to answer) when invalid."""
    if len(frame) < 16:
        raise PduError(f"frame of {len(frame)} octets", Status.ESME_RINVCMDLEN)
    length, cid, status, seq = HEADER.unpack_from(frame)
    if length != len(frame):
        raise PduError(
            f"command_length {length} for a frame of {len(frame)}", Status.ESME_RINVCMDLEN, seq, cid
        )
    decoder = _DECODERS.get(cid)
    if decoder is None:
        raise PduError(f"unknown command_id 0x{cid:08X}", Status.ESME_RINVCMDID, seq, cid)
    try:
        return decoder(frame, cid, status, seq)
    except _Malformed as exc:
        raise PduError(str(exc), exc.status, seq, cid) from None
    except TlvStreamError as exc:
        raise PduError(str(exc), Status.ESME_RINVOPTPARSTREAM, seq, cid) from None
    except (IndexError, struct.error):
        raise PduError("body shorter than its fields", Status.ESME_RINVCMDLEN, seq, cid) from None


class FrameReader:
    """Cuts a byte stream into frames: `feed` what the socket gave, then iterate.

    Handles frames split across reads and several frames in one read. A header whose
    command_length is under 16 or over `max_length` raises PduError(ESME_RINVCMDLEN),
    and keeps raising: the stream is lost and the connection must be closed.
    """

    __slots__ = ("_buffer", "_max_length")

    def __init__(self, max_length: int = MAX_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length

    def feed(self, data: bytes) -> None:
        """Append octets read from the connection."""
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """The next complete frame, or None until more octets are fed."""
        buffer = self._buffer
        if len(buffer) < 16:
            return None
        length, cid, _status, seq = HEADER.unpack_from(buffer)
        if length < 16 or length > self._max_length:
            raise PduError(f"command_length {length}", Status.ESME_RINVCMDLEN, seq, cid)
        if len(buffer) < length:
            return None
        frame = bytes(buffer[:length])
        del buffer[:length]
        return frame

    def __iter__(self) -> Iterator[bytes]:
        """Every complete frame buffered so far."""
        while (frame := self.next_frame()) is not None:
            yield frame

    @property
    def buffered(self) -> int:
        """Octets waiting for the rest of their frame."""
        return len(self._buffer)
