"""What every JSON API route shares: the caller's account (its bearer API key, then the
account's request limit) and the documented error answers."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from passerelle.api.v1_errors import unauthorized
from passerelle.api.v1_models import Problem
from passerelle.core.values import Account
from passerelle.service import Gateway
from passerelle.service_keys import Keys
from passerelle.service_reads import AccountReads

RECIPIENTS_SHOWN = 500  # recipients given with one message (by msgid, or once sent)


def error(description: str) -> dict[str, Any]:
    """An error answer of the OpenAPI document (a problem document)."""
    return {"model": Problem, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: error("no API key, or not a valid one (code 01)"),
    403: error("the account may not use the API (code 14)"),
    422: error("a query or path value that cannot be used"),
    429: error("too many requests (code 16): retry after Retry-After seconds"),
    500: error("internal error (with a reference to quote)"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: error("absent, or not this account's"),
}

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key of the account: `Authorization: Bearer psl_...`",
)


def gateway_of(request: Request) -> Gateway:
    """The gateway the application serves."""
    return cast(Gateway, request.app.state.gateway)


def reads_of(request: Request) -> AccountReads:
    """The account reads of the application's gateway."""
    return cast(AccountReads, request.app.state.reads)


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Account:
    """The account of the request's API key: 401 without a valid key, 403 when the
    account may not use the API, 429 (with Retry-After) over the account's request
    limit, the one the legacy API applies too (`service_limits`)."""
    if credentials is None:
        raise unauthorized("an API key is required: Authorization: Bearer <key>")
    keys = cast(Keys, request.app.state.keys)
    client = request.client
    address = client.host if client else "unknown"
    _key, account = await keys.authenticate(credentials.credentials, address)
    await gateway_of(request).limits.check(account.login, account)
    return account


Caller = Annotated[Account, Depends(caller)]
