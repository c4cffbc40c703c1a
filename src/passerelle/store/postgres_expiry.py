"""PostgreSQL expiry (a mixin of `PgStore`; the SQLite twin is `sqlite_expiry.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgExpiry(PgRole):
    """The expiry role of the PostgreSQL store."""
