"""``POST /api/v1/messages``: send a message, once per ``Idempotency-Key``.

The body is read here, not by FastAPI: its size is refused (413) before it is read
whole, and its bytes are what the key is bound to (`request_digest`: a retry must send
the same bytes). It becomes a `SendRequest` the service checks as the legacy API's
(`Gateway.send`, through `service_idempotency.send_once`), and a refusal keeps its
legacy code. The answer is the message as ``GET /api/v1/messages/{msgid}`` gives it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from passerelle.api.v1_deps import ERRORS, RECIPIENTS_SHOWN, Caller, error, gateway_of, reads_of
from passerelle.api.v1_errors import invalid, refusal, too_large
from passerelle.api.v1_models import Message
from passerelle.core.idempotency import MAX_KEY_LENGTH
from passerelle.core.message import SendRequest
from passerelle.service_idempotency import request_digest, send_once

MAX_TO = 50_000  # numbers in `to`: the legacy API's POST limit (max_recipients_post)
MAX_NUMBER = 32  # characters of one number as given
MAX_TEXT = 5_000  # characters of `text` as given (the service refuses over 160: 12)
MAX_GROUP = 100
MAX_SENDER = 100  # characters of `from` as given (the service refuses over 15: 13)
NUMBER = r"^[^,]+$"  # one number per item; the service checks its digits (05, 06, 07)
KEY = r"^[!-~]([ -~]*[!-~])?$"  # printable ASCII, no space at either end
REPLAYED = "Idempotent-Replayed"


class SendBody(BaseModel):
    """A message to send: to `to`, to the members of the contact group `group`, or both
    (each number once)."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)

    to: list[Annotated[str, Field(min_length=1, max_length=MAX_NUMBER, pattern=NUMBER)]] | None = (
        Field(None, max_length=MAX_TO, description="numbers, international (33612345678)")
    )
    group: str | None = Field(
        None, min_length=1, max_length=MAX_GROUP, description="one of the account's groups"
    )
    text: str = Field(max_length=MAX_TEXT, description="at most 160 characters (GSM 03.38)")
    sender: str = Field(alias="from", max_length=MAX_SENDER, description="at most 15 characters")
    sender_type: Literal[0, 1, 5] = Field(5, description="0, 1 or 5 (the legacy sendertype)")
    flash: bool = False
    callback: bool = Field(False, description="send delivery receipts to the callback URL")

    def send_request(self) -> SendRequest:
        """The request the service checks (as the legacy API's POST)."""
        return SendRequest(
            dest=",".join(self.to or ()),
            sender=self.sender,
            text=self.text,
            sender_type=str(self.sender_type),
            flash="1" if self.flash else "0",
            callback="1" if self.callback else "0",
            via_post=True,
            group=self.group,
        )


router = APIRouter()
SENT_HEADERS = {
    "Location": {"description": "/api/v1/messages/{msgid}", "schema": {"type": "string"}},
    REPLAYED: {
        "description": "`true` when this is the answer of an earlier request with the key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
SEND_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: error("refused by a check, with its legacy code (03 to 08, 12, 13, 15, 17)"),
    402: error("not enough credits (code 02)"),
    409: error("the key's first request is still being sent: retry after Retry-After"),
    413: error("a body over the size limit"),
    422: error("a body or Idempotency-Key that cannot be used, or a key used for another body"),
}
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SendBody.model_json_schema(by_alias=True)}},
    }
}


@router.post(
    "/messages",
    response_model=Message,
    status_code=201,
    responses={201: {"description": "the message sent", "headers": SENT_HEADERS}, **SEND_ERRORS},
    summary="Send a message",
    openapi_extra=BODY,
)
async def send(
    request: Request,
    account: Caller,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=KEY,
            description="retries with this key and the same body get the first answer",
        ),
    ] = None,
) -> Response:
    """Check, charge and queue a message: 201 with the message and its Location; the
    same answer again (`Idempotent-Replayed: true`) for a retry with the key."""
    raw = await _body(request, gateway_of(request).settings.max_body_bytes)
    try:
        body = SendBody.model_validate_json(raw)
    except ValidationError as failed:
        errors = [
            {"loc": ["body", *(str(p) for p in e["loc"])], "msg": e["msg"]} for e in failed.errors()
        ]
        where = ", ".join(".".join(e["loc"]) for e in errors) or "body"
        raise invalid(f"invalid value: {where}", errors) from None
    gateway = gateway_of(request)
    outcome = await send_once(
        gateway, account, body.send_request(), idempotency_key, request_digest(raw)
    )
    replayed = {REPLAYED: "true"} if outcome.replayed else {}
    if outcome.error is not None:
        problem = refusal(outcome.error)
        problem.headers.update(replayed)
        raise problem
    assert outcome.msgid is not None
    found = await reads_of(request).message(account, outcome.msgid, RECIPIENTS_SHOWN)
    content = Message.of(found).model_dump_json().encode()
    headers = {"Location": f"/api/v1/messages/{outcome.msgid}", **replayed}
    return Response(content, 201, headers, media_type="application/json")


async def _body(request: Request, limit: int) -> bytes:
    """The request's body; 413 when it is (or says it is) over `limit` bytes."""
    length = request.headers.get("content-length")
    if length is not None and not (length.isascii() and length.isdigit()):
        raise too_large(limit)  # not a length: refused like an oversized body
    if length is not None and int(length) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
