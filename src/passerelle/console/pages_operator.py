"""The operator pages of the console: accounts (search, detail, suspension, the gateway
option, credits) and traffic. Connectors and routes are in `pages_links`.

Every page is for operators only (`Access.OPERATOR`); credits granted or removed here
are recorded in the ledger with the actor ``operator:<login>``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.responses import Response

from passerelle import exceptions as exc
from passerelle.console.web import Access, Ctx, Page, Refusal
from passerelle.core.console import MessageQuery
from passerelle.core.states import RecipientState
from passerelle.service import AccountUpdate

PAGE_SIZE = 50
SEARCH_CHARS = 100
MAX_CREDIT = 10_000_000
REASON_CHARS = 200
LAST_MESSAGES = 20
RECIPIENTS_LISTED = 10  # per message on an account's page
TRAFFIC_MINUTES = 60

ACTIONS: dict[str, AccountUpdate] = {
    "suspend": AccountUpdate(suspended=True),
    "unsuspend": AccountUpdate(suspended=False),
    "gateway_on": AccountUpdate(gateway_enabled=True),
    "gateway_off": AccountUpdate(gateway_enabled=False),
}


def when(ts: float | None) -> str:
    """A time of the database's clock as the pages show it (UTC, to the second)."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def minute_of(ts: float) -> str:
    """The minute starting at `ts` (UTC), as ``HH:MM``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def duration(seconds: float) -> str:
    """A short age: ``42 s``, ``7 min``, ``3 h 05``."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d}"


def actor(ctx: Ctx) -> str:
    """The ledger's actor for what the logged-in operator does."""
    assert ctx.session is not None
    return f"operator:{ctx.session.login}"


def account_path(login: str) -> str:
    """The address of an account's page."""
    return "/operateur/comptes/" + quote(login, safe="@")


def page_number(value: str) -> int:
    """A ``page`` parameter (1 when absent or not a small positive number)."""
    small = value.isascii() and value.isdigit() and 0 < len(value) < 6
    return int(value) if small and int(value) > 0 else 1


async def accounts(ctx: Ctx) -> Response:
    """``/operateur/comptes``: accounts whose login or e-mail contains ``q``, by login."""
    search = ctx.field("q")[:SEARCH_CHARS]
    page = page_number(ctx.field("page"))
    store = ctx.gateway.store
    rows = await store.list_accounts(search, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    return ctx.render(
        "operator_accounts.html",
        rows=rows[:PAGE_SIZE],
        q=search,
        page=page,
        more=len(rows) > PAGE_SIZE,
        account_path=account_path,
        when=when,
    )


def parse_credit(ctx: Ctx) -> tuple[int, str]:
    """The posted ``amount`` (may be negative, not zero) and ``reason`` (required)."""
    raw = ctx.field("amount")
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise Refusal(400, "op.credit.bad_amount")
    amount = int(raw)
    if amount == 0 or abs(amount) > MAX_CREDIT:
        raise Refusal(400, "op.credit.bad_amount")
    reason = ctx.field("reason")
    if not reason:
        raise Refusal(400, "op.credit.reason_required")
    if len(reason) > REASON_CHARS:
        raise Refusal(400, "op.credit.reason_long")
    return amount, reason


async def account(ctx: Ctx) -> Response:
    """``/operateur/comptes/{login}``: the account, its ledger and last messages; posted
    (``action``), suspend or unsuspend it, switch its gateway option, or credit it."""
    login = ctx.request.path_params["login"]
    path = account_path(login)
    error, status = "", 200
    if ctx.request.method == "POST":
        action = ctx.field("action")
        try:
            if action in ACTIONS:
                await ctx.gateway.update_account(login, ACTIONS[action])
                return ctx.redirect(path, ok=f"op.done.{action}")
            if action == "credit":
                amount, reason = parse_credit(ctx)
                change = await ctx.gateway.credit(login, amount, actor(ctx), reason)
                return ctx.redirect(path, ok="op.credit.done", applied=str(change.applied))
            raise Refusal(400, "op.bad_action")
        except exc.AccountNotFound:
            raise Refusal(404, "op.account.missing") from None
        except exc.InvalidValue as invalid:
            error, status = ctx.t("op.invalid") + str(invalid), 400
        except Refusal as refusal:
            if refusal.status == 404:
                raise
            error, status = ctx.t(refusal.key), refusal.status
    try:
        view = await ctx.gateway.show_account(login, 0)
        # the last messages with a few recipients each (a message may have 50 000)
        last = MessageQuery(limit=LAST_MESSAGES, recipients=RECIPIENTS_LISTED)
        messages = await ctx.gateway.store.search_messages(view.account.id, last)
        view = dataclasses.replace(view, messages=messages)
    except exc.AccountNotFound:
        raise Refusal(404, "op.account.missing") from None
    applied = ctx.request.query_params.get("applied", "")
    if not applied.lstrip("+-").isdigit():
        applied = ""
    return ctx.render(
        "operator_account.html",
        status=status,
        view=view,
        a=view.account,
        here=path,
        error=error,
        applied=applied,
        amount=ctx.field("amount") if error else "",
        reason=ctx.field("reason") if error else "",
        when=when,
    )


async def traffic(ctx: Ctx) -> Response:
    """``/operateur/trafic``: recipients per minute and state over the last hour, the
    queue depth and the callback backlog."""
    store = ctx.gateway.store
    now = ctx.gateway.now()
    first = (now // 60 - (TRAFFIC_MINUTES - 1)) * 60
    counts: dict[float, dict[RecipientState, int]] = {}
    for row in await store.traffic(first):
        per_state = counts.setdefault(row.minute, {})
        per_state[row.state] = per_state.get(row.state, 0) + row.count
    minutes = [first + 60 * i for i in range(TRAFFIC_MINUTES)]
    minutes.reverse()  # newest first
    totals = {m: sum(counts.get(m, {}).values()) for m in minutes}
    states = list(RecipientState)
    by_state = {s: sum(c.get(s, 0) for c in counts.values()) for s in states}
    backlog, oldest = await store.callback_backlog()
    return ctx.render(
        "operator_traffic.html",
        minutes=minutes,
        counts=counts,
        totals=totals,
        total=sum(totals.values()),
        peak=max(totals.values(), default=0),
        states=states,
        by_state=by_state,
        depth=await store.queue_depth(),
        backlog=backlog,
        oldest_age=duration(now - oldest) if oldest is not None else "",
        minute_of=minute_of,
    )


GET_POST = ("GET", "POST")
OP = Access.OPERATOR

PAGES: list[Page] = [
    Page("/operateur/comptes", accounts, access=OP, name="operator_accounts"),
    Page("/operateur/comptes/{login}", account, GET_POST, OP, name="operator_account"),
    Page("/operateur/trafic", traffic, access=OP, name="operator_traffic"),
]
