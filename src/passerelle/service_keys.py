"""API keys of the JSON API: create (the key shown once), list, revoke, and who a bearer
key is.

`Keys.authenticate` is the JSON API's log-in: a key that is not ours by its shape is
refused without a read; a known one is found by its digest (one indexed read) and
remembered for `CACHE_S` seconds, so a burst of requests with one key costs one read. A
revocation holds in every process within `CACHE_S`. The last-used time is written at
most once per `TOUCH_S` per key and process.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from passerelle import exceptions as exc
from passerelle.core.keys import (
    MAX_KEY_NAME,
    PREFIX_LENGTH,
    ApiKey,
    NewApiKey,
    key_digest,
    new_key,
    plausible_key,
)
from passerelle.core.ratelimit import LoginPolicy
from passerelle.core.values import Account
from passerelle.logins import LoginLimits
from passerelle.service import Gateway

CACHE_S = 1.0  # a key's account is read again after this long (suspension, revocation)
TOUCH_S = 60.0  # last-used times are written at most this often per key and process
MAX_CACHED = 10_000
MAX_KEYS = 100  # active keys per account
KEY_LOGIN = "apikey@"  # refused keys are counted as this + the client's address


@dataclass(frozen=True, slots=True)
class Created:
    """A key just created: the key itself (shown once) and what the store keeps."""

    key: str
    stored: ApiKey


@dataclass(slots=True)
class _Known:
    key: ApiKey
    account: Account
    until: float
    touched: float


class Keys:
    """The API-key use cases over the gateway's store and clock."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.store = gateway.store
        self._known: dict[str, _Known] = {}
        s = gateway.settings
        # refused keys count per client address only: the "login" is the address too
        policy = LoginPolicy(0, s.login_failures_per_address, s.login_failure_window_s)
        self._logins = LoginLimits(self.store, policy, gateway.now)

    async def create(self, login: str, name: str = "") -> Created:
        """A new key for the account `login`. AccountNotFound, InvalidValue (a name over
        64 characters or with control characters; more than `MAX_KEYS` active keys)."""
        account = await self.store.find_account(login)
        if account is None:
            raise exc.AccountNotFound(login)
        name = name.strip()
        if len(name) > MAX_KEY_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise exc.InvalidValue(f"key name: at most {MAX_KEY_NAME} printable characters")
        active = [k for k in await self.store.list_keys(account.id) if k.active]
        if len(active) >= MAX_KEYS:
            raise exc.InvalidValue(f"at most {MAX_KEYS} active keys: revoke one first")
        key = new_key()
        stored = await self.store.create_key(
            NewApiKey(account.id, name, key[:PREFIX_LENGTH], key_digest(key), self.gateway.now())
        )
        return Created(key, stored)

    async def list(self, login: str) -> list[ApiKey]:
        """The account's keys, newest first. AccountNotFound."""
        account = await self.store.find_account(login)
        if account is None:
            raise exc.AccountNotFound(login)
        return await self.store.list_keys(account.id)

    async def revoke(self, login: str, key_id: int) -> None:
        """Revoke one of the account's keys. AccountNotFound, NotFound."""
        account = await self.store.find_account(login)
        if account is None:
            raise exc.AccountNotFound(login)
        if not await self.store.revoke_key(account.id, key_id, self.gateway.now()):
            raise exc.NotFound(f"no active key {key_id} for {login!r}")
        self._known = {d: k for d, k in self._known.items() if k.key.id != key_id}

    async def authenticate(self, bearer: str, address: str | None = None) -> tuple[ApiKey, Account]:
        """The key and account of a bearer key; BadCredentials for a key that is unknown,
        revoked or not a key; GatewayDisabled for an account that may not use the API.

        With the client's `address`, refused keys are counted by the failed-login limits
        of that address (`PASSERELLE_LOGIN_FAILURES_PER_ADDRESS` in its window, shared by
        every process): beyond them the address gets RateLimited before any read. A key
        is 256 random bits, so this bounds the load of a scan, not the odds of a guess."""
        if address is not None and await self._refused(address):
            raise exc.RateLimited()
        if not plausible_key(bearer):
            await self._failed(address)
            raise exc.BadCredentials()
        digest = key_digest(bearer)
        now = self.gateway.now()
        known = self._known.get(digest)
        if known is None or known.until <= now:
            found = await self.store.find_key(digest)
            if found is None:
                self._known.pop(digest, None)
                await self._failed(address)
                raise exc.BadCredentials()
            if len(self._known) >= MAX_CACHED:
                self._known.clear()
            touched = known.touched if known is not None else float("-inf")
            known = _Known(found[0], found[1], now + CACHE_S, touched)
            self._known[digest] = known
        if now - known.touched >= TOUCH_S:
            known.touched = now
            await self.store.touch_key(known.key.id, now)
            known.key = dataclasses.replace(known.key, last_used_at=now)
        if not known.account.usable:
            raise exc.GatewayDisabled()
        return known.key, known.account

    async def _refused(self, address: str) -> bool:
        login = KEY_LOGIN + address
        refused = self._logins.refused_now(login, address)
        return await self._logins.refused(login, address) if refused is None else refused

    async def _failed(self, address: str | None) -> None:
        """Count a refused key of `address` (RateLimited when that used up the limit)."""
        if address is None:
            return
        login = KEY_LOGIN + address
        decision = await self._logins.begin(login, address)
        self._logins.failed(login, address, decision)
