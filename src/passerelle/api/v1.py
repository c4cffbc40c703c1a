"""The JSON API, ``/api/v1``: a second front door over the service layer (`Gateway`).

A FastAPI application that `api/app.py` mounts at ``/api/v1`` in processes with the
`api` role. A request carries an API key (``Authorization: Bearer psl_...``, checked by
`service_keys.Keys`); every answer is JSON, every refusal a problem document
(`api/v1_errors.py`). The OpenAPI document is ``/api/v1/openapi.json`` and its reading
page ``/api/v1/docs`` is served from the package (no third-party script: a strict CSP).
The routes' shared parts (the caller's key and request limit, the error answers) are
in `api/v1_deps.py`; the send, ``POST /api/v1/messages``, in `api/v1_send.py`.
docs/api-v1.md describes the endpoints.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from starlette.responses import Response

from passerelle.api import v1_errors, v1_send
from passerelle.api.v1_deps import (
    ERRORS,
    NOT_FOUND,
    RECIPIENTS_SHOWN,
    Caller,
    gateway_of,
    reads_of,
)
from passerelle.api.v1_errors import PROBLEM_TYPE
from passerelle.api.v1_models import (
    CURSOR,
    TIME,
    Balance,
    Callback,
    Callbacks,
    Ledger,
    LedgerItem,
    Message,
    MessagePage,
    Replayed,
    StateName,
    cursor_of,
    offset_of,
    time_of,
)
from passerelle.core.console import MessageQuery
from passerelle.core.states import RecipientState
from passerelle.service import Gateway
from passerelle.service_keys import Keys
from passerelle.service_reads import AccountReads

MAX_PAGE = 100
MAX_MSGID = 10**18 - 1
MAX_ID = 2**63 - 1
PAGE = f"at most this many (1 to {MAX_PAGE})"
RECIPIENTS_LISTED = 10  # recipients given per message in lists (all up to 500 by msgid)
STATIC = resources.files("passerelle.api").joinpath("static")
DOCS_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

router = APIRouter()


@router.get("/balance", response_model=Balance, responses=ERRORS, summary="Credits left")
async def balance(request: Request, account: Caller) -> Balance:
    """The account's credits left."""
    return Balance(credits=await gateway_of(request).balance(account))


@router.get("/ledger", response_model=Ledger, responses=ERRORS, summary="Credit movements")
async def ledger(
    request: Request,
    account: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=PAGE)] = 50,
) -> Ledger:
    """The newest movements of the account's credits, newest first."""
    entries = await reads_of(request).ledger(account, limit)
    return Ledger(data=[LedgerItem.of(e) for e in entries])


@router.get("/messages", response_model=MessagePage, responses=ERRORS, summary="Messages")
async def messages(
    request: Request,
    account: Caller,
    since: Annotated[
        str | None, Query(pattern=TIME, description="created at or after (ISO 8601 or unix)")
    ] = None,
    until: Annotated[
        str | None, Query(pattern=TIME, description="created before (ISO 8601 or unix)")
    ] = None,
    state: Annotated[StateName | None, Query(description="with a recipient in this state")] = None,
    to: Annotated[
        str | None,
        Query(
            pattern=r"^\+?[0-9]{1,20}$",
            description="with a recipient whose number contains these digits",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=PAGE)] = 50,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR, description="next_cursor of the previous page")
    ] = None,
) -> MessagePage:
    """The account's messages, newest first, with their first 10 recipients by number."""
    offset = offset_of(cursor)
    query = MessageQuery(
        since=time_of("since", since),
        until=time_of("until", until),
        state=None if state is None else RecipientState[state.upper()],
        dest=None if to is None else to.lstrip("+"),
        limit=limit + 1,
        offset=offset,
        recipients=RECIPIENTS_LISTED,
    )
    found = await reads_of(request).messages(account, query)
    more = len(found) > limit
    return MessagePage(
        data=[Message.of(m) for m in found[:limit]],
        next_cursor=cursor_of(offset + limit) if more else None,
    )


@router.get("/messages/{msgid}", response_model=Message, responses=NOT_FOUND, summary="One message")
async def message(
    request: Request,
    account: Caller,
    msgid: Annotated[int, Path(ge=0, le=MAX_MSGID, description="the msgid given at sending")],
) -> Message:
    """One of the account's messages, with its first 500 recipients by number."""
    found = await reads_of(request).message(account, msgid, RECIPIENTS_SHOWN)
    return Message.of(found)


@router.get("/callbacks", response_model=Callbacks, responses=ERRORS, summary="Callback events")
async def callbacks(
    request: Request,
    account: Caller,
    failed: Annotated[bool, Query(description="only the events not delivered yet")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=PAGE)] = 50,
) -> Callbacks:
    """The account's newest callback events, newest first."""
    events = await reads_of(request).callbacks(account, failed, limit)
    return Callbacks(data=[Callback.of(e) for e in events])


@router.post(
    "/callbacks/{event_id}/replay",
    response_model=Replayed,
    status_code=202,
    responses=NOT_FOUND,
    summary="Send a callback again",
)
async def replay(
    request: Request,
    account: Caller,
    event_id: Annotated[int, Path(ge=0, le=MAX_ID)],
) -> Replayed:
    """Queue one of the account's callback events to be sent again now."""
    await reads_of(request).replay(account, event_id)
    return Replayed(id=event_id)


@router.get("/docs", include_in_schema=False)
async def docs_page() -> Response:
    """The page reading the OpenAPI document (its script is `docs.js`)."""
    body = STATIC.joinpath("docs.html").read_bytes()
    return Response(body, media_type="text/html; charset=utf-8", headers=DOCS_HEADERS)


@router.get("/docs.js", include_in_schema=False)
async def docs_script() -> Response:
    """The script of the documentation page."""
    body = STATIC.joinpath("docs.js").read_bytes()
    return Response(body, media_type="text/javascript; charset=utf-8", headers=DOCS_HEADERS)


@router.get("/docs.css", include_in_schema=False)
async def docs_style() -> Response:
    """The style sheet of the documentation page."""
    body = STATIC.joinpath("docs.css").read_bytes()
    return Response(body, media_type="text/css; charset=utf-8", headers=DOCS_HEADERS)


class V1App(FastAPI):
    """FastAPI whose OpenAPI document gives error answers as ``application/problem+json``."""

    def openapi(self) -> dict[str, Any]:
        fresh = self.openapi_schema is None
        schema = super().openapi()
        if fresh:
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, answer in operation.get("responses", {}).items():
                        content = answer.get("content", {})
                        if status[:1] in "45" and "application/json" in content:
                            answer["content"] = {PROBLEM_TYPE: content["application/json"]}
        return schema


def create_v1(gateway: Gateway) -> FastAPI:
    """The JSON API over `gateway`, to mount at ``/api/v1``."""
    app = V1App(
        title="Passerelle JSON API",
        version="1",
        description=(
            "Send messages; balance, ledger, messages and callbacks of an account (docs/api-v1.md)."
        ),
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/openapi.json",
    )
    app.state.gateway = gateway
    app.state.keys = Keys(gateway)
    app.state.reads = AccountReads(gateway)
    app.include_router(router)
    app.include_router(v1_send.router)
    v1_errors.install(app)
    return app
