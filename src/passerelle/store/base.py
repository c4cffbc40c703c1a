"""The store protocols: intent-named operations every backend implements, by role.

Roles: `StoreLifecycle`, `AccountStore` (accounts, credits, ledger), `OutboxStore`
(messages, recipients, submit outcomes, receipts), `CallbackStore`, `RouteStore`
(connectors, routes, ownership), `LoginStore` (failed-login counters), `RequestStore`
(request-rate windows), `RetentionStore`, `MailStore` (the e-mail outbox), `ConsoleStore`
(sign-up, one-time links, sessions, operators, the console's reads), `DirectoryStore`
(contacts and groups), `KeyStore` (the JSON API's keys) and `IdempotencyStore` (its
Idempotency-Keys); `Store` is all of them,
`WorkerStore` those the workers use.
Backends: `memory.MemoryStore` (the twin for unit tests, one mixin per role) and
`sqlite.SqliteStore` (one mixin module per role). Each role has its contract suite in
`tests/integration/test_store_*contract.py`, run on both. This module holds only the
interfaces and `open_store`, which picks a backend; the values the operations take
and return are in `core/values.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from passerelle.core.console import (
    Contact,
    Group,
    Imported,
    MessageQuery,
    NewContact,
    NewLink,
    NewOperator,
    NewSession,
    Operator,
    Role,
    Session,
    TrafficRow,
)
from passerelle.core.idempotency import IdemRow, Reservation
from passerelle.core.keys import ApiKey, NewApiKey
from passerelle.core.ratelimit import AttemptDecision, LoginPolicy, RequestWindow
from passerelle.core.routing import Route
from passerelle.core.states import RecipientState
from passerelle.core.values import (
    Account,
    AccountChanges,
    CallbackAttempt,
    CallbackEvent,
    CallbackJob,
    CallbackResult,
    Connector,
    ConnectorOwner,
    CreditChange,
    DueRecipient,
    LedgerEntry,
    Mail,
    MailJob,
    MessageSummary,
    NewAccount,
    NewMail,
    NewMessage,
    ReceiptMatch,
    RecipientStatus,
    RouteRow,
)
from passerelle.store.location import database_file, is_postgres


class StoreLifecycle(Protocol):
    """Connecting, disconnecting, and whether the storage answers."""

    async def open(self) -> None:
        """Connect (and start the writer, where there is one)."""

    async def close(self) -> None:
        """Finish pending writes, then disconnect."""

    async def ping(self) -> bool:
        """True when the storage answers."""

    def clock(self) -> float:
        """Now on the database's clock, in unix seconds, without a round trip.

        Every lease, due time and worker timestamp is read on this clock, so that
        processes that share the database agree on them whatever their own clocks say."""


class AccountStore(Protocol):
    """Accounts, their credits and the ledger of every movement."""

    async def create_account(self, new: NewAccount) -> Account:
        """Create an account (AccountExists if the login is taken); grants go to the ledger."""

    async def find_account(self, login: str) -> Account | None:
        """The account with this login, or None."""

    async def update_account(self, login: str, update: AccountChanges, at: float) -> Account:
        """Set the fields `update` sets (AccountNotFound when there is no such login)."""

    async def adjust_credits(
        self, login: str, delta: int, *, kind: str, actor: str, reason: str, at: float
    ) -> CreditChange:
        """Add (or remove, never below zero) credits with a ledger entry; what was applied
        and the new balance."""

    async def balance(self, account_id: int) -> int:
        """The account's credits."""

    async def ledger(self, account_id: int, limit: int = 50) -> list[LedgerEntry]:
        """The newest ledger entries first."""

    async def ledger_sum(self, account_id: int) -> int:
        """The sum of all the account's ledger deltas (equals the balance)."""


