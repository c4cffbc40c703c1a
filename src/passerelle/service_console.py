"""Console use cases: sign-up and activation, sessions, password changes and resets.

`Console` sits beside `service.Gateway` (it uses the gateway's store, settings and
clock) and is what the console's pages call for who a visitor is. Tokens (session
cookies, links in e-mails) are 256-bit random strings; the store keeps their SHA-256
only (`core.console.token_digest`).

- Sign-up stores the account (not activated, gateway option off, no API password),
  its activation link and the e-mail carrying it in one transaction: a crash after the
  answer loses no activation e-mail. Sign-ups are limited per client address
  (`signups_per_hour`, counted in the shared request windows).
- A log-in is counted by the failed-login limits before its argon2 verification starts
  (logins are counted as ``console:<login>``, apart from the API's), and unknown logins
  cost as much as known ones. Verifications run on worker threads, two at a time.
- A password reset asked for an unknown e-mail address answers as for a known one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from passerelle import exceptions as exc
from passerelle.auth import DUMMY_HASH, hash_password, verify_password
from passerelle.core.console import (
    LinkPurpose,
    NewLink,
    NewOperator,
    NewSession,
    Operator,
    Role,
    Session,
    token_digest,
)
from passerelle.core.mail import mail_problem
from passerelle.core.ratelimit import LoginPolicy, RequestWindow
from passerelle.core.values import Account, NewAccount, NewMail
from passerelle.logins import LoginLimits
from passerelle.service import LOGIN_CHARS, Gateway

log = logging.getLogger("passerelle.console")

NO_PASSWORD = "!"  # noqa: S105 - an API password hash nothing verifies against: set one in Paramètres
SIGNUP_WINDOW_S = 3600.0
VERIFY_AT_ONCE = 2
LINK_POSTS_PER_HOUR = 20  # new passwords posted to reset links, per client address
MAX_PASSWORD = 1024  # longer ones are refused at log-in without a verification


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened: the token for the cookie, and the session."""

    token: str
    session: Session


