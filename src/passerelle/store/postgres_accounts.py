"""PostgreSQL accounts (a mixin of `PgStore`; the SQLite twin is `sqlite_accounts.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgAccounts(PgRole):
    """The accounts role of the PostgreSQL store."""