class OutboxStore(Protocol):
    """Messages and their recipients, from the accepting charge to the final state:
    the outbox the dispatcher claims from, submit outcomes and receipts."""

    async def accept_message(self, message: NewMessage) -> int:
        """Store a message, its recipients and its debit in one transaction; its msgid.

        Raises NoCredit (nothing stored) when the balance is below the cost.
        """

    async def message_states(
        self, account_id: int, msgid: int, dest: str | None = None
    ) -> list[RecipientStatus]:
        """Recipients of `msgid` if it belongs to the account (only `dest` if given)."""

    async def recent_messages(self, account_id: int, limit: int = 10) -> list[MessageSummary]:
        """The newest messages first, with their recipients."""

    async def count_messages(self, account_id: int) -> int:
        """How many messages the account has stored."""

    async def wait_for_work(self, seconds: float) -> bool:
        """Until new work is queued (an accepted message, committed) or `seconds` pass;
        True when it was. One waiter (the dispatcher); a missed signal is found by the
        next claim."""

    async def claim_due(self, now: float, lease: float, limit: int) -> list[DueRecipient]:
        """Claim up to `limit` queued recipients due at `now` for `lease` seconds."""

    async def mark_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> None:
        """The operator accepted it with `smsc_id`; a receipt kept earlier applies now."""

    async def mark_retry(
        self, recipient_id: int, next_at: float, err: str, claim: float | None = None
    ) -> None:
        """A temporary failure: queued again for `next_at`. With `claim` (the claim's
        `DueRecipient.claim`), only while that claim still holds the recipient: a worker
        whose lease ended meanwhile changes nothing."""

    async def mark_failed(
        self, recipient_id: int, err: str, now: float, refund: bool, claim: float | None = None
    ) -> None:
        """No operator took it: failed, and its credit refunded when `refund`; with
        `claim`, only while that claim still holds it (as `mark_retry`)."""

    async def release(
        self,
        recipient_ids: Sequence[int],
        not_before: float | None = None,
        claim: float | None = None,
    ) -> None:
        """Give claims back without an outcome (graceful shutdown before submitting); with
        `not_before`, they are not due again before then (no connector was up for them:
        let other recipients pass); with `claim`, only those that claim still holds.
        Attempts are not counted."""

    async def record_receipt(
        self,
        connector: str,
        smsc_id: str,
        state: RecipientState,
        stat: str,
        err: str | None,
        now: float,
    ) -> ReceiptMatch:
        """Apply an operator receipt to the recipient it names."""

    async def expire_overdue(self, now: float, deadline: float, limit: int) -> int:
        """Make final (`core.deadline.EXPIRY`: EXPIRED, ``no-receipt``) the submitted
        recipients still without a receipt `deadline` seconds after their submit, oldest
        first, at most `limit` in one transaction, each with its callback event when the
        message asked for callbacks; no refund. How many (callers repeat while it is
        `limit`)."""

    async def queue_depth(self) -> int:
        """Recipients waiting to be submitted."""

    async def count_queued(self, starting: Sequence[str], not_starting: Sequence[str]) -> int:
        """Queued recipients whose number starts with one of `starting` and with none of
        `not_starting` (prefixes; ``""`` matches every number)."""

    async def delivery_counts(self) -> dict[RecipientState, int]:
        """Recipients per state (for metrics and tests)."""


class CallbackStore(Protocol):
    """Delivery-receipt callback events: created by the outbox's transitions (in the
    same transaction), claimed, answered, listed, replayed."""

    async def wait_for_callbacks(self, seconds: float) -> bool:
        """Until a callback event is queued by any process sharing the database, where the
        backend hears of it (PostgreSQL's NOTIFY), or `seconds` pass; True when one was.
        SQLite and memory just wait: their callback sender polls."""

    async def claim_callbacks(self, now: float, lease: float, limit: int) -> list[CallbackJob]:
        """Claim due pending events of accounts that have a callback URL, oldest due first.

        A claim moves the event's next attempt to the end of the lease: unless it is
        finished by then, it is due again (at least once, never lost)."""

    async def finish_callbacks(self, results: Sequence[CallbackResult]) -> None:
        """Record attempts and their outcomes, all in one transaction. Every attempt is
        logged, but an outcome changes the event only if the event is still pending under
        the same claim: a late answer to a lapsed claim (the event was claimed again,
        replayed or expired since) never reopens, reschedules or closes it."""

    async def expire_callbacks(self, created_before: float, now: float) -> int:
        """Fail pending events created before `created_before` (the horizon) that are not
        being sent (a claim in progress decides for itself); how many."""

    async def list_callbacks(
        self, login: str | None, failed_only: bool, limit: int
    ) -> list[CallbackEvent]:
        """Newest events first, optionally one account's, optionally only failed/gone."""

    async def callback_attempts(self, event_id: int) -> list[CallbackAttempt]:
        """Every attempt of an event, oldest first."""

    async def replay_callback(self, event_id: int, now: float) -> bool:
        """Make an event pending and due now; False if there is no such event."""

    async def callback_backlog(self) -> tuple[int, float | None]:
        """Pending events, and the creation time of the oldest one."""


