"""`passerelle operator`: create the console's operators (they log in at /user/login
and land on the operator pages)."""

from __future__ import annotations

import click
from rich.text import Text

from passerelle.cli.common import _load, _warn_unknown, _with_gateway, err, out
from passerelle.core.console import Operator
from passerelle.service import Gateway
from passerelle.service_console import Console

PASSWORD_VARIABLE = "PASSERELLE_OPERATOR_PASSWORD"  # noqa: S105 - a variable's name


@click.group()
def operator() -> None:
    """Console operators (accounts, connectors, routes and traffic pages)."""


@operator.command("create")
@click.argument("login")
@click.option("--email", required=True, help="The operator's e-mail address.")
@click.option(
    "--password",
    envvar=PASSWORD_VARIABLE,
    show_envvar=True,
    help="Console password; asked for (not echoed) when neither this option nor "
    f"{PASSWORD_VARIABLE} gives it.",
)
def operator_create(login: str, email: str, password: str | None) -> None:
    """Create operator LOGIN (a login no account or operator has)."""
    settings = _load()
    _warn_unknown(_warning)
    if password is None:
        password = click.prompt(
            "Console password", hide_input=True, confirmation_prompt=True, err=True
        )
    given = password or ""

    async def work(g: Gateway) -> Operator:
        return await Console(g).create_operator(login, email, given)

    created = _with_gateway(settings, work)
    out.print(Text(f"operator {created.login} created <{created.email}>: log in at /user/login"))


def _warning(line: str) -> None:
    """An unknown-variable warning, except for the password variable (read here)."""
    if not line.startswith(PASSWORD_VARIABLE + " "):
        err.print(Text(f"warning: {line}"), soft_wrap=True)
