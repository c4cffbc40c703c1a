"""The values the service and the store exchange: what goes into a store and out of it.

Frozen dataclasses and enums shared by the service layers (`service.py`,
`service_workers.py`), the store protocol and both backends (`store/`) and the
workers and front doors that receive them (delivery, webhooks, CLI). They live in
`core/` so that nothing above the service needs to import `store/`. The helpers kept
here concern these values only: the msgid range and `new_msgid` (what a msgid is; the
store draws it, the one use of randomness in `core/`), `CALLBACK_METHODS` (the methods
an `Account.callback_method` may name) and `AccountChanges` (the fields an update sets).
The e-mail outbox's values (`NewMail`, `MailJob`, `Mail`) are here too.
"""

from __future__ import annotations

import dataclasses
import enum
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from passerelle.core.modes import BindMode, Coding, IdMode
from passerelle.core.routing import Route, rank
from passerelle.core.states import RecipientState

MSGID_LOW = 100_000_000
MSGID_HIGH = 999_999_999
CALLBACK_METHODS = ("POST", "GET")


def new_msgid() -> int:
    """A random nine-digit msgid from the CSPRNG (docs/api.md)."""
    return MSGID_LOW + secrets.randbelow(MSGID_HIGH - MSGID_LOW + 1)


@dataclass(frozen=True, slots=True)
class Account:
    """One customer account as stored."""

    id: int
    login: str
    email: str
    api_password_hash: str
    console_password_hash: str | None
    activated: bool
    gateway_enabled: bool
    suspended: bool
    credits: int
    rate_limit: float | None
    callback_url: str | None
    callback_method: str
    callback_secret: str
    created_at: float
    updated_at: float

    @property
    def usable(self) -> bool:
        """True when the account may use the API (else code 14)."""
        return self.activated and self.gateway_enabled and not self.suspended


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What creating an account needs."""

    login: str
    email: str
    api_password_hash: str
    callback_secret: str
    created_at: float
    credits: int = 0
    activated: bool = True
    gateway_enabled: bool = True
    callback_url: str | None = None
    callback_method: str = "POST"
    rate_limit: float | None = None
    console_password_hash: str | None = None  # set by a console sign-up


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated, priced message to store and charge in one transaction."""

    account_id: int
    created_at: float
    sender: str
    sender_type: int
    text: str
    flash: bool
    callback: bool
    recipients: tuple[str, ...]
    cost: int
    idem_key: str | None = None  # the JSON API's Idempotency-Key, stored with the message


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One recipient of a stored message."""

    dest: str
    state: RecipientState
    stat: str | None
    updated_at: float | None


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A stored message with its recipients' states, for `account show` and the console."""

    msgid: int
    created_at: float
    sender: str
    text: str
    cost: int
    recipients: tuple[RecipientStatus, ...]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One movement of credits."""

    id: int
    account_id: int
    at: float
    delta: int
    kind: str
    actor: str
    reason: str
    msgid: int | None


@dataclass(frozen=True, slots=True)
class CreditChange:
    """What `adjust_credits` did: the delta applied (a removal stops at zero), the balance."""

    applied: int
    balance: int


@dataclass(frozen=True, slots=True)
class Connector:
    """An SMPP link to an operator (docs/smpp.md). The password is sent in clear by SMPP."""

    name: str
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind_mode: BindMode = BindMode.TRX  # stored as its string, "trx" or "tx+rx"
    window: int = 10
    throughput: float = 0.0  # submits/s; 0 = unlimited
    enquire_link_s: float = 30.0
    id_mode: IdMode = IdMode.AS_IS  # receipt ids: "as-is", "hex-to-dec", "dec-to-hex"
    coding: Coding = Coding.GSM  # "gsm" (data_coding 0) or "latin1" (3)
    enabled: bool = True
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class RouteRow:
    """A stored routing rule."""

    id: int
    route: Route

    def describe(self) -> str:
        """``3 (336 → orange, sfr)``: how messages and the CLI name a rule."""
        r = self.route
        return f"{self.id} ({r.prefix or 'default'} → {', '.join(r.connectors)})"


def ordered_rows(routes: Mapping[int, Route]) -> list[RouteRow]:
    """Stored rules (by id) in the order they are tried; equal rules by id."""
    return [
        RouteRow(route_id, route)
        for route_id, route in sorted(routes.items(), key=lambda item: (*rank(item[1]), item[0]))
    ]


@dataclass(frozen=True, slots=True)
class DueRecipient:
    """A recipient claimed for submission, with what the submit needs."""

    id: int
    msgid: int
    dest: str
    sender: str
    sender_type: int
    text: str
    flash: bool
    attempts: int
    created_at: float
    reclaimed: bool  # an earlier claim ended without an outcome: a resend may duplicate
    claim: float  # the end of this claim's lease: identifies the claim in its outcome


class ReceiptMatch(enum.Enum):
    """What recording a receipt did."""

    APPLIED = "applied"  # the recipient moved to the receipt's state
    PENDING = "pending"  # no recipient yet: kept until its submit_sm_resp is recorded
    IGNORED = "ignored"  # the recipient is already final (a repeated receipt)


class CallbackState(enum.IntEnum):
    """Where a callback event stands."""

    PENDING = 0  # to send (or waiting for the account to set a callback URL)
    DELIVERED = 1  # a 2xx was received
    FAILED = 2  # retries exhausted (horizon passed)
    GONE = 3  # the receiver answered 410 Gone: never again


class CallbackOutcome(enum.Enum):
    """What one sending attempt decided."""

    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"
    FAILED = "failed"

    @property
    def state(self) -> CallbackState:
        """The event's state after an attempt with this outcome."""
        return {
            CallbackOutcome.DELIVERED: CallbackState.DELIVERED,
            CallbackOutcome.RETRY: CallbackState.PENDING,
            CallbackOutcome.GONE: CallbackState.GONE,
            CallbackOutcome.FAILED: CallbackState.FAILED,
        }[self]


