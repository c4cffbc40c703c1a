"""Use cases: the only thing front doors (legacy API, CLI, later JSON API and console) call.

`Gateway` holds the store, the settings, the clocks and the caches; every decision
is made by `core/` rules. Requests come in as `core/` values (`SendRequest`), and the
service checks them itself: a front door parses, it does not validate.

A send request whose `dest` list is over `OFFLOAD_DEST` characters is checked on the
service's own thread (one, so long lists are checked one at a time): the event loop
(other requests, delivery, callbacks) never waits on one large list. Shorter ones are
checked inline, which is cheaper than a thread hop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from passerelle import exceptions as exc
from passerelle import retention
from passerelle.auth import Credentials, hash_password
from passerelle.checks import NAME_CHARS, check_callback_url, check_connector, private_target
from passerelle.core import numbers
from passerelle.core.mail import mail_problem
from passerelle.core.message import Outgoing, SendRequest, validate_send
from passerelle.core.ratelimit import AttemptDecision, LoginPolicy
from passerelle.core.routing import Route
from passerelle.core.states import statut_of_message
from passerelle.core.values import (
    CALLBACK_METHODS,
    UNSET,
    Account,
    AccountChanges,
    CallbackEvent,
    Connector,
    CreditChange,
    LedgerEntry,
    MessageSummary,
    NewAccount,
    NewMail,
    NewMessage,
    RouteRow,
    Unset,
)
from passerelle.logins import LoginLimits
from passerelle.service_limits import RequestLimits
from passerelle.settings import Settings
from passerelle.store.base import Store

MAX_MSGID_DIGITS = 18
OFFLOAD_DEST = 64 * 1024  # longer `dest` lists are checked on the service's thread
LOGIN_CHARS = NAME_CHARS


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """What an operator (CLI, console) may change on an account; unset fields stay."""

    email: str | Unset = UNSET
    api_password: str | Unset = UNSET  # in clear: checked and hashed by the service
    activated: bool | Unset = UNSET
    gateway_enabled: bool | Unset = UNSET
    suspended: bool | Unset = UNSET
    rate_limit: float | Unset | None = UNSET
    callback_url: str | Unset | None = UNSET
    callback_method: str | Unset = UNSET
    callback_secret: str | Unset = UNSET

    def names(self) -> list[str]:
        """The fields this update sets."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not UNSET]


@dataclass(frozen=True, slots=True)
class AccountView:
    """What `account show` prints."""

    account: Account
    balance: int
    ledger_sum: int
    message_count: int
    messages: list[MessageSummary] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)


