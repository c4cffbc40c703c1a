"""PostgreSQL delivery (a mixin of `PgStore`; the SQLite twin is `sqlite_delivery.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgDelivery(PgRole):
    """The delivery role of the PostgreSQL store."""
