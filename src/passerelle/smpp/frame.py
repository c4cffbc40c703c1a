"""Sans-IO SMPP 3.4 framing: `encode`, `decode`, the body decoders and `FrameReader`.

Named `frame` rather than `codec` because what it owns is the frame, the octets of one
whole PDU: its 16-octet header, command_length bounds, reading a frame's body into a
value and cutting a stream into frames. The values (and the writing of their own
bodies) are in `pdu`; `encode(pdu)` gives the frame, `decode(frame)` the value.

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

import struct
from collections.abc import Callable, Iterator
from typing import TypeAlias

from passerelle.exceptions import PduError as PduError  # defined in the error tree
from passerelle.smpp.pdu import (
    RESPONSE_BIT,
    Bind,
    BindKind,
    BindResp,
    CommandId,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from passerelle.smpp.status import Status
from passerelle.smpp.tlv import TlvStreamError, decode_tlvs

HEADER = struct.Struct(">IIII")
_B3 = struct.Struct(">BBB")
_B5 = struct.Struct(">BBBBB")
MAX_LENGTH = 65536


class _Malformed(PduError):
    """Raised inside body decoders; `decode` turns it into a PduError with the header."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, status)


def _cstr_at(frame: bytes, pos: int) -> tuple[str, int]:
    end = frame.find(b"\x00", pos)
    if end < 0:
        raise _Malformed("unterminated C-octet string", Status.ESME_RINVCMDLEN)
    return frame[pos:end].decode("latin-1"), end + 1


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
