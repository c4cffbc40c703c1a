"""The values of the web console that the service and the store exchange: sessions,
one-time links, operators, contacts and groups, history filters, traffic counts.

Secrets never travel in these values in clear: a session or link token is held by the
browser (cookie) or the e-mail; the console's tables keep its SHA-256 (`token_digest`),
so a copy of them opens no session. (The e-mail outbox keeps each e-mail's text, links
included, as it was sent.)
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from passerelle.core.states import RecipientState


def token_digest(token: str) -> str:
    """What the store keeps of a session or link token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class Role(enum.StrEnum):
    """Who a console session belongs to (stored as this text)."""

    CUSTOMER = "customer"  # an account: its own pages only
    OPERATOR = "operator"  # the gateway's operator: the operator pages


class LinkPurpose(enum.StrEnum):
    """What a one-time link from an e-mail does (stored as this text)."""

    ACTIVATE = "activate"  # activates the account, grants the free credits
    RESET = "reset"  # sets a new console password, ends every session


@dataclass(frozen=True, slots=True)
class NewSession:
    """A console session to store; `digest` is `token_digest` of the cookie's token."""

    digest: str
    role: Role
    login: str  # the account's or the operator's login
    csrf: str  # the session's CSRF token (hidden `csrf_token` field of every form)
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class Session:
    """A live console session (not ended, not expired)."""

    digest: str
    role: Role
    login: str
    csrf: str
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class NewLink:
    """A one-time link to store: `digest` of the token the e-mail carries."""

    digest: str
    purpose: LinkPurpose
    login: str
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class Operator:
    """A console operator (not a customer account: no credits, no API)."""

    id: int
    login: str
    email: str
    password_hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class NewOperator:
    """What creating an operator needs."""

    login: str
    email: str
    password_hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class NewContact:
    """A contact to store: `number` already normalised (`core.numbers`)."""

    name: str
    number: str


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact of an account, with the names of its groups (sorted)."""

    id: int
    name: str
    number: str
    created_at: float
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """A contact group of an account and how many contacts it has."""

    id: int
    name: str
    created_at: float
    members: int


@dataclass(frozen=True, slots=True)
class Imported:
    """What importing contacts into a group stored: new contacts, contacts already
    there (same number: name updated), and the group's size after."""

    added: int
    updated: int
    members: int


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Filters of the message history: created in [since, until), with a recipient in
    `state` and/or whose number contains `dest`; newest first, `offset` skipped; at most
    `recipients` recipients given per message (the first by number: a page never loads
    all 50 000 recipients of a large message)."""

    since: float | None = None
    until: float | None = None
    state: RecipientState | None = None
    dest: str | None = None
    limit: int = 50
    offset: int = 0
    recipients: int = 10


@dataclass(frozen=True, slots=True)
class TrafficRow:
    """Recipients of the messages created in the minute starting at `minute` (unix
    seconds, a multiple of 60) that are now in `state`."""

    minute: float
    state: RecipientState
    count: int
