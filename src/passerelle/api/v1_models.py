"""Response models of the JSON API (they are its OpenAPI schema) and their making from
the store's values, and the query values it reads (times, cursors). Times are ISO 8601
in UTC."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from passerelle.api.v1_errors import invalid
from passerelle.core.states import RecipientState, statut_of, statut_of_message
from passerelle.core.values import CallbackEvent, LedgerEntry, MessageSummary, RecipientStatus

StateName = Literal[
    "queued", "submitted", "delivered", "undelivered", "expired", "rejected", "failed"
]
CallbackStateName = Literal["pending", "delivered", "failed", "gone"]

# the shapes of `since`/`until` (unix seconds, or an ISO 8601 date or time) and of a cursor
TIME = (
    r"^([0-9]{1,11}(\.[0-9]{1,9})?"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]{2,18}(Z|[+-][0-9:]{2,5})?)?)$"
)
CURSOR = r"^[A-Za-z0-9_-]{1,200}$"
MAX_OFFSET = 1_000_000  # a cursor further than this is refused (422)


def when(at: float) -> dt.datetime:
    """A stored unix time as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(at, dt.UTC)


def maybe_when(at: float | None) -> dt.datetime | None:
    """`when`, None staying None."""
    return None if at is None else when(at)


def state_name(state: RecipientState) -> StateName:
    """The JSON name of a recipient state (its lower-case name)."""
    name: StateName = state.name.lower()  # type: ignore[assignment]
    return name


class Problem(BaseModel):
    """An error (RFC 9457), served as ``application/problem+json``."""

    type: str = Field(description="a URL naming the kind of problem, or about:blank")
    title: str
    status: int
    detail: str
    code: str | None = Field(None, description="the legacy API's two-digit code, if any")


class Balance(BaseModel):
    """Credits left on the account."""

    credits: int


class LedgerItem(BaseModel):
    """One movement of credits."""

    id: int
    at: dt.datetime
    delta: int = Field(description="credits added (positive) or taken (negative)")
    kind: str
    actor: str
    reason: str
    msgid: int | None

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerItem:
        return cls(
            id=entry.id,
            at=when(entry.at),
            delta=entry.delta,
            kind=entry.kind,
            actor=entry.actor,
            reason=entry.reason,
            msgid=entry.msgid,
        )


class Ledger(BaseModel):
    """The newest movements of credits, newest first."""

    data: list[LedgerItem]


class Recipient(BaseModel):
    """One recipient of a message and where it stands."""

    dest: str
    state: StateName
    statut: int = Field(ge=0, le=2, description="legacy statut: 0 in flight, 1 delivered, 2 not")
    stat: str | None = Field(description="the operator's receipt status (DELIVRD, ...)")
    updated_at: dt.datetime | None

    @classmethod
    def of(cls, r: RecipientStatus) -> Recipient:
        return cls(
            dest=r.dest,
            state=state_name(r.state),
            statut=statut_of(r.state),
            stat=r.stat,
            updated_at=maybe_when(r.updated_at),
        )


class Message(BaseModel):
    """A message sent by the account and its recipients."""

    id: str = Field(description="the msgid as text (the legacy API's, for its statut)")
    msgid: int
    created_at: dt.datetime
    sender: str
    text: str
    cost: int
    statut: int = Field(ge=0, le=2, description="legacy statut of the whole message")
    recipients: list[Recipient]

    @classmethod
    def of(cls, m: MessageSummary) -> Message:
        return cls(
            id=str(m.msgid),
            msgid=m.msgid,
            created_at=when(m.created_at),
            sender=m.sender,
            text=m.text,
            cost=m.cost,
            statut=statut_of_message(r.state for r in m.recipients),
            recipients=[Recipient.of(r) for r in m.recipients],
        )


class MessagePage(BaseModel):
    """A page of messages, newest first; `next_cursor` fetches the next page (null on
    the last)."""

    data: list[Message]
    next_cursor: str | None


class Callback(BaseModel):
    """A callback event of the account (a receipt to send to its callback URL)."""

    id: int
    msgid: int
    dest: str
    statut: int
    stat: str
    state: CallbackStateName
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None

    @classmethod
    def of(cls, e: CallbackEvent) -> Callback:
        state: CallbackStateName = e.state.name.lower()  # type: ignore[assignment]
        return cls(
            id=e.id,
            msgid=e.msgid,
            dest=e.dest,
            statut=e.statut,
            stat=e.stat,
            state=state,
            attempts=e.attempts,
            created_at=when(e.created_at),
            next_attempt_at=when(e.next_attempt_at),
            last_status=e.last_status,
            last_error=e.last_error,
            delivered_at=maybe_when(e.delivered_at),
        )


class Callbacks(BaseModel):
    """The newest callback events, newest first."""

    data: list[Callback]


class Replayed(BaseModel):
    """A callback event queued to be sent again now."""

    id: int
    state: Literal["pending"] = "pending"


def time_of(name: str, value: str | None) -> float | None:
    """A unix time from unix seconds or ISO 8601 (UTC when it names no offset); 422."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise invalid(f"{name}: ISO 8601 or unix seconds", [_loc(name)]) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    if not (0 <= seconds < 1e11):  # NaN and infinities too
        raise invalid(f"{name}: ISO 8601 or unix seconds", [_loc(name)])
    return seconds


def cursor_of(offset: int) -> str:
    """The opaque cursor of the page at `offset`."""
    raw = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def offset_of(cursor: str | None) -> int:
    """The offset a cursor stands for (0 for none); 422 for one we did not give."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset = json.loads(raw)["offset"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise invalid("cursor: not a cursor of this API", [_loc("cursor")]) from None
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        raise invalid("cursor: not a cursor of this API", [_loc("cursor")])
    return offset


def _loc(name: str) -> dict[str, Any]:
    return {"loc": ["query", name], "msg": "invalid value"}
