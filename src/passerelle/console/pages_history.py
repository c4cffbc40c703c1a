"""The customer's messages: the history with its filters, one message, and the live
stream that turns their states without a reload (Server-Sent Events, `static/live.js`).

The stream (``/sms/live?ids=1,2``) reads the states of at most 100 of the account's
messages every second and sends a message's recipients when they changed (all of them
first), and a ``balance`` event when the balance changed. It ends after ten minutes
(the browser's EventSource opens it again) or when the client leaves; one process
serves at most 100 streams at once (``503`` beyond).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from passerelle import exceptions as exc
from passerelle import service_history as history
from passerelle.console.web import Access, Ctx, Owns, Page, Refusal
from passerelle.core.values import Account, RecipientStatus

LIVE_SECONDS = 600.0  # one stream's life; the browser reconnects
LIVE_TICK = 1.0
KEEP_ALIVE_TICKS = 15  # a comment line when nothing was sent for this many ticks
SESSION_CHECK_TICKS = 5  # the session is read again every 5 s
RECIPIENTS_LISTED = 10  # per message in the history
RECIPIENTS_SHOWN = 500  # on a message's page, and per message in the stream


def when(at: float | None) -> str:
    """A time as the pages show it (UTC)."""
    if at is None:
        return ""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def state_label(t: Callable[[str], str], state: int) -> str:
    """The short label of a recipient state: en cours, reçu, non reçu, échec."""
    return t("state." + history.group_of(state))


async def messages(ctx: Ctx) -> Response:
    """``/sms``: the history, filtered by dates, state group and number, 50 a page."""
    field = ctx.request.query_params.get
    values = {k: (field(k) or "").strip() for k in ("depuis", "jusqu_a", "etat", "numero")}
    error = ""
    try:
        wanted = history.parse_filter(
            values["depuis"], values["jusqu_a"], values["etat"], values["numero"],
            (field("page") or "1").strip(),
        )  # fmt: skip
    except ValueError:
        error = "history.bad_filter"
        wanted = history.HistoryFilter()
    found, more = await history.search(ctx.gateway.store, ctx.customer.id, wanted)
    base = {k: v for k, v in values.items() if v}
    return ctx.render(
        "customer_history.html",
        status=400 if error else 200,
        error=error,
        messages=found,
        values=values,
        groups=list(history.GROUPS),
        page=wanted.page,
        more=more,
        base=base,
        listed=RECIPIENTS_LISTED,
        when=when,
        label=lambda s: state_label(ctx.t, s),
    )


async def message(ctx: Ctx) -> Response:
    """``/sms/{msgid}``: one message of the account and each recipient's state."""
    msgid = history.parse_msgid(ctx.request.path_params["msgid"])
    found = None
    if msgid is not None:
        found = await ctx.gateway.store.find_message(ctx.customer.id, msgid)
    if found is None:
        raise Refusal(404, "error.404")
    return ctx.render(
        "customer_message.html",
        message=found,
        recipients=found.recipients[:RECIPIENTS_SHOWN],
        count=len(found.recipients),
        when=when,
        label=lambda s: state_label(ctx.t, s),
    )


def event(data: object, name: str = "") -> bytes:
    """One Server-Sent Event."""
    head = f"event: {name}\n" if name else ""
    return (head + "data: " + json.dumps(data, ensure_ascii=False) + "\n\n").encode()


def recipients_data(t: Callable[[str], str], shown: tuple[RecipientStatus, ...]) -> list[object]:
    """The recipients of one message as the stream sends them."""
    return [
        {"dest": r.dest, "state": int(r.state), "label": state_label(t, r.state)} for r in shown
    ]


async def stream(ctx: Ctx, account: Account, ids: list[int]) -> AsyncIterator[bytes]:
    """The live events of `ids` (the account's only), until the stream's time is up, the
    process stops, or the session ends (log-out, password change: checked every
    `SESSION_CHECK_TICKS`)."""
    store = ctx.gateway.store
    ticks = 0
    tracker = history.LiveTracker(ids, RECIPIENTS_SHOWN)
    deadline = asyncio.get_running_loop().time() + LIVE_SECONDS
    yield b"retry: 3000\n\n"
    quiet = 0
    while True:
        try:
            watching = tracker.watching
            states = await store.states_of(account.id, watching) if watching else {}
            credits = await ctx.gateway.balance(account)
        except exc.StoreError:
            return  # the browser reconnects, and reads everything again
        sent = b""
        for msgid, shown in tracker.changes(states):
            sent += event({"msgid": msgid, "recipients": recipients_data(ctx.t, shown)})
        if tracker.balance_changed(credits):
            text = f"{ctx.t('balance')} : {credits} {ctx.t('sms')}"
            sent += event({"credits": credits, "text": text}, "balance")
        quiet = 0 if sent else quiet + 1
        if quiet >= KEEP_ALIVE_TICKS:  # proxies close connections that stay silent
            sent, quiet = b": keep-alive\n\n", 0
        if sent:
            yield sent
        if not ids or ctx.stopping() or asyncio.get_running_loop().time() >= deadline:
            return  # nothing to watch (a page without messages), or time is up
        await asyncio.sleep(LIVE_TICK)
        if await ctx.request.is_disconnected() or ctx.stopping():
            return
        ticks += 1
        if ticks % SESSION_CHECK_TICKS == 0 and not await ctx.console.still_open(ctx.session):
            return


class LiveResponse(StreamingResponse):
    """A stream that gives its slot back however it ends."""

    def __init__(self, body: AsyncIterator[bytes], slots: history.LiveSlots, key: str) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
        self.slots = slots
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give(self.key)


async def live(ctx: Ctx) -> Response:
    """``/sms/live?ids=...``: the Server-Sent Events of the account's messages (at most
    `LIVE_STREAMS` streams per process and `LIVE_PER_ACCOUNT` per account: 503 beyond)."""
    ids = history.parse_ids(ctx.request.query_params.get("ids", ""))
    key = ctx.customer.login
    if not ctx.live.take(key):
        raise Refusal(503, "live.busy")
    try:
        response = LiveResponse(stream(ctx, ctx.customer, ids), ctx.live, key)
    except BaseException:
        ctx.live.give(key)
        raise
    return ctx.finish(response)


PAGES: list[Page] = [
    Page("/sms", messages, access=Access.CUSTOMER),
    Page("/sms/live", live, access=Access.CUSTOMER),
    Page("/sms/{msgid}", message, access=Access.CUSTOMER, owns=Owns.MESSAGE),
]