class Console:
    """Who visits the console, and the accounts they create."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.store = gateway.store
        self.settings = gateway.settings
        s = self.settings
        policy = LoginPolicy(
            s.login_failures_per_login, s.login_failures_per_address, s.login_failure_window_s
        )
        self._logins = LoginLimits(self.store, policy, gateway.now)
        self._verifying = asyncio.Semaphore(VERIFY_AT_ONCE)

    # --- sign-up, activation, reset ------------------------------------------------

    def check_password(self, password: str) -> None:
        """InvalidValue when `password` is too short for the console."""
        minimum = self.settings.min_console_password_length
        if not minimum <= len(password) <= MAX_PASSWORD:
            raise exc.InvalidValue(
                f"password: at least {minimum} and at most {MAX_PASSWORD} characters"
            )

    async def sign_up(
        self, login: str, email: str, password: str, address: str, base_url: str
    ) -> Account:
        """Create a not yet activated account and queue its activation e-mail.
        InvalidValue, AccountExists, NameTaken (e-mail), RateLimited (this address)."""
        if not login or len(login) > 64 or any(c not in LOGIN_CHARS for c in login):
            raise exc.InvalidValue("login: 1 to 64 characters among letters, digits and . _ - @")
        problem = mail_problem(email, "x")
        if problem is not None:
            raise exc.InvalidValue("email: not an e-mail address")
        self.check_password(password)
        await self._count_signup(address)
        if await self.store.find_operator(login) is not None:
            raise exc.AccountExists(login)  # a login names an account or an operator
        now = self.gateway.now()
        token = secrets.token_urlsafe(32)
        url = f"{base_url}/user/activate/{token}"
        link = NewLink(token_digest(token), LinkPurpose.ACTIVATE, login, now, now + self._ttl)
        mail = NewMail(email, "Activez votre compte Passerelle", _activation_text(login, url), now)
        password_hash = await self._hash(password)
        account = NewAccount(
            login=login,
            email=email,
            api_password_hash=NO_PASSWORD,
            callback_secret=secrets.token_hex(32),
            created_at=now,
            activated=False,
            gateway_enabled=False,
            console_password_hash=password_hash,
        )
        created = await self.store.sign_up(account, link, mail)
        if not self.settings.smtp_host:
            log.info("no SMTP server: activation link of %s: %s", login, url)
        return created

    async def _count_signup(self, address: str) -> None:
        await self._count(f"signup:{address}", self.settings.signups_per_hour)

    async def _count(self, key: str, limit: int) -> None:
        """Count one request of `key` in the hour's window shared by every process;
        RateLimited beyond `limit` (0: no limit)."""
        if limit <= 0:
            return
        now = self.gateway.now()
        start = now // SIGNUP_WINDOW_S * SIGNUP_WINDOW_S
        if not await self.store.count_request(RequestWindow(key, start, limit)):
            raise exc.RateLimited()

    @property
    def _ttl(self) -> float:
        return self.settings.link_ttl_s

    async def activate(self, token: str) -> Account | None:
        """Use an activation link: the account activated with its free credits; None for
        a link unknown, used or expired."""
        if not _plausible(token):
            return None
        return await self.store.activate_account(
            token_digest(token), self.gateway.now(), self.settings.free_credits
        )

    async def request_reset(self, email: str, address: str, base_url: str) -> None:
        """E-mail a password-reset link to the account with this address, if there is
        one (the answer is the same either way). RateLimited as sign-ups."""
        await self._count_signup(address)
        account = await self.store.find_account_by_email(email)
        if account is None:
            return
        now = self.gateway.now()
        token = secrets.token_urlsafe(32)
        url = f"{base_url}/user/reset/{token}"
        link = NewLink(token_digest(token), LinkPurpose.RESET, account.login, now, now + self._ttl)
        text = _reset_text(account.login, url)
        await self.store.request_link(
            link, NewMail(account.email, "Mot de passe Passerelle", text, now)
        )
        if not self.settings.smtp_host:
            log.info("no SMTP server: password reset link of %s: %s", account.login, url)

    async def reset_password(self, token: str, password: str, address: str) -> Account | None:
        """Use a reset link: the new console password set, every session ended; None for
        a link unknown, used or expired. InvalidValue for a short password; RateLimited
        beyond `LINK_POSTS_PER_HOUR` tries from one address (each costs an argon2 hash,
        computed before the link is looked up so that the change is one transaction)."""
        self.check_password(password)
        if not _plausible(token):
            return None
        await self._count(f"link:{address}", LINK_POSTS_PER_HOUR)
        password_hash = await self._hash(password)
        return await self.store.reset_console_password(
            token_digest(token), password_hash, self.gateway.now()
        )

    # --- sessions --------------------------------------------------------------------

    async def log_in(self, login: str, password: str, address: str) -> Opened:
        """Open a session for an account (customer) or an operator. BadCredentials for a
        wrong pair, RateLimited at the failed-login limits, GatewayDisabled for an
        account not activated yet."""
        if not login or not password or len(login) > 64 or len(password) > MAX_PASSWORD:
            raise exc.BadCredentials()
        key = f"console:{login}"
        if await self._logins.refused(key, address):
            raise exc.RateLimited()
        account = await self.store.find_account(login)
        operator: Operator | None = None
        if account is None:
            operator = await self.store.find_operator(login)
        stored = DUMMY_HASH
        if account is not None and account.console_password_hash:
            stored = account.console_password_hash
        elif operator is not None:
            stored = operator.password_hash
        decision = await self._logins.begin(key, address)  # counted before verifying
        if not await self._verify(stored, password) or stored is DUMMY_HASH:
            self._logins.failed(key, address, decision)
            raise exc.BadCredentials()
        await self._logins.succeeded(key, address)
        if account is not None and not account.activated:
            raise exc.GatewayDisabled()
        role = Role.CUSTOMER if account is not None else Role.OPERATOR
        return await self._open(role, login)

    async def _open(self, role: Role, login: str) -> Opened:
        now = self.gateway.now()
        token = secrets.token_urlsafe(32)
        new = NewSession(
            token_digest(token),
            role,
            login,
            secrets.token_urlsafe(32),
            now,
            now + self.settings.session_ttl_s,
        )
        await self.store.create_session(new)
        session = Session(new.digest, role, login, new.csrf, new.created_at, new.expires_at)
        return Opened(token, session)

    async def session(self, token: str) -> Session | None:
        """The live session of a cookie's token, or None."""
        if not _plausible(token):
            return None
        return await self.store.find_session(token_digest(token), self.gateway.now())

    async def still_open(self, session: Session | None) -> bool:
        """True while `session` is neither ended nor expired (long-lived answers ask)."""
        if session is None:
            return False
        return await self.store.find_session(session.digest, self.gateway.now()) is not None

    async def log_out(self, session: Session) -> None:
        """End this session."""
        await self.store.end_session(session.digest)

    async def change_password(self, session: Session, current: str, new: str, address: str) -> None:
        """Change a customer's console password; every other session of it ends.
        BadCredentials when `current` is wrong; its verification is counted by the
        failed-login limits like a log-in (RateLimited)."""
        self.check_password(new)
        account = await self.store.find_account(session.login)
        if account is None or not account.console_password_hash:
            raise exc.BadCredentials()
        key = f"console:{session.login}"
        decision = await self._logins.begin(key, address)
        if not await self._verify(account.console_password_hash, current):
            self._logins.failed(key, address, decision)
            raise exc.BadCredentials()
        await self._logins.succeeded(key, address)
        password_hash = await self._hash(new)
        await self.store.set_console_password(
            session.login, password_hash, self.gateway.now(), keep=session.digest
        )

    # --- operators -------------------------------------------------------------------

    async def create_operator(self, login: str, email: str, password: str) -> Operator:
        """Create a console operator. InvalidValue, NameTaken (an operator or an account
        has this login)."""
        if not login or len(login) > 64 or any(c not in LOGIN_CHARS for c in login):
            raise exc.InvalidValue("login: 1 to 64 characters among letters, digits and . _ - @")
        if mail_problem(email, "x") is not None:
            raise exc.InvalidValue("email: not an e-mail address")
        self.check_password(password)
        if await self.store.find_account(login) is not None:
            raise exc.NameTaken(f"an account is named {login!r}: choose another login")
        password_hash = await self._hash(password)
        return await self.store.create_operator(
            NewOperator(login, email, password_hash, self.gateway.now())
        )

    # --- argon2 off the event loop ---------------------------------------------------

    async def _verify(self, stored: str, password: str) -> bool:
        async with self._verifying:
            return await asyncio.to_thread(verify_password, stored, password)

    async def _hash(self, password: str) -> str:
        async with self._verifying:
            return await asyncio.to_thread(hash_password, password)


def _plausible(token: str) -> bool:
    """True when `token` may be one of ours (43 URL-safe characters): anything else is
    refused without a database read."""
    return len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)


def _activation_text(login: str, url: str) -> str:
    return (
        f"Bonjour {login},\n\n"
        "Votre compte Passerelle est créé. Cliquez sur ce lien pour l'activer "
        "(il est valable 48 heures, une seule fois) :\n\n"
        f"{url}\n\n"
        "Your Passerelle account is created: open the link above to activate it.\n"
    )


def _reset_text(login: str, url: str) -> str:
    return (
        f"Bonjour {login},\n\n"
        "Pour choisir un nouveau mot de passe de la console, ouvrez ce lien "
        "(valable 48 heures, une seule fois) :\n\n"
        f"{url}\n\n"
        "Si vous n'avez rien demandé, ignorez ce message.\n"
        "To choose a new console password, open the link above.\n"
    )