class RouteStore(Protocol):
    """Connectors, routing rules, and which process binds each connector."""

    async def add_connector(self, connector: Connector) -> None:
        """Create or replace a connector."""

    async def list_connectors(self) -> list[Connector]:
        """Every connector, by name."""

    async def remove_connector(self, name: str, with_routes: bool = False) -> list[RouteRow]:
        """Delete a connector and, with `with_routes`, the routes naming it, in one
        transaction; the routes deleted. NotFound if there is no such connector;
        ConnectorInUse (nothing deleted) if routes name it and not `with_routes`."""

    async def add_route(self, route: Route, at: float) -> int:
        """Store a routing rule; its id. UnknownConnector (nothing stored) if it names a
        connector that is not stored (checked in the same transaction)."""

    async def list_routes(self) -> list[RouteRow]:
        """Every rule, in the order they are tried."""

    async def remove_route(self, route_id: int) -> bool:
        """Delete a rule; False if there was none."""

    async def claim_connectors(
        self,
        names: Iterable[str],
        owner: str,
        lease: float,
        bound: Mapping[str, bool],
        use: Mapping[str, tuple[int, int]] | None = None,
    ) -> frozenset[str]:
        """Own, or keep owning, each of `names` that no other live lease holds, for
        `lease` seconds on the database's clock, recording whether its link is `bound`
        and its window `use` (in use, window; 0, 0 for a name it lacks); give back those
        `owner` holds but no longer names. The names `owner` holds."""

    async def heartbeat(self, owner: str, lease: float) -> list[str]:
        """Mark delivery process `owner` alive for `lease` seconds on the database's
        clock; every live one (`owner` included), in id order."""

    async def release_connectors(self, owner: str) -> None:
        """Give back every connector `owner` holds."""

    async def connector_owners(self) -> dict[str, ConnectorOwner]:
        """The live ownerships by connector name."""


class LoginStore(Protocol):
    """Failed-login counters shared by every process."""

    async def begin_login_attempt(
        self, login: str, address: str, now: float, policy: LoginPolicy
    ) -> AttemptDecision:
        """Count a password verification about to start, atomically with the check of
        the limits (`core.ratelimit.decide_attempt`); the decision (nothing counted when
        it is a refusal)."""

    async def login_succeeded(self, login: str, address: str, now: float) -> None:
        """A verification counted by `begin_login_attempt` succeeded: take the count back
        from both counters and remember `address` as known for `login`."""

    async def login_blocks(
        self, now: float, policy: LoginPolicy
    ) -> tuple[dict[str, float], dict[str, float]]:
        """The logins and the addresses at their limit in a window not over yet, each
        with the end of its window."""

    async def known_address(self, login: str, address: str, since: float) -> bool:
        """True when `login` succeeded from `address` after `since`."""


class RequestStore(Protocol):
    """Request-rate counters shared by every process."""

    async def count_request(self, window: RequestWindow) -> bool:
        """Count one request in `window` (a new window starts its key's count again);
        True while the count is within the window's limit."""


class RetentionStore(Protocol):
    """Deleting what is old and done."""

    async def purge_before(self, cutoff: float, limit: int) -> int:
        """Delete messages created before `cutoff` that are done (no recipient still
        queued, no callback event still pending), with their recipients, callback events
        and attempts, and receipts kept for unknown operator ids received before
        `cutoff`, in one transaction; how many messages. At most `limit`, account by
        account, oldest first; a backend may take fewer to keep the transaction short
        (callers repeat until none is deleted). The ledger (the accounts' financial
        history) is kept."""

    async def purge_console(self, now: float) -> int:
        """Delete console sessions and one-time links expired before `now`; how many."""


