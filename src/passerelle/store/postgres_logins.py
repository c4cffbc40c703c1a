"""PostgreSQL logins (a mixin of `PgStore`; the SQLite twin is `sqlite_logins.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgLogins(PgRole):
    """The logins role of the PostgreSQL store."""