@dataclass(frozen=True, slots=True)
class CallbackJob:
    """A claimed event with what sending it needs (URL, method and secret read at claim)."""

    id: int
    login: str
    url: str
    method: str
    secret: str
    msgid: int
    dest: str
    statut: int
    stat: str
    err: str | None
    occurred_at: float
    created_at: float
    attempts: int
    claim: float  # the end of this claim's lease: identifies the claim when finishing


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    """One try at sending an event."""

    at: float
    status: int | None  # the HTTP status, None when no answer came
    latency_ms: float
    error: str | None


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """An attempt and what it decided, as the sender hands it to the store."""

    event_id: int
    claim: float  # the job's `claim`: an outcome applies only to the claim it answers
    attempt: CallbackAttempt
    outcome: CallbackOutcome
    next_at: float | None  # when to try again (RETRY only)


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """An event as listed by `passerelle callbacks list` and the console."""

    id: int
    login: str
    msgid: int
    dest: str
    statut: int
    stat: str
    state: CallbackState
    attempts: int
    created_at: float
    next_attempt_at: float
    last_status: int | None
    last_error: str | None
    delivered_at: float | None


class Unset(enum.Enum):
    """The value of a field an update leaves as it is."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """The account fields an update sets (every other field stays as it is)."""

    email: str | Unset = UNSET
    api_password_hash: str | Unset = UNSET
    console_password_hash: str | Unset | None = UNSET
    activated: bool | Unset = UNSET
    gateway_enabled: bool | Unset = UNSET
    suspended: bool | Unset = UNSET
    rate_limit: float | Unset | None = UNSET
    callback_url: str | Unset | None = UNSET
    callback_method: str | Unset = UNSET
    callback_secret: str | Unset = UNSET

    def columns(self) -> dict[str, object]:
        """The fields set, by name (the accounts table's column names)."""
        return {
            f.name: value
            for f in dataclasses.fields(self)
            if (value := getattr(self, f.name)) is not UNSET
        }


@dataclass(frozen=True, slots=True)
class ConnectorOwner:
    """Which process binds a connector, until when (database clock), whether its link
    is bound, and its window use as of the owner's last refresh: submits awaiting their
    response (`in_use`) out of the link's `window`."""

    owner: str
    until: float
    bound: bool
    in_use: int = 0
    window: int = 0


class MailState(enum.StrEnum):
    """Where an e-mail of the outbox stands (stored as this text)."""

    PENDING = "pending"  # to send, or to try again at `next_attempt_at`
    SENT = "sent"  # the SMTP server accepted it (or its .eml file was written)
    FAILED = "failed"  # retries exhausted (the horizon passed)


@dataclass(frozen=True, slots=True)
class NewMail:
    """An e-mail to queue: one recipient, a subject and a plain-text body."""

    to_addr: str
    subject: str
    body_text: str
    created_at: float


@dataclass(frozen=True, slots=True)
class MailJob:
    """A claimed e-mail, with what sending it needs."""

    id: int
    to_addr: str
    subject: str
    body_text: str
    created_at: float
    attempts: int  # attempts finished before this claim
    claim: float  # the end of this claim's lease: identifies the claim when finishing


@dataclass(frozen=True, slots=True)
class Mail:
    """An e-mail as the outbox holds it (for tests, the CLI and the console)."""

    id: int
    to_addr: str
    subject: str
    body_text: str
    created_at: float
    state: MailState
    attempts: int
    next_attempt_at: float
    claimed_until: float | None
    sent_at: float | None
    last_error: str | None