class MailStore(Protocol):
    """The e-mail outbox: an e-mail is queued in a transaction (a crash loses none), then
    claimed by a sender on a lease and finished as sent, retried later or failed."""

    async def queue_mail(self, mail: NewMail) -> int:
        """Store an e-mail, pending and due at once; its id."""

    async def claim_mails(self, now: float, lease: float, limit: int) -> list[MailJob]:
        """Claim up to `limit` pending e-mails due at `now`, oldest due first, for `lease`
        seconds: until then no other claim takes them; unless finished by then, they are
        due again (at least once, never lost)."""

    async def finish_mail(
        self,
        mail_id: int,
        claim: float,
        sent_at: float | None,
        error: str | None,
        next_at: float | None,
    ) -> bool:
        """Record one attempt of a claimed e-mail: sent at `sent_at`; or failed with
        `error`, to try again at `next_at`, or for good when `next_at` is None. Applies
        only while the e-mail is pending under the same claim (False otherwise: a lapsed
        claim never changes an e-mail claimed again since)."""

    async def find_mail(self, mail_id: int) -> Mail | None:
        """The e-mail with this id, or None."""


class ConsoleStore(Protocol):
    """What the web console needs beyond the other roles: sign-up and one-time links
    (with their e-mail, in the same transaction), sessions, operators, and the reads of
    its pages. Tokens are never stored: only their `core.console.token_digest`."""

    async def sign_up(self, account: NewAccount, link: NewLink, mail: NewMail) -> Account:
        """Create an account, its activation link and the e-mail carrying it, in one
        transaction. AccountExists (login) or NameTaken (an account has this e-mail,
        compared without case): nothing stored."""

    async def find_account_by_email(self, email: str) -> Account | None:
        """The account with this e-mail address (compared without case), or None."""

    async def request_link(self, link: NewLink, mail: NewMail) -> None:
        """Store a one-time link and the e-mail carrying it, in one transaction."""

    async def activate_account(self, digest: str, now: float, credits: int) -> Account | None:
        """Use the ACTIVATE link `digest` if it is unused and not expired at `now`: the
        link used, the account activated, `credits` granted (ledger kind ``grant``, actor
        ``activation``) when > 0, in one transaction; the account. None (nothing changed)
        for an unknown, used or expired link."""

    async def reset_console_password(
        self, digest: str, password_hash: str, now: float
    ) -> Account | None:
        """Use the RESET link `digest` if it is unused and not expired at `now`: the link
        used, the account's console password set, every customer session of it ended, in
        one transaction; the account. None (nothing changed) otherwise."""

    async def set_console_password(
        self, login: str, password_hash: str, now: float, keep: str | None
    ) -> None:
        """Set an account's console password and end every customer session of it except
        `keep` (a session digest), in one transaction. AccountNotFound."""

    async def create_session(self, session: NewSession) -> None:
        """Store a console session."""

    async def find_session(self, digest: str, now: float) -> Session | None:
        """The session `digest` if it is not ended and not expired at `now`."""

    async def end_session(self, digest: str) -> None:
        """End one session (logout); nothing when there is none."""

    async def end_sessions(self, role: Role, login: str, keep: str | None = None) -> int:
        """End every session of `login` in `role` except `keep`; how many."""

    async def create_operator(self, new: NewOperator) -> Operator:
        """Create a console operator; NameTaken when the login is taken."""

    async def find_operator(self, login: str) -> Operator | None:
        """The operator with this login, or None."""

    async def list_accounts(self, search: str, limit: int, offset: int) -> list[Account]:
        """Accounts whose login or e-mail contains `search` (without case; every account
        for ``""``), by login, `offset` skipped."""

    async def search_messages(self, account_id: int, query: MessageQuery) -> list[MessageSummary]:
        """The account's messages matching `query`, newest first, with their recipients."""

    async def find_message(
        self, account_id: int, msgid: int, per_message: int = 500
    ) -> MessageSummary | None:
        """The account's message `msgid` with its first `per_message` recipients by
        number, or None (another account's message is None too)."""

    async def states_of(
        self, account_id: int, msgids: Sequence[int], per_message: int = 500
    ) -> dict[int, tuple[RecipientStatus, ...]]:
        """The first `per_message` recipients by number of each of `msgids` that belongs
        to the account (others are absent from the answer)."""

    async def find_callback(self, event_id: int) -> CallbackEvent | None:
        """The callback event with this id, or None."""

    async def traffic(self, since: float) -> list[TrafficRow]:
        """Recipients by minute of their message's creation (from `since`) and state."""


