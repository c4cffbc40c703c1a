"""The one error tree (`passerelle.exceptions`): every exception class is in it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import passerelle
from passerelle import exceptions as exc


def _exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in a module of the passerelle package."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(passerelle.__path__, "passerelle."):
        if ".migrations" in info.name:  # Alembic scripts: run by Alembic, not imported
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("passerelle."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def test_walk_finds_the_smpp_and_callback_errors() -> None:
    """The walk sees the errors the SMPP and callback modules raise (it walks for real)."""
    names = {cls.__name__ for cls in _exception_classes()}
    assert {"PduError", "_Malformed", "TlvStreamError", "WindowFull", "Refused"} <= names
    assert {"ProtocolError", "BodyTooLarge", "StoreError"} <= names


@pytest.mark.parametrize("cls", _exception_classes(), ids=lambda c: c.__qualname__)
def test_every_exception_class_is_a_passerelle_error(cls: type[BaseException]) -> None:
    """Every exception class defined anywhere in passerelle derives from PasserelleError."""
    assert issubclass(cls, exc.PasserelleError)


def test_every_tree_class_is_drawn_in_the_docstring() -> None:
    """The drawing in the module docstring names every class of exceptions.py."""
    doc = exc.__doc__ or ""
    for name, value in inspect.getmembers(exc, inspect.isclass):
        if issubclass(value, BaseException) and value.__module__ == exc.__name__:
            assert re.search(rf"(── |^    ){name}\b", doc, re.MULTILINE), name


def test_old_import_paths_name_the_same_classes() -> None:
    """The modules that first defined the SMPP and callback errors still export them."""
    from passerelle.smpp import frame, session, tlv
    from passerelle.webhooks import client, guard

    assert frame.PduError is exc.PduError
    assert tlv.TlvStreamError is exc.TlvStreamError
    assert session.WindowFull is exc.WindowFull
    assert guard.Refused is exc.Refused
    assert client.ProtocolError is exc.ProtocolError


def test_tlv_stream_error_is_still_a_value_error() -> None:
    """TlvStreamError keeps its ValueError base, so `except ValueError` still catches it."""
    assert issubclass(exc.TlvStreamError, ValueError)
