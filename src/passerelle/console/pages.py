"""The console's route table: every page, from every area. Tests walk it (a page added
here gets its access, isolation and CSRF tests without anyone writing them)."""

from __future__ import annotations

from passerelle.console import (
    pages_auth,
    pages_customer,
    pages_directory,
    pages_keys,
    pages_links,
    pages_operator,
)
from passerelle.console.web import Page

PAGES: tuple[Page, ...] = (
    *pages_auth.PAGES,
    *pages_customer.PAGES,
    *pages_directory.PAGES,
    *pages_keys.PAGES,
    *pages_operator.PAGES,
    *pages_links.PAGES,
)
