"""In-memory twin of the console's store role (`sqlite_console.py`): sessions, one-time
links and operators in dicts; the page reads over the twin's messages and accounts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from passerelle.core.console import (
    LinkPurpose,
    MessageQuery,
    NewLink,
    NewOperator,
    NewSession,
    Operator,
    Role,
    Session,
    TrafficRow,
)
from passerelle.core.states import RecipientState
from passerelle.core.values import (
    Account,
    CallbackEvent,
    MessageSummary,
    NewAccount,
    NewMail,
    RecipientStatus,
)
from passerelle.exceptions import AccountExists, AccountNotFound, NameTaken


@dataclass
class _Link:
    link: NewLink
    used_at: float | None = None


def matches(summary: MessageSummary, query: MessageQuery) -> bool:
    """True when a message (with its recipients) passes the history's filters."""
    if query.since is not None and summary.created_at < query.since:
        return False
    if query.until is not None and summary.created_at >= query.until:
        return False
    recipients = summary.recipients
    if query.state is not None:
        recipients = tuple(r for r in recipients if r.state is query.state)
    if query.dest:
        recipients = tuple(r for r in recipients if query.dest in r.dest)
    return bool(recipients) or (query.state is None and not query.dest)


def first_recipients(summary: MessageSummary, count: int) -> MessageSummary:
    """The message with only its first `count` recipients by number."""
    ordered = sorted(summary.recipients, key=lambda r: r.dest)[:count]
    return dataclasses.replace(summary, recipients=tuple(ordered))


