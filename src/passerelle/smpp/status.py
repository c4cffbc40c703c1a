"""The SMPP ``command_status`` table: name, description and what a sender should do.

Every code that SMPP 3.4 (section 5.1.3) defines is listed, with the SMPP 5.0 codes
0x100-0x112 that SMSCs speaking 3.4 also return. Each one is classified:

- ``OK``: 0 only.
- ``TEMPORARY``: the message is not at fault; submit it again later (on this connector
  after a backoff, or on another one). Two of them, ``ESME_RMSGQFUL`` (0x14) and
  ``ESME_RTHROTTLED`` (0x58), are also marked *throttle*: the connection sends too fast
  and must slow down. The others: system error, the ESME-receiver temporary error,
  bind-state and bind errors (the session is at fault, not the message), a query that
  failed, a service type that is momentarily unavailable, and ``ESME_RUNKNOWNERR``.
- ``PERMANENT``: sending the same PDU again would get the same answer (a bad address,
  field, length, optional parameter...): the recipient fails and is refunded.

Codes the table does not know (the reserved ranges, 0x400-0x4FF which SMPP leaves to
SMSC vendors, and anything above) are ``TEMPORARY``. Decision: a wrong "temporary"
costs bounded retries until the retry policy gives up, while a wrong "permanent"
loses a message for good on an operator's hiccup; vendor codes are as often
"subscriber busy" or "system overloaded" as they are "barred". A per-connector
override table can refine this later without changing the default.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class StatusClass(enum.Enum):
    """What a sender does with a response carrying this status."""

    OK = "ok"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """One row of the table."""

    code: int
    name: str
    description: str
    klass: StatusClass
    throttle: bool = False


_T = StatusClass.TEMPORARY
_P = StatusClass.PERMANENT

_ROWS: tuple[tuple[int, str, str, StatusClass], ...] = (
    (0x000, "ESME_ROK", "No error", StatusClass.OK),
    (0x001, "ESME_RINVMSGLEN", "Message length is invalid", _P),
    (0x002, "ESME_RINVCMDLEN", "Command length is invalid", _P),
    (0x003, "ESME_RINVCMDID", "Invalid command ID", _P),
    (0x004, "ESME_RINVBNDSTS", "Incorrect bind status for given command", _T),
    (0x005, "ESME_RALYBND", "ESME already in bound state", _T),
    (0x006, "ESME_RINVPRTFLG", "Invalid priority flag", _P),
    (0x007, "ESME_RINVREGDLVFLG", "Invalid registered delivery flag", _P),
    (0x008, "ESME_RSYSERR", "System error", _T),
    (0x00A, "ESME_RINVSRCADR", "Invalid source address", _P),
    (0x00B, "ESME_RINVDSTADR", "Invalid destination address", _P),
    (0x00C, "ESME_RINVMSGID", "Message ID is invalid", _P),
    (0x00D, "ESME_RBINDFAIL", "Bind failed", _T),
    (0x00E, "ESME_RINVPASWD", "Invalid password", _T),
    (0x00F, "ESME_RINVSYSID", "Invalid system ID", _T),
    (0x011, "ESME_RCANCELFAIL", "Cancel SM failed", _P),
    (0x013, "ESME_RREPLACEFAIL", "Replace SM failed", _P),
    (0x014, "ESME_RMSGQFUL", "Message queue full", _T),
    (0x015, "ESME_RINVSERTYP", "Invalid service type", _P),
    (0x033, "ESME_RINVNUMDESTS", "Invalid number of destinations", _P),
    (0x034, "ESME_RINVDLNAME", "Invalid distribution list name", _P),
    (0x040, "ESME_RINVDESTFLAG", "Destination flag is invalid (submit_multi)", _P),
    (0x042, "ESME_RINVSUBREP", "Invalid 'submit with replace' request", _P),
    (0x043, "ESME_RINVESMCLASS", "Invalid esm_class field data", _P),
    (0x044, "ESME_RCNTSUBDL", "Cannot submit to distribution list", _P),
    (0x045, "ESME_RSUBMITFAIL", "submit_sm or submit_multi failed", _P),
    (0x048, "ESME_RINVSRCTON", "Invalid source address TON", _P),
    (0x049, "ESME_RINVSRCNPI", "Invalid source address NPI", _P),
    (0x050, "ESME_RINVDSTTON", "Invalid destination address TON", _P),
    (0x051, "ESME_RINVDSTNPI", "Invalid destination address NPI", _P),
    (0x053, "ESME_RINVSYSTYP", "Invalid system_type field", _P),
    (0x054, "ESME_RINVREPFLAG", "Invalid replace_if_present flag", _P),
    (0x055, "ESME_RINVNUMMSGS", "Invalid number of messages", _P),
    (0x058, "ESME_RTHROTTLED", "Throttling error (ESME exceeded allowed message limits)", _T),
    (0x061, "ESME_RINVSCHED", "Invalid scheduled delivery time", _P),
    (0x062, "ESME_RINVEXPIRY", "Invalid message validity period (expiry time)", _P),
    (0x063, "ESME_RINVDFTMSGID", "Predefined message invalid or not found", _P),
    (0x064, "ESME_RX_T_APPN", "ESME receiver temporary app error", _T),
    (0x065, "ESME_RX_P_APPN", "ESME receiver permanent app error", _P),
    (0x066, "ESME_RX_R_APPN", "ESME receiver reject message error", _P),
    (0x067, "ESME_RQUERYFAIL", "query_sm request failed", _T),
    (0x0C0, "ESME_RINVOPTPARSTREAM", "Error in the optional part of the PDU body", _P),
    (0x0C1, "ESME_ROPTPARNOTALLWD", "Optional parameter not allowed", _P),
    (0x0C2, "ESME_RINVPARLEN", "Invalid parameter length", _P),
    (0x0C3, "ESME_RMISSINGOPTPARAM", "Expected optional parameter missing", _P),
    (0x0C4, "ESME_RINVOPTPARAMVAL", "Invalid optional parameter value", _P),
    (0x0FE, "ESME_RDELIVERYFAILURE", "Delivery failure (data_sm_resp)", _P),
    (0x0FF, "ESME_RUNKNOWNERR", "Unknown error", _T),
    (0x100, "ESME_RSERTYPUNAUTH", "ESME not authorised to use specified service_type", _P),
    (0x101, "ESME_RPROHIBITED", "ESME prohibited from using specified operation", _P),
    (0x102, "ESME_RSERTYPUNAVAIL", "Specified service_type is unavailable", _T),
    (0x103, "ESME_RSERTYPDENIED", "Specified service_type is denied", _P),
    (0x104, "ESME_RINVDCS", "Invalid data coding scheme", _P),
    (0x105, "ESME_RINVSRCADDRSUBUNIT", "Source address subunit is invalid", _P),
    (0x106, "ESME_RINVDSTADDRSUBUNIT", "Destination address subunit is invalid", _P),
    (0x107, "ESME_RINVBCASTFREQINT", "Broadcast frequency interval is invalid", _P),
    (0x108, "ESME_RINVBCASTALIAS_NAME", "Broadcast alias name is invalid", _P),
    (0x109, "ESME_RINVBCASTAREAFMT", "Broadcast area format is invalid", _P),
    (0x10A, "ESME_RINVNUMBCAST_AREAS", "Number of broadcast areas is invalid", _P),
    (0x10B, "ESME_RINVBCASTCNTTYPE", "Broadcast content type is invalid", _P),
    (0x10C, "ESME_RINVBCASTMSGCLASS", "Broadcast message class is invalid", _P),
    (0x10D, "ESME_RBCASTFAIL", "broadcast_sm operation failed", _P),
    (0x10E, "ESME_RBCASTQUERYFAIL", "query_broadcast_sm operation failed", _P),
    (0x10F, "ESME_RBCASTCANCELFAIL", "cancel_broadcast_sm operation failed", _P),
    (0x110, "ESME_RINVBCAST_REP", "Number of repeated broadcasts is invalid", _P),
    (0x111, "ESME_RINVBCASTSRVGRP", "Broadcast service group is invalid", _P),
    (0x112, "ESME_RINVBCASTCHANIND", "Broadcast channel indicator is invalid", _P),
)

THROTTLE_CODES: frozenset[int] = frozenset({0x14, 0x58})

TABLE: Mapping[int, StatusInfo] = MappingProxyType(
    {
        code: StatusInfo(code, name, text, klass, code in THROTTLE_CODES)
        for code, name, text, klass in _ROWS
    }
)


class Status(enum.IntEnum):
    """The codes Passerelle itself names (answers it sends, cases it handles)."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RMSGQFUL = 0x14
    ESME_RSUBMITFAIL = 0x45
    ESME_RTHROTTLED = 0x58
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF


def describe(status: int) -> StatusInfo:
    """The table row of `status`; an unknown code gets a synthetic temporary row."""
    info = TABLE.get(status)
    if info is not None:
        return info
    if 0x400 <= status <= 0x4FF:
        return StatusInfo(status, f"0x{status:08X}", "SMSC vendor-specific error", _T)
    return StatusInfo(status, f"0x{status:08X}", "Reserved or unknown error", _T)


def classify(status: int) -> StatusClass:
    """OK, TEMPORARY or PERMANENT for `status` (unknown codes are TEMPORARY)."""
    info = TABLE.get(status)
    return _T if info is None else info.klass


def is_throttle(status: int) -> bool:
    """True when `status` asks the sender to slow the connection down (0x14, 0x58)."""
    return status in THROTTLE_CODES


def name_of(status: int) -> str:
    """The SMPP name of `status` (``ESME_RTHROTTLED``), or its hex value when unknown."""
    return describe(status).name