class Gateway:
    """The service layer."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock or store.clock  # the database's clock
        self._monotonic = monotonic
        self._credentials = Credentials(
            store.find_account, settings.auth_cache_ttl_s, settings.account_cache_ttl_s
        )
        self.limits = RequestLimits(store, settings, self._clock, monotonic)
        policy = LoginPolicy(
            settings.login_failures_per_login,
            settings.login_failures_per_address,
            settings.login_failure_window_s,
        )
        self._logins = LoginLimits(store, policy, self._clock)
        self._checks = ThreadPoolExecutor(1, thread_name_prefix="passerelle-check")

    def now(self) -> float:
        """Now on the database's clock (unix seconds)."""
        return self._clock()

    def close(self) -> None:
        """Release the service's threads (argon2 verifications, long send checks)."""
        self._credentials.close()
        self._checks.shutdown(wait=False, cancel_futures=True)

    # --- legacy API use cases -------------------------------------------------------

    async def authenticate(self, login: str | None, password: str | None, address: str) -> Account:
        """Rate limits (16), then credentials (01), then account state (14).

        The failed-login limits (`logins.py`) hold for every request, whether its pair
        needs an argon2 verification or was verified lately; each verification is counted
        in the shared store before it starts, so neither concurrency nor several
        processes can pass them. An address a login succeeded from is not locked out by
        someone else's failures.
        """
        now = self._monotonic()
        login = login or ""
        refused = self._logins.refused_now(login, address)
        if refused is None:
            refused = await self._logins.refused(login, address)
        if refused:
            raise exc.RateLimited()
        account = await self._credentials.account(login, now) if login else None
        await self.limits.check(login, account, now)
        if not login or not password or not _may_be_login(login):
            raise exc.BadCredentials()  # nothing to verify: no count, no argon2
        if not self._credentials.known(account, login, password, now):
            counted: AttemptDecision | None = None

            async def count_attempt() -> None:
                nonlocal counted
                counted = await self._logins.begin(login, address)

            if not await self._credentials.check(account, login, password, now, count_attempt):
                if counted is not None:
                    self._logins.failed(login, address, counted)
                raise exc.BadCredentials()
            if counted is not None:
                await self._logins.succeeded(login, address)
        assert account is not None
        if not account.usable:
            raise exc.GatewayDisabled()
        return account

    @property
    def verifications(self) -> int:
        """argon2 verifications started by this process (exposed as a metric)."""
        return self._credentials.verifications

    def prepare_send(self, request: SendRequest) -> Outgoing:
        """Check a send request (03 to 17 in the documented order, `validate_send`) and
        return the message to charge and store. Pure: safe on any thread."""
        settings = self.settings
        limit = settings.max_recipients_post if request.via_post else settings.max_recipients_get
        return validate_send(request, limit)

    async def send(
        self, account: Account, request: SendRequest, idem_key: str | None = None
    ) -> int:
        """Check, charge and store a message; its msgid. A failed check raises its
        ApiError and NoCredit (02, last) is raised by the store: nothing is stored.
        `idem_key` (the JSON API's Idempotency-Key, `service_idempotency.send_once`) is
        stored with the message, in its transaction.

        With `request.group` (``groupe``), the numbers of the account's contact group of
        that name are added to `dest` first (then checked and deduplicated as any `dest`);
        a name the account has no group of is 17 (``groupe``), before the other checks."""
        if request.group is not None:
            members = await self.store.group_numbers(account.id, request.group)
            if members is None:
                raise exc.InvalidParameter("groupe")
            dest = ",".join(filter(None, (request.dest, *members)))
            request = dataclasses.replace(request, dest=dest, group=None)
        if request.dest is not None and len(request.dest) > OFFLOAD_DEST:
            loop = asyncio.get_running_loop()
            outgoing = await loop.run_in_executor(self._checks, self.prepare_send, request)
        else:
            outgoing = self.prepare_send(request)
        msgid = await self.store.accept_message(
            NewMessage(
                account_id=account.id,
                created_at=self._clock(),
                sender=outgoing.sender,
                sender_type=outgoing.sender_type,
                text=outgoing.text,
                flash=outgoing.flash,
                callback=outgoing.callback,
                recipients=outgoing.recipients,
                cost=outgoing.cost,
                idem_key=idem_key,
            )
        )
        return msgid

    async def status(self, account: Account, msgid: str | None, dest: str | None) -> int:
        """The `statut` of a message (or of one of its recipients): 0, 1 or 2."""
        if not msgid:
            raise exc.MsgidMissing()
        if not (msgid.isascii() and msgid.isdigit()) or len(msgid) > MAX_MSGID_DIGITS:
            raise exc.MsgidInvalid()
        only = numbers.normalise_one(dest) if dest else None
        states = await self.store.message_states(account.id, int(msgid), only)
        if not states:
            raise exc.MsgidInvalid()
        return statut_of_message(s.state for s in states)

    async def balance(self, account: Account) -> int:
        """Credits left."""
        return await self.store.balance(account.id)

    # --- operator use cases ---------------------------------------------------------

    async def create_account(
        self,
        login: str,
        email: str,
        api_password: str,
        credits: int = 0,
        callback_url: str | None = None,
        rate_limit: float | None = None,
    ) -> Account:
        """Create an activated account with the gateway option on."""
        if not login or not _may_be_login(login):
            raise exc.InvalidValue("login: 1 to 64 characters among letters, digits and . _ - @")
        if "@" not in email or len(email) > 254:
            raise exc.InvalidValue("email: not an e-mail address")
        self._check_password(api_password)
        if credits < 0:
            raise exc.InvalidValue("credits: must not be negative")
        if callback_url is not None:
            check_callback_url(callback_url)
        if await self.store.find_operator(login) is not None:
            raise exc.AccountExists(login)  # a login names an account or an operator
        return await self.store.create_account(
            NewAccount(
                login=login,
                email=email,
                api_password_hash=hash_password(api_password),
                callback_secret=secrets.token_hex(32),
                created_at=self._clock(),
                credits=credits,
                callback_url=callback_url,
                rate_limit=rate_limit,
            )
        )

    def _check_password(self, password: str) -> None:
        minimum = self.settings.min_api_password_length
        if len(password) < minimum:
            raise exc.InvalidValue(
                f"api password: at least {minimum} characters (PASSERELLE_MIN_API_PASSWORD_LENGTH)"
            )

    async def credit(
        self, login: str, amount: int, actor: str = "cli", reason: str = ""
    ) -> CreditChange:
        """Add credits (negative removes, never below zero); what was applied, the balance."""
        kind = "grant" if amount >= 0 else "adjustment"
        return await self.store.adjust_credits(
            login, amount, kind=kind, actor=actor, reason=reason or kind, at=self._clock()
        )

    async def update_account(self, login: str, update: AccountUpdate) -> Account:
        """Change account fields; a new API password is checked and hashed here."""
        if update.api_password is not UNSET:
            self._check_password(update.api_password)
        if isinstance(update.callback_url, str) and update.callback_url:
            check_callback_url(update.callback_url)
        if update.callback_method is not UNSET and update.callback_method not in CALLBACK_METHODS:
            raise exc.InvalidValue("callback method: POST or GET")
        changes = AccountChanges(
            email=update.email,
            api_password_hash=(
                UNSET if update.api_password is UNSET else hash_password(update.api_password)
            ),
            activated=update.activated,
            gateway_enabled=update.gateway_enabled,
            suspended=update.suspended,
            rate_limit=update.rate_limit,
            callback_url=update.callback_url,
            callback_method=update.callback_method,
            callback_secret=update.callback_secret,
        )
        account = await self.store.update_account(login, changes, self._clock())
        self._credentials.forget(login)
        return account

    async def callback_url_warning(self, url: str) -> str | None:
        """Why callbacks to `url` (accepted as it is) will be refused by the SSRF guard, as
        a sentence; None when they will not be, or when private targets are allowed."""
        if self.settings.callback_allow_private:
            return None
        reason = await private_target(url)
        if reason is None:
            return None
        return (
            f"callbacks to {url} will be refused: {reason} "
            "(set PASSERELLE_CALLBACK_ALLOW_PRIVATE=true to allow private targets)"
        )

    async def show_account(self, login: str, messages: int = 10) -> AccountView:
        """Balance, state and last messages of an account."""
        account = await self.store.find_account(login)
        if account is None:
            raise exc.AccountNotFound(login)
        return AccountView(
            account=account,
            balance=await self.store.balance(account.id),
            ledger_sum=await self.store.ledger_sum(account.id),
            message_count=await self.store.count_messages(account.id),
            messages=await self.store.recent_messages(account.id, messages),
            ledger=await self.store.ledger(account.id, 10),
        )

    async def rotate_secret(self, login: str) -> str:
        """A new callback signing secret for the account; the old one stops at once."""
        secret = secrets.token_hex(32)
        await self.update_account(login, AccountUpdate(callback_secret=secret))
        return secret

    async def callbacks(
        self, login: str | None, failed_only: bool, limit: int
    ) -> list[CallbackEvent]:
        """The newest callback events, of one account or all, optionally only failed."""
        return await self.store.list_callbacks(login, failed_only, limit)

    async def replay_callback(self, event_id: int) -> None:
        """Send a callback event again, now."""
        if not await self.store.replay_callback(event_id, self._clock()):
            raise exc.NotFound(f"no callback event {event_id}")

    async def purge_old(self, days: int | None = None) -> int:
        """Delete messages older than `days` (the retention setting by default); how many."""
        days = self.settings.retention_days if days is None else days
        cutoff = retention.cutoff_of(self._clock(), days)
        return 0 if cutoff is None else await retention.purge(self.store, cutoff)

    async def queue_mail(self, to_addr: str, subject: str, body_text: str) -> int:
        """Queue an e-mail in the outbox (durable when this returns; the mail sender of
        the `callbacks` role sends it); its id. InvalidValue for an address or subject
        that cannot be a header (`core.mail`)."""
        problem = mail_problem(to_addr, subject)
        if problem is not None:
            raise exc.InvalidValue(problem)
        return await self.store.queue_mail(NewMail(to_addr, subject, body_text, self._clock()))

    # --- connectors and routes -----------------------------------------------------

    async def add_connector(self, connector: Connector) -> Connector:
        """Validate and store a connector (replacing one of the same name)."""
        check_connector(connector)
        stored = dataclasses.replace(connector, created_at=self._clock())
        await self.store.add_connector(stored)
        return stored

    async def remove_connector(self, name: str, force: bool = False) -> list[RouteRow]:
        """Delete a connector. Refused (ConnectorInUse) while routes name it, unless
        `force`: then those routes are deleted with it, in one transaction (returned)."""
        return await self.store.remove_connector(name, with_routes=force)

    async def add_route(self, prefix: str, connectors: Sequence[str], position: int) -> int:
        """Store a rule sending numbers that start with `prefix` to `connectors`, which
        must be stored connectors (UnknownConnector otherwise)."""
        if (prefix and not (prefix.isascii() and prefix.isdigit())) or len(prefix) > 15:
            raise exc.InvalidValue("prefix: digits only (empty for the default route)")
        names = tuple(n.strip() for n in connectors if n.strip())
        if not names:
            raise exc.InvalidValue("connectors: at least one connector name")
        return await self.store.add_route(Route(position, prefix, names), self._clock())

    async def remove_route(self, route_id: int) -> None:
        """Delete a rule."""
        if not await self.store.remove_route(route_id):
            raise exc.NotFound(f"no route with id {route_id}")

    async def connectors(self) -> list[Connector]:
        """Every connector, by name."""
        return await self.store.list_connectors()

    async def routes(self) -> list[RouteRow]:
        """Every rule, in the order they are tried."""
        return await self.store.list_routes()


def _may_be_login(login: str) -> bool:
    """True when `login` has the shape of an account login (`create_account`'s rule)."""
    return len(login) <= 64 and set(login) <= LOGIN_CHARS
