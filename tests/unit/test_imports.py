"""Import rules between layers, read from the source with `ast` (nothing is imported).

Each rule names a package (a folder under src/passerelle) or a module, and either the
modules it must not import or the only ones it may import besides the standard
library. Every import counts: module level, inside functions, under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "passerelle"
STORE = ("passerelle.store",)
SERVICE = ("passerelle.service", "passerelle.service_workers")


@dataclass(frozen=True, slots=True)
class Rule:
    """`where` must not import `forbidden`; with `only`, nothing but the standard
    library and `only` either."""

    where: str
    forbidden: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None


RULES = (
    # front doors and workers call the service, never the store
    Rule("api", forbidden=STORE),
    Rule("cli", forbidden=STORE),
    Rule("delivery", forbidden=STORE),
    Rule("webhooks", forbidden=STORE),
    Rule("mail", forbidden=STORE),
    Rule("retention.py", forbidden=STORE),
    Rule("auth.py", forbidden=STORE),
    # logins.py is a part of the service (Gateway's view of the failed-login counters)
    # core is pure: the standard library, phonenumbers, itself and the error tree
    Rule("core", only=("phonenumbers", "passerelle.core", "passerelle.exceptions")),
    Rule("exceptions.py", only=("passerelle.core.codes",)),
    # the API client runs anywhere: httpx, itself and the error tree, nothing of the server
    Rule("client", only=("httpx", "passerelle.client", "passerelle.exceptions")),
    # the store serves the service, not the other way round; SMPP is a plain adapter
    Rule("store", forbidden=SERVICE),
    Rule("smpp", forbidden=STORE + SERVICE),
)


def modules(where: str) -> list[Path]:
    """The source files a rule covers."""
    path = SRC / where
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def imported(source: str) -> Iterator[str]:
    """Every absolute module name `source` imports (``from a import b`` gives ``a.b``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports are not used in passerelle"
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    """True when `name` is one of `prefixes` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def broken(rule: Rule, name: str) -> bool:
    """True when importing `name` breaks `rule`."""
    if within(name, rule.forbidden):
        return True
    if rule.only is None:
        return False
    return name.split(".")[0] not in sys.stdlib_module_names and not within(name, rule.only)


def violations(rule: Rule) -> list[str]:
    """``file: module`` for each import that breaks `rule`."""
    found = []
    for path in modules(rule.where):
        for name in imported(path.read_text(encoding="utf-8")):
            if broken(rule, name):
                found.append(f"{path.relative_to(SRC)}: {name}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.where for r in RULES])
def test_layer_imports(rule: Rule) -> None:
    """Each layer imports only what its rule allows."""
    assert modules(rule.where) and all(p.exists() for p in modules(rule.where))
    assert violations(rule) == []


def test_imported_names_every_form() -> None:
    """Plain, from-, aliased, local and TYPE_CHECKING imports are all seen."""
    source = (
        "import json\nfrom passerelle import store as s\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from passerelle.store.base import Store\n"
        "def f():\n    import passerelle.service\n"
    )
    assert sorted(imported(source)) == [
        "json",
        "passerelle.service",
        "passerelle.store",
        "passerelle.store.base.Store",
        "typing.TYPE_CHECKING",
    ]


def test_rules_catch_breaches() -> None:
    """A forbidden prefix, and anything outside `only` and the standard library, break."""
    workers = Rule("delivery", forbidden=STORE)
    pure = Rule("core", only=("phonenumbers", "passerelle.core"))
    assert broken(workers, "passerelle.store.base.Store")
    assert not broken(workers, "passerelle.storefront")
    assert not broken(workers, "passerelle.service_workers.Operations")
    assert broken(pure, "httpx") and broken(pure, "passerelle.settings.Settings")
    assert not broken(pure, "phonenumbers") and not broken(pure, "dataclasses.dataclass")


@pytest.mark.parametrize("where", ["api", "cli"])
def test_front_doors_reach_no_store_through_an_object(where: str) -> None:
    """api/ and cli/ never use a `.store` attribute (the service's store): they call the
    service, which is what the import rule means for them."""
    used = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in modules(where)
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "store"
    ]
    assert used == []
