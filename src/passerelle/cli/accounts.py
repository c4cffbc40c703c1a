"""`passerelle account`: create, credit, set, show, rotate-secret."""

from __future__ import annotations

import secrets
import sys
from typing import Any

import click

from passerelle.cli import output
from passerelle.cli.common import _settings, _when, _with_gateway, err, out
from passerelle.cli.output import plain
from passerelle.core.states import statut_of_message
from passerelle.core.values import Account, CreditChange
from passerelle.service import AccountUpdate, Gateway


@click.group()
def account() -> None:
    """Customer accounts and credits."""


@account.command("create")
@click.argument("login")
@click.option("--email", required=True, help="Contact e-mail of the account.")
@click.option(
    "--api-password", help="API password (apipasse); generated and shown once if omitted."
)
@click.option("--credits", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--callback-url", help="URL that receives delivery receipts.")
@click.option("--rate-limit", type=click.FloatRange(min=0), help="Requests/s (0 = unlimited).")
def account_create(
    login: str,
    email: str,
    api_password: str | None,
    credits: int,
    callback_url: str | None,
    rate_limit: float | None,
) -> None:
    """Create an activated account, gateway option on."""
    settings = _settings()
    password = api_password or secrets.token_urlsafe(12)

    async def work(g: Gateway) -> tuple[Account, str | None]:
        created = await g.create_account(login, email, password, credits, callback_url, rate_limit)
        return created, await g.callback_url_warning(callback_url) if callback_url else None

    created, warning = _with_gateway(settings, work)
    out.print(f"account {created.login} created, {created.credits} credits")
    if api_password is None:
        out.print(f"API password (shown once): {password}")
    _warn(warning)


@account.command("credit", context_settings={"ignore_unknown_options": True})
@click.argument("login")
@click.argument("amount", type=int)
@click.option("--reason", default="", help="Why (recorded in the ledger).")
def account_credit(login: str, amount: int, reason: str) -> None:
    """Add AMOUNT credits (a negative AMOUNT removes them, never below zero)."""
    settings = _settings()
    change = _with_gateway(settings, lambda g: g.credit(login, amount, reason=reason))
    out.print(f"{login}: {credit_sentence(amount, change)}")


@account.command("set")
@click.argument("login")
@click.option("--email")
@click.option("--api-password", help="New API password.")
@click.option("--activated/--not-activated", default=None)
@click.option("--gateway/--no-gateway", default=None, help="The Gateway SMS option.")
@click.option("--suspended/--not-suspended", default=None)
@click.option("--rate-limit", type=click.FloatRange(min=0))
@click.option("--callback-url")
@click.option("--callback-method", type=click.Choice(["POST", "GET"]))
def account_set(login: str, **options: Any) -> None:
    """Change account settings."""
    update = AccountUpdate(
        **{
            ("gateway_enabled" if k == "gateway" else k): v
            for k, v in options.items()
            if v is not None
        }
    )
    if not update.names():
        err.print("[red]error:[/red] nothing to change (see --help)")
        sys.exit(2)
    settings = _settings()
    url = update.callback_url

    async def work(g: Gateway) -> tuple[Account, str | None]:
        updated = await g.update_account(login, update)
        return updated, await g.callback_url_warning(url) if isinstance(url, str) else None

    updated, warning = _with_gateway(settings, work)
    out.print(f"account {login} updated: {plain(changed_fields(updated, update.names()))}")
    _warn(warning)


@account.command("show")
@click.argument("login")
@click.option("--messages", type=click.IntRange(min=0), default=10, show_default=True)
def account_show(login: str, messages: int) -> None:
    """Balance, state, callback settings and last messages of an account."""
    settings = _settings()
    view = _with_gateway(settings, lambda g: g.show_account(login, messages))
    a = view.account
    state = "usable" if a.usable else "blocked (14)"
    out.print(f"[bold]{a.login}[/bold] <{a.email}>  state: {state}")
    out.print(f"  activated: {a.activated}  gateway: {a.gateway_enabled}  suspended: {a.suspended}")
    out.print(f"  balance: {view.balance} SMS  (ledger sum {view.ledger_sum})")
    out.print(f"  rate limit: {a.rate_limit if a.rate_limit is not None else 'default'}")
    out.print(f"  callback: {a.callback_method} {a.callback_url or '-'}")
    out.print(f"  callback secret: {a.callback_secret}")
    out.print(f"  messages: {view.message_count}  created: {_when(a.created_at)}")
    if view.messages:
        table = output.table("msgid", "date", "sender", "recipients", "cost", "statut", "text")
        for m in view.messages:
            table.add_row(
                str(m.msgid),
                _when(m.created_at),
                m.sender,
                str(len(m.recipients)),
                str(m.cost),
                str(statut_of_message(r.state for r in m.recipients)),
                m.text[:40],
            )
        out.print(table)
    if view.ledger:
        table = output.table("date", "delta", "kind", "actor", "reason", "msgid")
        for e in view.ledger:
            table.add_row(
                _when(e.at), f"{e.delta:+d}", e.kind, e.actor, e.reason, str(e.msgid or "-")
            )
        out.print(table)


@account.command("rotate-secret")
@click.argument("login")
def account_rotate_secret(login: str) -> None:
    """Give LOGIN a new callback signing secret (printed; the old one stops at once)."""
    settings = _settings()
    secret = _with_gateway(settings, lambda g: g.rotate_secret(login))
    out.print(f"new callback secret of {login}: {secret}")


def credit_sentence(asked: int, change: CreditChange) -> str:
    """What `account credit` did, said in full: a removal stops at zero."""
    if asked >= 0:
        return f"added {change.applied} credits, balance {change.balance}"
    removed = -change.applied
    if removed < -asked:
        return (
            f"removed {removed} credits (asked {-asked}; balance cannot go below zero), "
            f"balance {change.balance}"
        )
    return f"removed {removed} credits, balance {change.balance}"


def changed_fields(account: Account, changes: list[str]) -> str:
    """``suspended=no, rate-limit=5.0``: each changed field with its stored value (an API
    password is never printed)."""
    shown = []
    for name in sorted(changes):
        option = "gateway" if name == "gateway_enabled" else name
        if name == "api_password":
            value: object = "(changed)"
        else:
            value = getattr(account, name)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif value is None or value == "":
            value = "(none)"
        shown.append(f"{option.replace('_', '-')}={value}")
    return ", ".join(shown)


def _warn(warning: str | None) -> None:
    if warning is not None:
        err.print(f"[yellow]warning:[/yellow] {plain(warning)}")
