"""A send request, and its validation into an outgoing message (pure, docs/api.md).

`SendRequest` is what a front door received, values as given; `validate_send` checks
it in the documented order of codes. The service calls it (`Gateway.send`), so every
front door gets the same checks and the same codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from passerelle import exceptions as exc
from passerelle.core import charset, numbers

MAX_LENGTH = 160
MAX_SENDER = 15
DEFAULT_SENDER_TYPE = 5
SENDER_TYPES = {"0": 0, "1": 1, "5": 5}
FLAGS = {"0": False, "1": True}

_FAULT_ERRORS: dict[numbers.NumberFault, type[exc.ApiError]] = {
    numbers.NumberFault.NOT_NUMERIC: exc.DestNotNumeric,
    numbers.NumberFault.TOO_SHORT: exc.DestTooShort,
    numbers.NumberFault.BAD_PREFIX: exc.BadPrefix,
}


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message to send, as a front door received it: not checked yet.

    Text values as given (None: absent, checked like empty): `dest` the recipients
    separated by commas, `sender` (``origine``), `text` (``msg``), and the options
    in their legacy encodings, `sender_type` (``0``, ``1`` or ``5``), `flash` (``type``)
    and `callback` (``0`` or ``1``). `via_post`: the request was a POST, which allows
    the larger recipient limit (`max_recipients_post`, else `max_recipients_get`).
    `group` (``groupe``, an extension): the name of one of the account's contact groups
    whose numbers are added to `dest`; the service resolves it (`Gateway.send`) before
    these checks, which never see it.
    """

    dest: str | None = None
    sender: str | None = None
    text: str | None = None
    sender_type: str | None = None
    flash: str | None = None
    callback: str | None = None
    via_post: bool = False
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A validated message ready to be charged and stored."""

    recipients: tuple[str, ...]
    sender: str
    sender_type: int
    text: str
    flash: bool
    callback: bool

    @property
    def cost(self) -> int:
        """Credits to charge: one per distinct recipient per part (one part today)."""
        return len(self.recipients)


def _sender_type(value: str | None) -> int:
    if not value:
        return DEFAULT_SENDER_TYPE
    if value not in SENDER_TYPES:
        raise exc.InvalidParameter("sendertype")
    return SENDER_TYPES[value]


def _flag(value: str | None, name: str) -> bool:
    """An absent or empty flag is off (the PHP example sends empty fields)."""
    if not value:
        return False
    if value not in FLAGS:
        raise exc.InvalidParameter(name)
    return FLAGS[value]


def validate_send(request: SendRequest, max_recipients: int) -> Outgoing:
    """Check a send request in the documented order; raise the first failing code.

    Order: 03, 04, 05, 06, 07, 08 (the manual's), then 12, 13, 15, 17. Credits (02)
    are checked by the store, last, in the transaction that charges them. One exception:
    more distinct items in `dest` than `max_recipients` is 15 at once, after 03 and 04,
    before the numbers are checked one by one.
    """
    dest = numbers.split_dest(request.dest or "")
    if not dest:
        raise exc.DestMissing()
    sender = request.sender or ""
    if not sender:
        raise exc.SenderMissing()
    if len(dest) > max_recipients and len(set(dest)) > max_recipients:
        # over the limit whatever its numbers: answered now, not after reading each one
        # (a 4 MB list would take 100 ms to check number by number)
        raise exc.TooManyRecipients()
    fault = numbers.first_fault(dest)
    if fault is not None:
        raise _FAULT_ERRORS[fault]()
    raw_text = request.text or ""
    if not raw_text.strip(" \t\r\n"):
        raise exc.MessageMissing()
    text = charset.map_text(raw_text)
    if len(text) > MAX_LENGTH:
        raise exc.MessageTooLong()
    if len(sender) > MAX_SENDER or "\r" in sender or "\n" in sender:
        raise exc.SenderInvalid()
    if not charset.is_accepted(sender):
        raise exc.SenderInvalid()
    recipients = numbers.unique(dest)
    if len(recipients) > max_recipients:
        raise exc.TooManyRecipients()
    return Outgoing(
        recipients=tuple(recipients),
        sender=sender,
        sender_type=_sender_type(request.sender_type),
        text=text,
        flash=_flag(request.flash, "type"),
        callback=_flag(request.callback, "callback"),
    )
