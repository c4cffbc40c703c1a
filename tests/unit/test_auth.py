"""API credentials: argon2, the verification cache and its invalidation."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from passerelle import auth
from passerelle.auth import Credentials, hash_password, verify_password
from passerelle.core.values import Account

HASH = hash_password("right-password")
ACCOUNT = Account(
    1, "alice", "a@x.fr", HASH, None, True, True, False, 0, None, None, "POST", "s", 0.0, 0.0
)


async def load(_login: str) -> Account | None:
    return ACCOUNT


def test_argon2_hash_and_verify() -> None:
    """Hashes are argon2id, and only the right password verifies."""
    assert HASH.startswith("$argon2id$")
    assert verify_password(HASH, "right-password")
    assert not verify_password(HASH, "wrong")
    assert not verify_password("not-a-hash", "x")


async def test_cache_hit_skips_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second check of a verified pair does not run argon2 again."""
    calls: list[str] = []
    real = auth.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return real(stored, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    creds = Credentials(load, verified_ttl=60, account_ttl=2)
    assert await creds.check(ACCOUNT, "alice", "right-password", now=0)
    assert await creds.check(ACCOUNT, "alice", "right-password", now=1)
    assert len(calls) == 1
    assert not await creds.check(ACCOUNT, "alice", "wrong", now=1)
    assert await creds.check(ACCOUNT, "alice", "right-password", now=61)  # expired: verify again
    assert len(calls) == 3


async def test_password_change_drops_cached_verification() -> None:
    """Once the stored hash changes, the old password no longer passes from the cache."""
    creds = Credentials(load, verified_ttl=60, account_ttl=2)
    assert await creds.check(ACCOUNT, "alice", "right-password", now=0)
    changed = dataclasses.replace(ACCOUNT, api_password_hash=hash_password("new-password"))
    assert not await creds.check(changed, "alice", "right-password", now=1)
    assert await creds.check(changed, "alice", "new-password", now=1)


async def test_concurrent_checks_share_one_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 simultaneous checks of the same pair run argon2 once."""
    calls: list[str] = []
    real = auth.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return real(stored, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    creds = Credentials(load, verified_ttl=60, account_ttl=2)
    results = await asyncio.gather(
        *(creds.check(ACCOUNT, "alice", "right-password", now=0) for _ in range(20))
    )
    assert all(results) and len(calls) == 1


async def test_unknown_login_fails() -> None:
    """An unknown login (None account) never passes."""
    creds = Credentials(load, verified_ttl=60, account_ttl=2)
    assert not await creds.check(None, "ghost", "right-password", now=0)
