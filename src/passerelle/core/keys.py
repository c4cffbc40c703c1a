"""API keys of the JSON API (pure): their shape, their digest, and the values the store
keeps of them.

A key is ``psl_`` followed by 43 URL-safe characters (256 random bits). It is shown once,
when it is created; the store keeps its SHA-256 (a key is as random as a digest is long,
so a slow hash such as argon2 would add nothing but cost on every request) and its first
12 characters (`prefix`), which lists and logs show to tell keys apart.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_MARK = "psl_"
KEY_LENGTH = len(KEY_MARK) + 43
PREFIX_LENGTH = 12
MAX_KEY_NAME = 64


def new_key() -> str:
    """A fresh API key from the CSPRNG."""
    return KEY_MARK + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """What the store keeps of a key: its SHA-256, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def plausible_key(key: str) -> bool:
    """True when `key` may be one of ours (anything else is refused without a read)."""
    body = key[len(KEY_MARK) :]
    return (
        key.startswith(KEY_MARK)
        and len(key) == KEY_LENGTH
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in body)
    )


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key to store: its digest and prefix, never the key."""

    account_id: int
    name: str
    prefix: str
    digest: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (revoked ones included, with the time they were revoked)."""

    id: int
    account_id: int
    name: str
    prefix: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None
