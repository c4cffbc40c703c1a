"""PostgreSQL routes (a mixin of `PgStore`; the SQLite twin is `sqlite_routes.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgRoutes(PgRole):
    """The routes role of the PostgreSQL store."""
