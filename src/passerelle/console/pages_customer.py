"""The customer pages of the console: "API SMS - GATEWAY" › "Envoi SMS par http GET"
(start the integration, the examples), "Mon Compte" › "Paramètres" (callback URL, API
password, signing secret), sending from the page, credits and the callback log. The
history and one message's page are in `pages_history`.

Every action goes through the same service calls as the API and the CLI
(`Gateway.send`, `update_account`, `rotate_secret`, `replay_callback`): the page parses,
the service checks.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from passerelle import exceptions as exc
from passerelle.console import pages_history
from passerelle.console.pages_history import when
from passerelle.console.web import Access, Ctx, Owns, Page, Refusal
from passerelle.core.message import DEFAULT_SENDER_TYPE, SendRequest
from passerelle.core.values import CALLBACK_METHODS, UNSET, CallbackState
from passerelle.service import AccountUpdate
from passerelle.service_console import NO_PASSWORD
from passerelle.service_reads import AccountReads

GET_POST = ("GET", "POST")
PLACEHOLDER = "VOTRE_MOT_DE_PASSE_API"
EXAMPLE_DEST = "33612345678"
EXAMPLE_SENDER = "MonEntreprise"
EXAMPLE_TEXT = "Bonjour de Passerelle"
CALLBACK_LOG = 100
LEDGER = 100


def examples(api_url: str, login: str) -> tuple[str, str]:
    """The curl and PHP examples of the API page, for `login` (password: a placeholder)."""
    query = "&".join(
        f"{name}={quote(value, safe='')}"
        for name, value in (
            ("action", "envoi"),
            ("login", login),
            ("apipasse", PLACEHOLDER),
            ("dest", EXAMPLE_DEST),
            ("origine", EXAMPLE_SENDER),
            ("msg", EXAMPLE_TEXT),
            ("sendertype", "5"),
            ("type", "0"),
            ("callback", "1"),
        )
    )
    curl = f'curl -sS "{api_url}/?{query}"'
    php_login = login.replace("\\", "\\\\").replace("'", "\\'")
    php = "\n".join(
        [
            "<?php",
            "$params = [",
            "    'action' => 'envoi',",
            f"    'login' => '{php_login}',",
            f"    'apipasse' => '{PLACEHOLDER}',",
            f"    'dest' => '{EXAMPLE_DEST}',",
            f"    'origine' => '{EXAMPLE_SENDER}',",
            f"    'msg' => '{EXAMPLE_TEXT}',",
            "    'sendertype' => '5',",
            "    'type' => '0',",
            "    'callback' => '1',",
            "];",
            f"$ch = curl_init('{api_url}/index.php');",
            "curl_setopt($ch, CURLOPT_POST, true);",
            "curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query($params));",
            "curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);",
            '$answer = curl_exec($ch);  // "123456789|Message envoyé" or "NN|erreur"',
            "curl_close($ch);",
            "echo $answer;",
        ]
    )
    return curl, php


async def api_sms(ctx: Ctx) -> Response:
    """``/api-sms``: "Commencer l'intégration" turns the gateway option on; then the
    API's address, the login and examples to copy."""
    account = ctx.customer
    if ctx.request.method == "POST":
        if not account.gateway_enabled:
            await ctx.gateway.update_account(account.login, AccountUpdate(gateway_enabled=True))
        return ctx.redirect("/api-sms", ok="api.started")
    api_url = ctx.base_url + "/client/api"
    curl, php = examples(api_url, account.login)
    return ctx.render(
        "customer_api.html",
        api_url=api_url,
        curl=curl,
        php=php,
        no_password=account.api_password_hash == NO_PASSWORD,
    )


async def settings_page(
    ctx: Ctx, status: int = 200, error: str = "", new_secret: str = "", **typed: str
) -> Response:
    """The settings form (with what was typed, after an error)."""
    account = ctx.customer
    url = typed.get("callback_url", account.callback_url or "")
    warning = await ctx.gateway.callback_url_warning(url) if url and not error else None
    return ctx.render(
        "customer_settings.html",
        status=status,
        error=error,
        warning=warning,
        callback_url=url,
        callback_method=typed.get("callback_method", account.callback_method),
        methods=CALLBACK_METHODS,
        no_password=account.api_password_hash == NO_PASSWORD,
        min_length=ctx.settings.min_api_password_length,
        new_secret=new_secret,
    )


async def settings(ctx: Ctx) -> Response:
    """``/compte/parametres``: callback URL and method, API password (empty: unchanged)."""
    if ctx.request.method != "POST":
        return await settings_page(ctx)
    url, method = ctx.field("callback_url"), ctx.field("callback_method", "POST")
    password = ctx.secret("api_password")
    update = AccountUpdate(
        callback_url=url or None,
        callback_method=method,
        api_password=password if password else UNSET,
    )
    try:
        await ctx.gateway.update_account(ctx.customer.login, update)
    except exc.InvalidValue as invalid:
        return await settings_page(ctx, 400, str(invalid), callback_url=url, callback_method=method)
    return ctx.redirect("/compte/parametres", ok="settings.saved")


