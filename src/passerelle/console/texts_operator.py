"""Texts of the operator pages."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {}
