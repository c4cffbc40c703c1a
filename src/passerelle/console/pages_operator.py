"""The operator pages of the console."""

from __future__ import annotations

from passerelle.console.web import Page

PAGES: list[Page] = []
