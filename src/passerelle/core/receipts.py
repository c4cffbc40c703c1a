"""Delivery receipts (pure): parse one, normalise operator ids, map it to a state.

A receipt is read from the ``receipted_message_id`` + ``message_state`` (+
``network_error_code``) TLVs when present, else from the de-facto standard text of
SMPP 3.4 appendix B::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DDDDDDD err:E text: ...

Both are merged when both come: TLVs win for the id, the state and the error; the
text gives what the TLVs lack (``done date`` always comes from it). The text is read
leniently: keys in any case, missing fields, extra spaces, ``submit_date`` or
``submitdate``, dates with or without seconds, stat words spelled out
(``DELIVERED``). Anything that is not a receipt gives None, never an exception.

``done_at`` is naive: the SMSC's clock, in a zone it does not say.
An unrecognised ``stat`` word is kept upper-cased with ``final`` False, so it is
logged and changes nothing.

Operator ids: some operators give the id in hexadecimal in one place and decimal in
the other. Store ``normalise_id(resp_id, IdMode.AS_IS)`` from ``submit_sm_resp`` and
look receipts up with ``normalise_id(receipt.message_id, connector_mode)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from passerelle.core.modes import IdMode as IdMode  # defined with the other connector modes
from passerelle.core.states import RecipientState


@dataclass(frozen=True, slots=True)
class Receipt:
    """One delivery receipt, as the operator reported it."""

    message_id: str
    stat: str  # DELIVRD UNDELIV EXPIRED REJECTD DELETED UNKNOWN ACCEPTD ENROUTE
    err: str | None
    final: bool
    done_at: datetime | None


MESSAGE_STATES: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
FINAL_STATS = frozenset({"DELIVRD", "UNDELIV", "EXPIRED", "DELETED", "UNKNOWN", "REJECTD"})
STATES: dict[str, RecipientState] = {
    "DELIVRD": RecipientState.DELIVERED,
    "UNDELIV": RecipientState.UNDELIVERED,
    "UNKNOWN": RecipientState.UNDELIVERED,
    "DELETED": RecipientState.UNDELIVERED,
    "EXPIRED": RecipientState.EXPIRED,
    "REJECTD": RecipientState.REJECTED,
}
_SYNONYMS: dict[str, str] = {
    "DELIVERED": "DELIVRD",
    "DELIVR": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "UNDELIVERED": "UNDELIV",
    "UNDELIVRD": "UNDELIV",
    "EXPIRD": "EXPIRED",
    "DELETD": "DELETED",
    "ACCEPTED": "ACCEPTD",
    "REJECTED": "REJECTD",
    "REJECT": "REJECTD",
    "UNKNOWN": "UNKNOWN",
    "UNKNWN": "UNKNOWN",
    "EN_ROUTE": "ENROUTE",
} | {stat: stat for stat in MESSAGE_STATES.values()}

_KEY = re.compile(
    r"(?:^|(?<=\s))(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)\s*:\s*",
    re.IGNORECASE,
)
MAX_ID_LENGTH = 64
_HEX = re.compile(r"[0-9a-fA-F]+")
_DATE_FORMATS = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S", 14: "%Y%m%d%H%M%S"}


def _fields(text: str) -> dict[str, str]:
    """Key (lower-case, no separator) → first word of its value, up to ``text:``."""
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        key = match.group(1).lower().replace(" ", "").replace("_", "")
        if key == "text":
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end() : end].strip()
        if key.endswith("date"):
            value = value.replace(" ", "")
        words = value.split()
        fields.setdefault(key, words[0] if words else "")
    return fields


def _date(value: str | None) -> datetime | None:
    """YYMMDDhhmm[ss] or YYYYMMDDhhmmss, read by slicing (strptime is ten times slower)."""
    if not value or not value.isascii() or not value.isdigit() or len(value) not in _DATE_FORMATS:
        return None
    if len(value) == 14:
        year, rest = int(value[:4]), value[4:]
    else:
        year, rest = 2000 + int(value[:2]), value[2:]
    second = int(rest[8:10]) if len(rest) >= 10 else 0
    try:
        return datetime(
            year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), second
        )
    except ValueError:
        return None


_ERR = re.compile(r"(?:^|\s)err\s*:\s*(\S+)", re.IGNORECASE)
_DONE = re.compile(r"(?:^|\s)done[ _]?date\s*:\s*([\d ]+)", re.IGNORECASE)


def _tlv_receipt(
    text: str, message_id: str, message_state: int, network_error_code: bytes | None
) -> Receipt | None:
    """The fast path when the TLVs carry id and state: only err and done date from text."""
    stat = MESSAGE_STATES.get(message_state)
    if stat is None:
        return None
    if network_error_code is not None and len(network_error_code) == 3:
        err: str | None = f"{int.from_bytes(network_error_code[1:], 'big'):03d}"
    else:
        found = _ERR.search(text)
        err = found.group(1) if found else None
    done = _DONE.search(text)
    done_at = _date(done.group(1).replace(" ", "")) if done else None
    return Receipt(message_id, stat, err, stat in FINAL_STATS, done_at)


def canonical_stat(word: str) -> str:
    """The canonical stat for `word` (``delivered`` → ``DELIVRD``); unknown words upper-cased."""
    upper = word.strip().upper()
    return _SYNONYMS.get(upper, upper)


def parse_receipt(
    text: str | bytes,
    *,
    receipted_message_id: str | None = None,
    message_state: int | None = None,
    network_error_code: bytes | None = None,
) -> Receipt | None:
    """The receipt in a deliver_sm's TLVs and text, or None when it is not one."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    tlv_id = (receipted_message_id or "").strip("\x00 ")
    if tlv_id and message_state in MESSAGE_STATES:
        text = text.split("text:", 1)[0].split("TEXT:", 1)[0]
        fast = _tlv_receipt(text.replace("\x00", " "), tlv_id, message_state, network_error_code)
        if fast is not None:
            return fast
    fields = _fields(text.replace("\x00", " "))
    message_id = (receipted_message_id or "").strip("\x00 ") or fields.get("id", "")
    stat = MESSAGE_STATES.get(message_state or 0) or canonical_stat(fields.get("stat", ""))
    if not message_id or not stat:
        return None
    err = fields.get("err") or None
    if network_error_code is not None and len(network_error_code) == 3:
        err = f"{int.from_bytes(network_error_code[1:], 'big'):03d}"
    return Receipt(
        message_id=message_id,
        stat=stat,
        err=err,
        final=stat in FINAL_STATS,
        done_at=_date(fields.get("donedate")),
    )


def state_of(receipt: Receipt) -> RecipientState | None:
    """The recipient's new state; None while the message is still on its way."""
    return STATES.get(receipt.stat)


def _canonical(raw: str) -> str:
    if _HEX.fullmatch(raw):
        return raw.lower().lstrip("0") or "0"
    return raw


def normalise_id(raw: str, mode: IdMode | str = IdMode.AS_IS) -> str:
    """A comparable form of an operator id: hexadecimal-looking ids lower-cased without
    leading zeros, converted between bases as `mode` says; other ids only stripped.

    An id that is not a number in the base `mode` expects is kept as it is.
    """
    value = raw.strip().strip("\x00")
    mode = IdMode(mode)
    if len(value) > MAX_ID_LENGTH:  # not an id; and keeps int() far from its digit limit
        return value
    if mode is IdMode.HEX_TO_DEC and _HEX.fullmatch(value):
        return str(int(value, 16))
    if mode is IdMode.DEC_TO_HEX and value.isascii() and value.isdigit():
        return format(int(value), "x")
    return _canonical(value)