@dataclass
class MemoryConsole:
    """Console half of the in-memory store."""

    sessions: dict[str, Session] = field(default_factory=dict)
    links: dict[str, _Link] = field(default_factory=dict)
    operators: dict[str, Operator] = field(default_factory=dict)

    # provided by MemoryStore and the other mixins
    accounts: dict[str, Account] = field(default_factory=dict)

    if TYPE_CHECKING:

        async def create_account(self, new: NewAccount) -> Account: ...

        async def queue_mail(self, mail: NewMail) -> int: ...

        def _ledger(
            self,
            account_id: int,
            at: float,
            delta: int,
            kind: str,
            actor: str,
            reason: str,
            msgid: int | None = None,
        ) -> None: ...

        def _summaries(self, account_id: int) -> list[MessageSummary]: ...

        async def list_callbacks(
            self, login: str | None, failed_only: bool, limit: int
        ) -> list[CallbackEvent]: ...

    # sign-up and links

    async def sign_up(self, account: NewAccount, link: NewLink, mail: NewMail) -> Account:
        if account.login in self.accounts:
            raise AccountExists(account.login)
        if await self.find_account_by_email(account.email) is not None:
            raise NameTaken("an account already uses this e-mail address")
        created = await self.create_account(account)
        await self.request_link(link, mail)
        return created

    async def find_account_by_email(self, email: str) -> Account | None:
        wanted = email.casefold()
        for account in self.accounts.values():
            if account.email.casefold() == wanted:
                return account
        return None

    async def request_link(self, link: NewLink, mail: NewMail) -> None:
        self.links[link.digest] = _Link(link)
        await self.queue_mail(mail)

    def _use(self, digest: str, purpose: LinkPurpose, now: float) -> Account | None:
        row = self.links.get(digest)
        if row is None or row.used_at is not None or row.link.purpose is not purpose:
            return None
        if row.link.expires_at <= now or row.link.login not in self.accounts:
            return None
        row.used_at = now
        return self.accounts[row.link.login]

    async def activate_account(self, digest: str, now: float, credits: int) -> Account | None:
        account = self._use(digest, LinkPurpose.ACTIVATE, now)
        if account is None:
            return None
        account = dataclasses.replace(
            account, activated=True, credits=account.credits + max(credits, 0), updated_at=now
        )
        self.accounts[account.login] = account
        if credits > 0:
            self._ledger(account.id, now, credits, "grant", "activation", "free test credits")
        return account

    async def reset_console_password(
        self, digest: str, password_hash: str, now: float
    ) -> Account | None:
        account = self._use(digest, LinkPurpose.RESET, now)
        if account is None:
            return None
        await self.set_console_password(account.login, password_hash, now, None)
        return self.accounts[account.login]

    async def set_console_password(
        self, login: str, password_hash: str, now: float, keep: str | None
    ) -> None:
        account = self.accounts.get(login)
        if account is None:
            raise AccountNotFound(login)
        self.accounts[login] = dataclasses.replace(
            account, console_password_hash=password_hash, updated_at=now
        )
        await self.end_sessions(Role.CUSTOMER, login, keep)
        for row in self.links.values():  # every reset link still unused becomes useless
            if row.link.login == login and row.link.purpose is LinkPurpose.RESET:
                row.used_at = row.used_at if row.used_at is not None else now

    # sessions

    async def create_session(self, session: NewSession) -> None:
        self.sessions[session.digest] = Session(
            session.digest,
            session.role,
            session.login,
            session.csrf,
            session.created_at,
            session.expires_at,
        )

    async def find_session(self, digest: str, now: float) -> Session | None:
        session = self.sessions.get(digest)
        return session if session is not None and session.expires_at > now else None

    async def end_session(self, digest: str) -> None:
        self.sessions.pop(digest, None)

    async def end_sessions(self, role: Role, login: str, keep: str | None = None) -> int:
        ended = [
            d for d, s in self.sessions.items() if s.role is role and s.login == login and d != keep
        ]
        for digest in ended:
            del self.sessions[digest]
        return len(ended)

    async def purge_console(self, now: float) -> int:
        old = [d for d, s in self.sessions.items() if s.expires_at <= now]
        for digest in old:
            del self.sessions[digest]
        links = [d for d, row in self.links.items() if row.link.expires_at <= now]
        for digest in links:
            del self.links[digest]
        return len(old) + len(links)

    # operators

    async def create_operator(self, new: NewOperator) -> Operator:
        if new.login in self.operators:
            raise NameTaken(f"an operator named {new.login!r} already exists")
        operator = Operator(
            len(self.operators) + 1, new.login, new.email, new.password_hash, new.created_at
        )
        self.operators[new.login] = operator
        return operator

    async def find_operator(self, login: str) -> Operator | None:
        return self.operators.get(login)

    # reads of the pages

    async def list_accounts(self, search: str, limit: int, offset: int) -> list[Account]:
        wanted = search.casefold()
        found = [
            a
            for a in self.accounts.values()
            if wanted in a.login.casefold() or wanted in a.email.casefold()
        ]
        found.sort(key=lambda a: a.login)
        return found[offset : offset + limit]

    async def search_messages(self, account_id: int, query: MessageQuery) -> list[MessageSummary]:
        found = [s for s in self._summaries(account_id) if matches(s, query)]
        found.sort(key=lambda s: (s.created_at, s.msgid), reverse=True)
        page = found[query.offset : query.offset + query.limit]
        return [first_recipients(s, query.recipients) for s in page]

    async def find_message(
        self, account_id: int, msgid: int, per_message: int = 500
    ) -> MessageSummary | None:
        for summary in self._summaries(account_id):
            if summary.msgid == msgid:
                return first_recipients(summary, per_message)
        return None

    async def states_of(
        self, account_id: int, msgids: Sequence[int], per_message: int = 500
    ) -> dict[int, tuple[RecipientStatus, ...]]:
        wanted = set(msgids)
        return {
            s.msgid: first_recipients(s, per_message).recipients
            for s in self._summaries(account_id)
            if s.msgid in wanted
        }

    async def find_callback(self, event_id: int) -> CallbackEvent | None:
        for event in await self.list_callbacks(None, False, 1 << 30):
            if event.id == event_id:
                return event
        return None

    async def traffic(self, since: float) -> list[TrafficRow]:
        counts: dict[tuple[float, RecipientState], int] = {}
        for account in self.accounts.values():
            for summary in self._summaries(account.id):
                if summary.created_at < since:
                    continue
                minute = summary.created_at // 60 * 60
                for r in summary.recipients:
                    counts[(minute, r.state)] = counts.get((minute, r.state), 0) + 1
        ordered = sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
        return [TrafficRow(minute, state, n) for (minute, state), n in ordered]
