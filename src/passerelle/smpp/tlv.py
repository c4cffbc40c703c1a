"""SMPP 3.4 optional parameters (TLVs): tags, the raw parameter, and value helpers.

A PDU keeps its TLVs as a tuple of raw `TlvParam` (tag, value bytes), in wire order,
whether Passerelle knows the tag or not: decoding costs nothing per parameter and any
parameter an SMSC sends round-trips unchanged. The helpers below read and build the
values of the tags Passerelle uses (integers are big-endian, strings are C-octet
strings with their terminating NUL inside the value, SMPP 3.4 section 5.3).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from passerelle.exceptions import TlvStreamError as TlvStreamError  # defined in the error tree

_TLV_HEAD = struct.Struct(">HH")


class Tlv(enum.IntEnum):
    """Tags of the SMPP 3.4 optional parameters (section 5.3.2)."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class MessageState(enum.IntEnum):
    """Values of the ``message_state`` TLV (section 5.2.28)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


@dataclass(frozen=True, slots=True)
class TlvParam:
    """One optional parameter as it travels: a 16-bit tag and its value octets."""

    tag: int
    value: bytes

    @classmethod
    def of_int(cls, tag: int, value: int, size: int) -> TlvParam:
        """An integer parameter of `size` octets, big-endian."""
        return cls(tag, value.to_bytes(size, "big"))

    @classmethod
    def of_cstr(cls, tag: int, text: str) -> TlvParam:
        """A C-octet string parameter (Latin-1 octets, NUL terminated)."""
        return cls(tag, text.encode("latin-1") + b"\x00")

    def as_int(self) -> int:
        """The value read as a big-endian unsigned integer (0 when empty)."""
        return int.from_bytes(self.value, "big")

    def as_str(self) -> str:
        """The value read as a C-octet string; a missing terminating NUL is tolerated."""
        value = self.value
        end = value.find(b"\x00")
        return (value if end < 0 else value[:end]).decode("latin-1")


def find(params: Iterable[TlvParam], tag: int) -> TlvParam | None:
    """The first parameter with `tag`, or None."""
    for param in params:
        if param.tag == tag:
            return param
    return None


def find_int(params: Iterable[TlvParam], tag: int) -> int | None:
    """The integer value of the first parameter with `tag`, or None."""
    param = find(params, tag)
    return None if param is None else param.as_int()


def find_str(params: Iterable[TlvParam], tag: int) -> str | None:
    """The C-octet string value of the first parameter with `tag`, or None."""
    param = find(params, tag)
    return None if param is None else param.as_str()


def find_bytes(params: Iterable[TlvParam], tag: int) -> bytes | None:
    """The raw value of the first parameter with `tag`, or None."""
    param = find(params, tag)
    return None if param is None else param.value


def encode_tlvs(params: tuple[TlvParam, ...]) -> bytes:
    """The wire form of `params`, in order."""
    pack = _TLV_HEAD.pack
    return b"".join([pack(p.tag, len(p.value)) + p.value for p in params])


def decode_tlvs(frame: bytes, pos: int) -> tuple[TlvParam, ...]:
    """The parameters from `pos` to the end of `frame`; TlvStreamError when truncated."""
    size = len(frame)
    if pos >= size:
        return ()
    out: list[TlvParam] = []
    unpack = _TLV_HEAD.unpack_from
    while pos < size:
        if pos + 4 > size:
            raise TlvStreamError(f"{size - pos} stray octets after the TLVs")
        tag, length = unpack(frame, pos)
        pos += 4
        end = pos + length
        if end > size:
            raise TlvStreamError(f"TLV 0x{tag:04X} of {length} octets runs past the PDU")
        out.append(TlvParam(tag, frame[pos:end]))
        pos = end
    return tuple(out)
