"""In-memory twin of the store, for unit tests and `memory://` (nothing is durable).

`recipients_of` is here because only the twin filters stored recipients in Python
(the SQLite backend does it in its query).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from passerelle.core.idempotency import PENDING, ref_parts
from passerelle.core.states import RecipientState
from passerelle.core.transitions import CallbackRow, LedgerRow
from passerelle.core.values import (
    Account,
    AccountChanges,
    CallbackState,
    CreditChange,
    LedgerEntry,
    MessageSummary,
    NewAccount,
    NewMessage,
    RecipientStatus,
    new_msgid,
)
from passerelle.exceptions import (
    AccountExists,
    AccountNotFound,
    IdempotencyBusy,
    IdempotencyDuplicate,
    NoCredit,
)
from passerelle.store.memory_callbacks import MemoryCallbacks
from passerelle.store.memory_console import MemoryConsole
from passerelle.store.memory_delivery import MemoryDelivery, OutboxRow
from passerelle.store.memory_directory import MemoryDirectory
from passerelle.store.memory_idempotency import MemoryIdempotency
from passerelle.store.memory_keys import MemoryKeys
from passerelle.store.memory_logins import MemoryLogins
from passerelle.store.memory_mail import MemoryMail
from passerelle.store.memory_owners import MemoryOwners
from passerelle.store.signal import WorkSignal


def recipients_of(rows: Sequence[RecipientStatus], dest: str | None) -> list[RecipientStatus]:
    """Filter recipients to `dest` when given."""
    return [r for r in rows if dest is None or r.dest == dest]


@dataclass
class _Message:
    account_id: int
    summary: MessageSummary
    recipient_ids: list[int]
    callback: bool = False
    idem_key: str | None = None


@dataclass
class MemoryStore(
    MemoryDelivery,
    MemoryCallbacks,
    MemoryLogins,
    MemoryOwners,
    MemoryMail,
    MemoryConsole,
    MemoryDirectory,
    MemoryKeys,
    MemoryIdempotency,
):
    """Dicts behind the `Store` protocol; single event loop, no locking needed."""

    accounts: dict[str, Account] = field(default_factory=dict)
    messages: dict[int, _Message] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)
    work: WorkSignal = field(default_factory=WorkSignal)

    def _credit(self, row: OutboxRow, entry: LedgerRow) -> None:
        account = self._by_id(row.account_id)
        self.accounts[account.login] = dataclasses.replace(
            account, credits=account.credits + entry.amount
        )
        what = (entry.amount, entry.kind, entry.actor, entry.reason)
        self._ledger(row.account_id, entry.at, *what, row.msgid)

    def _account_by_id(self, account_id: int) -> Account:
        return self._by_id(account_id)

    def _event(self, row: OutboxRow, event: CallbackRow) -> None:
        self.add_event(row.account_id, row.msgid, row.dest, event)

    def _statuses(self, message: _Message) -> tuple[RecipientStatus, ...]:
        return tuple(
            RecipientStatus(r.dest, r.state, r.stat, r.updated_at)
            for r in (self.outbox[i] for i in message.recipient_ids)
        )

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _ledger(
        self,
        account_id: int,
        at: float,
        delta: int,
        kind: str,
        actor: str,
        reason: str,
        msgid: int | None = None,
    ) -> None:
        self.entries.append(
            LedgerEntry(len(self.entries) + 1, account_id, at, delta, kind, actor, reason, msgid)
        )

    async def create_account(self, new: NewAccount) -> Account:
        if new.login in self.accounts:
            raise AccountExists(new.login)
        account = Account(
            id=len(self.accounts) + 1,
            login=new.login,
            email=new.email,
            api_password_hash=new.api_password_hash,
            console_password_hash=new.console_password_hash,
            activated=new.activated,
            gateway_enabled=new.gateway_enabled,
            suspended=False,
            credits=new.credits,
            rate_limit=new.rate_limit,
            callback_url=new.callback_url,
            callback_method=new.callback_method,
            callback_secret=new.callback_secret,
            created_at=new.created_at,
            updated_at=new.created_at,
        )
        self.accounts[new.login] = account
        if new.credits:
            self._ledger(account.id, new.created_at, new.credits, "grant", "cli", "initial credits")
        return account

    async def find_account(self, login: str) -> Account | None:
        return self.accounts.get(login)

    def _by_id(self, account_id: int) -> Account:
        for account in self.accounts.values():
            if account.id == account_id:
                return account
        raise AccountNotFound(str(account_id))

    async def update_account(self, login: str, update: AccountChanges, at: float) -> Account:
        changes = update.columns()
        account = self.accounts.get(login)
        if account is None:
            raise AccountNotFound(login)
        account = dataclasses.replace(account, updated_at=at, **changes)  # type: ignore[arg-type]
        self.accounts[login] = account
        if changes.get("callback_url"):
            self.wake_callbacks(account.id, at)
        return account

    async def adjust_credits(
        self, login: str, delta: int, *, kind: str, actor: str, reason: str, at: float
    ) -> CreditChange:
        account = self.accounts.get(login)
        if account is None:
            raise AccountNotFound(login)
        applied = max(delta, -account.credits)
        self.accounts[login] = dataclasses.replace(account, credits=account.credits + applied)
        if applied:
            self._ledger(account.id, at, applied, kind, actor, reason)
        return CreditChange(applied, account.credits + applied)

    async def accept_message(self, message: NewMessage) -> int:
        account = self._by_id(message.account_id)
        if message.idem_key is not None:
            stored = self._message_with_key(message.account_id, message.idem_key)
            if stored is not None:
                raise IdempotencyDuplicate(stored)
            key, generation = ref_parts(message.idem_key)
            row = self.idem_rows.get((message.account_id, key))
            if row is None or row.state != PENDING or row.generation != generation:
                raise IdempotencyBusy(key)  # settled meanwhile by another owner
        if account.credits < message.cost:
            raise NoCredit()
        msgid = new_msgid()
        while msgid in self.messages:
            msgid = new_msgid()
        self.accounts[account.login] = dataclasses.replace(
            account, credits=account.credits - message.cost
        )
        ids = []
        unit = message.cost // max(1, len(message.recipients))
        for dest in message.recipients:
            self.last_recipient_id += 1  # never reused, even after a purge
            rid = self.last_recipient_id
            self.outbox[rid] = OutboxRow(
                rid,
                msgid,
                account.id,
                dest,
                message.sender,
                message.sender_type,
                message.text,
                message.flash,
                message.created_at,
                unit,
                message.callback,
                next_attempt_at=message.created_at,
            )
            ids.append(rid)
        summary = MessageSummary(
            msgid, message.created_at, message.sender, message.text, message.cost, ()
        )
        self.messages[msgid] = _Message(
            message.account_id, summary, ids, message.callback, message.idem_key
        )
        self._ledger(account.id, message.created_at, -message.cost, "debit", "api", "envoi", msgid)
        self.work.notify()
        return msgid

    async def wait_for_work(self, seconds: float) -> bool:
        return await self.work.wait(seconds)

    def _message_with_key(self, account_id: int, key: str) -> int | None:
        for msgid, message in self.messages.items():
            if message.account_id == account_id and message.idem_key == key:
                return msgid
        return None

    async def message_states(
        self, account_id: int, msgid: int, dest: str | None = None
    ) -> list[RecipientStatus]:
        message = self.messages.get(msgid)
        if message is None or message.account_id != account_id:
            return []
        return recipients_of(self._statuses(message), dest)

    async def balance(self, account_id: int) -> int:
        return self._by_id(account_id).credits

    async def ledger(self, account_id: int, limit: int = 50) -> list[LedgerEntry]:
        rows = [e for e in self.entries if e.account_id == account_id]
        return list(reversed(rows))[:limit]

    async def ledger_sum(self, account_id: int) -> int:
        return sum(e.delta for e in self.entries if e.account_id == account_id)

    async def recent_messages(self, account_id: int, limit: int = 10) -> list[MessageSummary]:
        rows = [
            dataclasses.replace(m.summary, recipients=self._statuses(m))
            for m in self.messages.values()
            if m.account_id == account_id
        ]
        rows.sort(key=lambda s: s.created_at, reverse=True)
        return rows[:limit]

    def _summaries(self, account_id: int) -> list[MessageSummary]:
        return [
            dataclasses.replace(m.summary, recipients=self._statuses(m))
            for m in self.messages.values()
            if m.account_id == account_id
        ]

    async def count_messages(self, account_id: int) -> int:
        return sum(1 for m in self.messages.values() if m.account_id == account_id)

    async def purge_before(self, cutoff: float, limit: int) -> int:
        def done(msgid: int, message: _Message) -> bool:
            return not any(
                self.outbox[rid].state is RecipientState.QUEUED for rid in message.recipient_ids
            ) and not any(
                e.msgid == msgid and e.state is CallbackState.PENDING for e in self.events.values()
            )

        old = sorted(
            (m for m in self.messages.items() if m[1].summary.created_at < cutoff and done(*m)),
            key=lambda m: (m[1].account_id, m[1].summary.created_at),
        )[:limit]
        for msgid, message in old:
            for rid in message.recipient_ids:
                del self.outbox[rid]
            for event_id in [e.id for e in self.events.values() if e.msgid == msgid]:
                del self.events[event_id]
            del self.messages[msgid]
        for key in [k for k, p in self.pending.items() if p.received_at < cutoff]:
            del self.pending[key]
        return len(old)

    async def ping(self) -> bool:
        return True
