"""Storage adapters behind the `Store` protocol (base.py)."""

from __future__ import annotations

from passerelle.store.base import Store, open_store

__all__ = ["Store", "open_store"]
