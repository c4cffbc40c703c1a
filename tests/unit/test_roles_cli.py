"""`serve --role` takes comma lists and repeats, and names what it refuses."""

from __future__ import annotations

import click
import pytest

from passerelle.cli.server import _roles
from passerelle.roles import Role, role_settings, roles_of
from tests.support import make_settings


def test_comma_lists_and_repeats_are_one_list() -> None:
    """`--role callbacks,retention --role api` names three roles."""
    assert _roles(("callbacks,retention", "api")) == ("callbacks", "retention", "api")
    assert _roles((" delivery ",)) == ("delivery",)
    assert _roles(()) == ()


@pytest.mark.parametrize("value", ["deliver", "api,x", ","])
def test_unknown_roles_are_refused_by_name(value: str) -> None:
    """A role that does not exist (or an empty list) is a usage error naming it."""
    with pytest.raises(click.BadParameter, match="choose among"):
        _roles((value,))


def test_a_process_without_api_does_not_have_the_role() -> None:
    """The `api` role is a setting like the others: off, the process has no API."""
    chosen = role_settings(frozenset({Role.DELIVERY}))
    assert chosen == {"api": False, "delivery": True, "callbacks": False, "retention": False}
    assert roles_of(make_settings(**chosen)) == {Role.DELIVERY}
    assert Role.API in roles_of(make_settings())