class KeyStore(Protocol):
    """API keys of the JSON API: the store keeps their digest (`core.keys.key_digest`),
    never a key. Scoped by account, except `find_key`, which finds the account."""

    async def create_key(self, key: NewApiKey) -> ApiKey:
        """Store a key; the stored key."""

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        """The account's keys, revoked ones included, newest first."""

    async def revoke_key(self, account_id: int, key_id: int, at: float) -> bool:
        """Revoke the account's key `key_id` at `at`; False when the account has no such
        key or it is already revoked."""

    async def find_key(self, digest: str) -> tuple[ApiKey, Account] | None:
        """The key with this digest, if it is not revoked, and its account; else None."""

    async def touch_key(self, key_id: int, at: float) -> None:
        """Record that the key was used at `at`."""


class IdempotencyStore(Protocol):
    """Idempotency-Keys of the JSON API, by account and key (`core.idempotency`): a key
    is reserved before its request is sent and finished with the first answer, so that a
    retry, in any process sharing the database, replays that answer instead of sending
    again. Each row has a `generation` (random at insert, kept by a take-over); the
    owner's message carries `message_ref(key, generation)` as `NewMessage.idem_key`,
    stored in the message's transaction: a reservation whose owner died after that commit
    finds it, and `accept_message` refuses a second message with the same reference
    (IdempotencyDuplicate with the stored msgid; nothing inserted or charged)."""

    async def reserve_idempotency(
        self, account_id: int, key: str, request_hash: str, now: float, lease: float
    ) -> Reservation:
        """Atomically: no row → a pending row of a new generation held until
        `now + lease`, OWNER. A row with another `request_hash` → MISMATCH. A done row →
        DONE with its msgid or error code. A pending row whose reference a message of the
        account carries (its owner died, or failed to finish, after the commit) → the row
        is done with that msgid and the answer RECOVERED (never sent twice). Otherwise a
        pending row whose lease holds → IN_PROGRESS; one whose lease ran out (its owner
        died?) is taken over until `now + lease`, OWNER (same generation)."""

    async def peek_idempotency(self, account_id: int, key: str) -> IdemRow | None:
        """The key's row as `core.idempotency.decide` reads it, or None; read off the
        writer (SQLite's read connection, PostgreSQL's pool): for callers that wait. A
        pending row whose message is stored is read with no lease (`claimed_until`
        None), so that the caller reserves and recovers it."""

    async def finish_idempotency(
        self,
        account_id: int,
        key: str,
        msgid: int | None,
        error_code: str | None,
        generation: str | None = None,
    ) -> None:
        """The first answer is known: a pending row (of `generation`, when given) is done
        with `msgid`, or with the legacy code of a refusal; any other row is left as is."""

    async def release_idempotency(
        self, account_id: int, key: str, generation: str | None = None
    ) -> None:
        """Forget a pending key (of `generation`, when given) whose send failed in a way
        not to remember, such as a store failure: the next request with it is sent
        afresh. Atomically, unless a message of the account carries the row's reference
        (the failure came after its commit): then the row is done with that msgid, as a
        reservation would find it. A done row stays."""

    async def purge_idempotency(self, created_before: float) -> int:
        """Delete the keys created before `created_before` that are done, or pending
        with a lease that ran out before it too (an owner that died); how many."""


