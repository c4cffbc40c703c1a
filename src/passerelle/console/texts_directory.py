"""Texts of the contacts and groups pages."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {}
