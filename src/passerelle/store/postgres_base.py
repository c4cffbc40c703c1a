"""What every role mixin of the PostgreSQL store relies on (`PgStore` provides it)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]  # a pooled connection


class PgRole:
    """The connection pool and transactions of `PgStore`, as its mixins see them."""

    @property
    def _pool(self) -> asyncpg.Pool:
        """The connection pool (StoreError once closed)."""
        raise NotImplementedError

    def _tx(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        """A connection in a transaction, committed when the block ends without error."""
        raise NotImplementedError

    def clock(self) -> float:
        """Now on the database's clock."""
        raise NotImplementedError