class DirectoryStore(Protocol):
    """An account's contacts and contact groups. Every operation is scoped by the
    account: an id of another account's contact or group is treated as absent."""

    async def add_contact(self, account_id: int, contact: NewContact, at: float) -> int:
        """Store a contact; its id. NameTaken when the account has a contact with this
        number."""

    async def update_contact(self, account_id: int, contact_id: int, contact: NewContact) -> bool:
        """Change a contact's name and number; False when the account has no such contact.
        NameTaken when another contact of the account has this number."""

    async def delete_contact(self, account_id: int, contact_id: int) -> bool:
        """Delete a contact (and its group memberships); False when there is none."""

    async def find_contact(self, account_id: int, contact_id: int) -> Contact | None:
        """The account's contact with this id, or None."""

    async def list_contacts(
        self, account_id: int, group_id: int | None, search: str, limit: int, offset: int
    ) -> list[Contact]:
        """The account's contacts (only `group_id`'s members when given) whose name or
        number contains `search`, by name then number, `offset` skipped."""

    async def create_group(self, account_id: int, name: str, at: float) -> int:
        """Create a group; its id. NameTaken when the account has a group of that name."""

    async def rename_group(self, account_id: int, group_id: int, name: str) -> bool:
        """Rename a group; False when there is none. NameTaken as `create_group`."""

    async def delete_group(self, account_id: int, group_id: int) -> bool:
        """Delete a group (its contacts stay); False when there is none."""

    async def find_group(self, account_id: int, group_id: int) -> Group | None:
        """The account's group with this id, or None."""

    async def list_groups(self, account_id: int) -> list[Group]:
        """The account's groups, by name, with their sizes."""

    async def set_members(
        self, account_id: int, group_id: int, contact_ids: Sequence[int], member: bool
    ) -> int:
        """Add (`member`) or remove the account's contacts `contact_ids` to or from the
        group; how many memberships changed (ids of other accounts are ignored)."""

    async def import_contacts(
        self, account_id: int, group: str, contacts: Sequence[NewContact], at: float
    ) -> Imported:
        """In one transaction: create the group `group` if the account has none of that
        name, store each contact (a number the account already has keeps its contact,
        renamed when a name is given) and make them all members."""

    async def group_numbers(self, account_id: int, name: str) -> list[str] | None:
        """The numbers of the members of the account's group `name`, in contact id order;
        None when the account has no such group."""


class Store(
    StoreLifecycle,
    AccountStore,
    OutboxStore,
    CallbackStore,
    RouteStore,
    LoginStore,
    RequestStore,
    RetentionStore,
    MailStore,
    ConsoleStore,
    DirectoryStore,
    KeyStore,
    IdempotencyStore,
    Protocol,
):
    """Every role together: what a backend implements. Every write is durable when
    its awaitable returns. Consumers that need one role may say so in their types."""


class WorkerStore(
    StoreLifecycle,
    OutboxStore,
    CallbackStore,
    RouteStore,
    RetentionStore,
    MailStore,
    IdempotencyStore,
    Protocol,
):
    """The roles the background workers use (`service_workers.Operations`): no
    accounts, no logins."""


def writer_counters(store: Store) -> Callable[[], tuple[int, int]] | None:
    """For a backend with a group-commit writer: a reader of (commits, operations) for
    the metrics; None otherwise."""
    from passerelle.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        writer = store.writer
        return lambda: (writer.batches, writer.operations)
    from passerelle.store.postgres import PgStore

    if isinstance(store, PgStore):
        pg = store
        return lambda: (pg.batches, pg.operations)
    return None


def open_store(
    database_url: str, synchronous: str = "FULL", max_batch: int = 512, pool_size: int = 10
) -> Store:
    """The backend for `database_url` (``sqlite:///path``, ``postgresql://…`` or
    ``memory://``); ConfigError saying how to write the URL when it names none."""
    path = database_file(database_url)
    if path is not None:
        from passerelle.store.sqlite import SqliteStore

        return SqliteStore(path, synchronous=synchronous, max_batch=max_batch)
    if is_postgres(database_url):
        from passerelle.store.postgres import PgStore

        return PgStore(database_url, max_batch=max_batch, pool_size=pool_size)
    from passerelle.store.memory import MemoryStore

    return MemoryStore()
