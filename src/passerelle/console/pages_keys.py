"""The customer's API keys in the console: "Mon Compte" › "Clés API". A key is shown
once, on the answer to its creation (in ``<code id="new-key">`` with a copy button);
the list shows each key's prefix, never the key. Revoking takes effect for new requests
at once (the API's cache forgets a key within a second).

The page goes through the same service as the CLI (`service_keys.Keys`): the page parses,
the service checks.
"""

from __future__ import annotations

from starlette.responses import Response

from passerelle import exceptions as exc
from passerelle.console.pages_history import when
from passerelle.console.web import Access, Ctx, Owns, Page, Refusal
from passerelle.core.keys import MAX_KEY_NAME
from passerelle.service_keys import Keys

PATH = "/compte/cles"


async def keys_page(ctx: Ctx, status: int = 200, error: str = "", new_key: str = "") -> Response:
    """The list of the account's keys and the creation form (the new key, if any)."""
    return ctx.render(
        "customer_keys.html",
        status=status,
        error=error,
        new_key=new_key,
        keys=await ctx.gateway.store.list_keys(ctx.customer.id),
        max_name=MAX_KEY_NAME,
        when=when,
    )


async def keys(ctx: Ctx) -> Response:
    """``/compte/cles``: the keys; POST creates one (field ``name``), shown on this
    answer only."""
    if ctx.request.method != "POST":
        return await keys_page(ctx)
    try:
        created = await Keys(ctx.gateway).create(ctx.customer.login, ctx.field("name"))
    except exc.InvalidValue as invalid:
        return await keys_page(ctx, 400, str(invalid))
    return await keys_page(ctx, new_key=created.key)


async def revoke(ctx: Ctx) -> Response:
    """``/compte/cles/{key_id}/revoquer`` (POST): revoke one of the account's active keys;
    another account's key, or an unknown or revoked one, is answered 404."""
    key_id = ctx.path_id("key_id")
    try:
        await Keys(ctx.gateway).revoke(ctx.customer.login, key_id)
    except exc.NotFound:
        raise Refusal(404, "error.404") from None
    return ctx.redirect(PATH, ok="keys.revoked")


PAGES: list[Page] = [
    Page(PATH, keys, ("GET", "POST"), Access.CUSTOMER),
    Page(PATH + "/{key_id}/revoquer", revoke, ("POST",), Access.CUSTOMER, owns=Owns.KEY),
]