async def rotate_secret(ctx: Ctx) -> Response:
    """``/compte/parametres/secret`` (POST): a new callback signing secret, shown on this
    answer only (the settings page shows its last four characters)."""
    secret = await ctx.gateway.rotate_secret(ctx.customer.login)
    ctx.account = await ctx.gateway.store.find_account(ctx.customer.login) or ctx.account
    return await settings_page(ctx, new_secret=secret)


def send_values(ctx: Ctx) -> dict[str, str]:
    """The send form's fields as typed (defaults for a new form)."""
    return {
        "dest": ctx.field("dest"),
        "msg": ctx.field("msg"),
        "origine": ctx.field("origine"),
        "sendertype": ctx.field("sendertype", str(DEFAULT_SENDER_TYPE)) or str(DEFAULT_SENDER_TYPE),
        "type": ctx.field("type", "0") or "0",
        "callback": "1" if ctx.field("callback") == "1" else "",
        "groupe": ctx.field("groupe"),
    }


async def send_form(
    ctx: Ctx, values: dict[str, str], status: int = 200, **more: object
) -> Response:
    """The send form, with the account's groups to choose from."""
    groups = await ctx.gateway.store.list_groups(ctx.customer.id)
    return ctx.render("customer_send.html", status=status, values=values, groups=groups, **more)


async def send(ctx: Ctx) -> Response:
    """``/sms/envoyer``: send from the page, through the API's own service call."""
    if ctx.request.method != "POST":
        return await send_form(ctx, send_values(ctx))
    values = send_values(ctx)
    message = values["msg"] = ctx.secret("msg")  # the text as typed, like the API's `msg`
    request = SendRequest(
        dest=values["dest"],
        sender=values["origine"],
        text=message,
        sender_type=values["sendertype"],
        flash=values["type"],
        callback=values["callback"] or "0",
        via_post=True,
        group=values["groupe"] or None,
    )
    account = ctx.customer
    try:
        if account.suspended:
            raise exc.GatewayDisabled()
        msgid = await ctx.gateway.send(account, request)
    except exc.ApiError as error:
        code, _, label = error.answer().partition("|")
        balance = await ctx.gateway.balance(account) if isinstance(error, exc.NoCredit) else None
        return await send_form(
            ctx,
            values,
            400,
            error_code=code,
            error_label=label,
            balance=balance,
        )
    return ctx.redirect(f"/sms/{msgid}", ok="send.done")


def known(ctx: Ctx, key: str, default: str) -> str:
    """The text of `key`, or `default` when no table has it."""
    text = ctx.t(key)
    return default if text == key else text


async def credits(ctx: Ctx) -> Response:
    """``/credits``: the balance and the newest ledger entries."""
    account = ctx.customer
    store = ctx.gateway.store
    return ctx.render(
        "customer_credits.html",
        balance=await store.balance(account.id),
        ledger=await store.ledger(account.id, LEDGER),
        when=when,
        kind=lambda kind: known(ctx, "credits.kind." + kind, kind),
    )


async def callbacks(ctx: Ctx) -> Response:
    """``/callbacks``: the account's callback events (``echecs=1``: failed only)."""
    failed_only = ctx.request.query_params.get("echecs") == "1"
    events = await ctx.gateway.callbacks(ctx.customer.login, failed_only, CALLBACK_LOG)
    return ctx.render(
        "customer_callbacks.html",
        events=events,
        failed_only=failed_only,
        states={s.value: "callback.state." + s.name.lower() for s in CallbackState},
        when=when,
    )


async def replay(ctx: Ctx) -> Response:
    """``/callbacks/{event_id}/replay`` (POST): send one of the account's events again."""
    try:  # the JSON API's replay: another account's event is NotFound
        await AccountReads(ctx.gateway).replay(ctx.customer, ctx.path_id("event_id"))
    except exc.NotFound:
        raise Refusal(404, "error.404") from None
    return ctx.redirect("/callbacks", ok="callback.replayed")


PAGES: list[Page] = [
    Page("/api-sms", api_sms, GET_POST, Access.CUSTOMER),
    Page("/compte/parametres", settings, GET_POST, Access.CUSTOMER),
    Page("/compte/parametres/secret", rotate_secret, ("POST",), Access.CUSTOMER),
    Page("/sms/envoyer", send, GET_POST, Access.CUSTOMER),
    Page("/credits", credits, access=Access.CUSTOMER),
    Page("/callbacks", callbacks, access=Access.CUSTOMER),
    Page("/callbacks/{event_id}/replay", replay, ("POST",), Access.CUSTOMER, owns=Owns.CALLBACK),
    *pages_history.PAGES,  # after /sms/envoyer: /sms/{msgid} would take its path
]
