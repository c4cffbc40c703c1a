"""PostgreSQL owners (a mixin of `PgStore`; the SQLite twin is `sqlite_owners.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgOwners(PgRole):
    """The owners role of the PostgreSQL store."""
