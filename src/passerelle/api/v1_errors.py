"""Errors of the JSON API as RFC 9457 problem documents (``application/problem+json``).

One table turns every refusal into a status, a type slug and, where the legacy API has one,
its two-digit code: ApiError subclasses keep their legacy code, request validation is 422,
an unknown route 404; anything unexpected is a 500 with a logged reference and no trace.
"""

from __future__ import annotations

import http
import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from passerelle import exceptions as exc
from passerelle.exceptions import Problem

log = logging.getLogger("passerelle.api")

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "https://passerelle.dev/problems/"
RETRY_AFTER_S = 1  # what a RateLimited answer asks the client to wait

# ApiError class -> (HTTP status, type slug); any other ApiError is 422 "invalid-request"
API_ERRORS: dict[type[exc.ApiError], tuple[int, str]] = {
    exc.BadCredentials: (401, "unauthorized"),
    exc.GatewayDisabled: (403, "account-disabled"),
    exc.NoCredit: (402, "no-credit"),
    exc.RateLimited: (429, "rate-limited"),
    exc.MsgidMissing: (404, "not-found"),
    exc.MsgidInvalid: (404, "not-found"),
}

# the JSON names of the parameters a legacy code 17 names
JSON_NAMES = {"groupe": "group", "sendertype": "sender_type", "type": "flash"}


def response_of(problem: Problem) -> Response:
    """The problem document as an HTTP answer."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + problem.slug if problem.slug else "about:blank",
        "title": http.HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.code is not None:
        body["code"] = problem.code
    body.update(problem.extra)
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, problem.status, problem.headers, media_type=PROBLEM_TYPE)


def unauthorized(detail: str) -> Problem:
    """401 asking for a bearer key (code 01, as the legacy API's bad credentials)."""
    return Problem(
        401,
        "unauthorized",
        detail,
        exc.BadCredentials.code.number,
        {"WWW-Authenticate": 'Bearer realm="passerelle"'},
    )


def not_found(detail: str) -> Problem:
    """404: absent, or not the caller's (the two are never told apart)."""
    return Problem(404, "not-found", detail)


def invalid(detail: str, errors: Sequence[dict[str, Any]] = ()) -> Problem:
    """422: a query or path value that cannot be used."""
    return Problem(422, "invalid-request", detail, extra={"errors": list(errors)})


def problem_of(error: exc.ApiError) -> Problem:
    """The problem document of an ApiError, with its legacy code."""
    if isinstance(error, exc.BadCredentials):
        return unauthorized("a valid API key is required")
    status, slug = API_ERRORS.get(type(error), (422, "invalid-request"))
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 429 else None
    return Problem(status, slug, error.code.label, error.code.number, headers)


def refusal(error: exc.ApiError) -> Problem:
    """The problem document of a refused send, with its legacy code: 400 for a failed
    check (03 to 08, 12, 13, 15, 17), 402 for no credit (02), 403 (14), 429 (16)."""
    status, slug = API_ERRORS.get(type(error), (400, "send-refused"))
    if type(error) is exc.ApiError:  # a remembered code we cannot give back
        status, slug = 500, "internal"
    detail = error.code.label
    if isinstance(error, exc.InvalidParameter):
        detail = f"{detail}: {JSON_NAMES.get(error.name, error.name)}"
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 429 else None
    return Problem(status, slug, detail, error.code.number, headers)


def too_large(limit: int) -> Problem:
    """413: a request body over `limit` bytes (not read)."""
    return Problem(413, "too-large", f"the request body is over {limit} bytes")


def idempotency(error: exc.IdempotencyError) -> Problem:
    """422 for a key used with another body, 409 (Retry-After) while its first request
    is being sent."""
    if isinstance(error, exc.IdempotencyBusy):
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return Problem(409, "idempotency-busy", str(error), headers=headers)
    return Problem(422, "idempotency-mismatch", str(error))


def internal(error: BaseException) -> Problem:
    """500 for an unexpected error: logged with a reference the answer gives, no trace."""
    ref = secrets.token_hex(4)
    log.error(
        "internal error",
        exc_info=(type(error), error, error.__traceback__),
        extra={"ref": ref, "target": "api/v1"},
    )
    code = exc.ApiError.code
    return Problem(500, "internal", f"internal error (ref {ref})", code.number)


async def _problem(_request: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    return response_of(error)


async def _api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, exc.ApiError)
    return response_of(problem_of(error))


async def _idempotency(_request: Request, error: Exception) -> Response:
    assert isinstance(error, exc.IdempotencyError)
    return response_of(idempotency(error))


async def _admin_not_found(_request: Request, error: Exception) -> Response:
    return response_of(not_found(str(error)))


async def _validation(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in error.errors()
    ]
    where = ", ".join(".".join(e["loc"]) for e in errors) or "request"
    return response_of(invalid(f"invalid value: {where}", errors))


async def _http(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
    headers = dict(error.headers or {})
    problem = Problem(error.status_code, slug, str(error.detail), headers=headers)
    return response_of(problem)


class CatchAll:
    """ASGI middleware: an exception no handler took is answered as a 500 problem (and
    logged with its reference) instead of reaching the server."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if started or scope["type"] != "http":
                raise
            await response_of(internal(error))(scope, receive, send)


def install(app: FastAPI) -> None:
    """Answer every error of `app` as a problem document."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(exc.ApiError, _api_error)
    app.add_exception_handler(exc.IdempotencyError, _idempotency)
    app.add_exception_handler(exc.NotFound, _admin_not_found)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_middleware(CatchAll)
