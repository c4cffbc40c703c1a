"""In-memory twin of the API keys (`sqlite_keys.py`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from passerelle.core.keys import ApiKey, NewApiKey
from passerelle.core.values import Account


@dataclass
class MemoryKeys:
    """Keys by id, and their digests; ids are never reused."""

    keys: dict[int, ApiKey] = field(default_factory=dict)
    digests: dict[str, int] = field(default_factory=dict)
    last_key_id: int = 0

    if TYPE_CHECKING:

        def _account_by_id(self, account_id: int) -> Account: ...

    async def create_key(self, key: NewApiKey) -> ApiKey:
        self.last_key_id += 1
        stored = ApiKey(
            self.last_key_id, key.account_id, key.name, key.prefix, key.created_at, None, None
        )
        self.keys[stored.id] = stored
        self.digests[key.digest] = stored.id
        return stored

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        mine = [k for k in self.keys.values() if k.account_id == account_id]
        return sorted(mine, key=lambda k: k.id, reverse=True)

    async def revoke_key(self, account_id: int, key_id: int, at: float) -> bool:
        key = self.keys.get(key_id)
        if key is None or key.account_id != account_id or key.revoked_at is not None:
            return False
        self.keys[key_id] = dataclasses.replace(key, revoked_at=at)
        return True

    async def find_key(self, digest: str) -> tuple[ApiKey, Account] | None:
        key_id = self.digests.get(digest)
        key = None if key_id is None else self.keys[key_id]
        if key is None or key.revoked_at is not None:
            return None
        return key, self._account_by_id(key.account_id)

    async def touch_key(self, key_id: int, at: float) -> None:
        key = self.keys.get(key_id)
        if key is not None:
            self.keys[key_id] = dataclasses.replace(key, last_used_at=at)
