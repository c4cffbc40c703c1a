"""API credentials: argon2 hashing, the verification cache, and the account snapshot cache.

Verifying argon2 on every call would cap throughput (one verification costs tens of
milliseconds by design), so successful verifications are remembered for a short time,
keyed by a MAC of (login, password) under a per-process random key (keyed BLAKE2b:
one call costs well under a microsecond, HMAC-SHA256 through OpenSSL 3 about 3): the password
itself is never kept. An entry is valid only while the account's stored hash is the one
it was verified against, so a password change (from any process) drops it as soon as
the account snapshot is refreshed (every `account_cache_ttl_s`).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from passerelle.core.values import Account

MAX_ENTRIES = 100_000
# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): argon2-cffi's default takes 64 MiB
# per verification, and a burst of verifications would then cost hundreds of MiB.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifications run on at most two threads: bounded memory and CPU under a login storm.
VERIFY_THREADS = 2
# Verified against when the login is unknown, so that the answer takes as long.
DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (argon2-cffi's default parameters)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches `stored_hash` (constant-time inside argon2)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class _Verified:
    hash: str
    until: float


@dataclass(slots=True)
class _Snapshot:
    account: Account | None
    until: float


class Credentials:
    """Checks (login, API password) pairs with caches in front of argon2."""

    def __init__(
        self,
        load: Callable[[str], Awaitable[Account | None]],
        verified_ttl: float,
        account_ttl: float,
    ) -> None:
        self._load = load
        self._verified_ttl = verified_ttl
        self._account_ttl = account_ttl
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, _Verified] = {}
        self._accounts: dict[str, _Snapshot] = {}
        self._pending: dict[tuple[bytes, str], asyncio.Task[bool]] = {}
        self._pool = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="passerelle-argon2")
        self.verifications = 0  # argon2 verifications started (a metric)

    async def account(self, login: str, now: float) -> Account | None:
        """The account snapshot for `login` (at most `account_ttl` old)."""
        snap = self._accounts.get(login)
        if snap is None or snap.until <= now:
            account = await self._load(login)
            if len(self._accounts) >= MAX_ENTRIES:
                self._accounts.clear()
            snap = _Snapshot(account, now + self._account_ttl)
            self._accounts[login] = snap
        return snap.account

    def _digest(self, login: str, password: str) -> bytes:
        return hashlib.blake2b(
            login.encode() + b"\0" + password.encode(), key=self._key, digest_size=32
        ).digest()

    def known(self, account: Account | None, login: str, password: str, now: float) -> bool:
        """True when this exact pair was verified against the account's current hash
        within `verified_ttl`: no verification needed, no limit applies."""
        if account is None:
            return False
        hit = self._verified.get(self._digest(login, password))
        return hit is not None and hit.until > now and hit.hash == account.api_password_hash

    async def check(
        self,
        account: Account | None,
        login: str,
        password: str,
        now: float,
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """True when `password` is the API password of `account` (None: unknown login).

        `before` runs (and may refuse by raising) just before a verification starts:
        not for a known pair, nor for a check that joins a verification of the same
        pair already running.
        """
        if self.known(account, login, password, now):
            return True
        digest = self._digest(login, password)
        stored = account.api_password_hash if account is not None else DUMMY_HASH
        ok = await self._verify_once(digest, stored, password, before)
        if ok and account is not None:
            if len(self._verified) >= MAX_ENTRIES:
                self._verified.clear()
            self._verified[digest] = _Verified(account.api_password_hash, now + self._verified_ttl)
            return True
        return False

    async def _verify_once(
        self,
        digest: bytes,
        stored: str,
        password: str,
        before: Callable[[], Awaitable[None]] | None,
    ) -> bool:
        """Verify in a thread; concurrent checks of the same pair share one verification."""
        key = (digest, stored)
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        task = asyncio.get_running_loop().create_task(self._verify(stored, password, before))
        self._pending[key] = task
        task.add_done_callback(lambda _t: self._pending.pop(key, None))
        return await asyncio.shield(task)

    async def _verify(
        self, stored: str, password: str, before: Callable[[], Awaitable[None]] | None
    ) -> bool:
        """`before` (which may refuse), then argon2 on the verification threads."""
        if before is not None:
            await before()
        self.verifications += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, verify_password, stored, password)

    def close(self) -> None:
        """Stop the verification threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def forget(self, login: str) -> None:
        """Drop the cached snapshot of `login` (after a change made in this process)."""
        self._accounts.pop(login, None)
        self._verified.clear()
