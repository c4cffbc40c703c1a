"""Texts of the customer pages (API SMS, settings, sending, history, credits, callbacks)."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {}
