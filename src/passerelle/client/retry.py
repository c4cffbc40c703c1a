"""What both clients share: the retry policy, the reading of answers and refusals,
and the building of requests (base URL, key, the send body).

A call is retried, with the same request (a send keeps its Idempotency-Key), when it got
no answer (a connection error or a timeout), or 409 (the key's first request still in
progress), 429 (rate limited: after its Retry-After) or a 5xx; never after another
refusal. Retries are bounded in count (`RetryPolicy.attempts`) and in time
(`RetryPolicy.budget_s`); each wait is bounded by `RetryPolicy.max_delay_s`.
"""

from __future__ import annotations

import math
import os
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from passerelle.exceptions import (
    ApiRefused,
    ClientError,
    ClientRateLimited,
    ClientUnavailable,
    refusal_class,
)

URL_ENV = "PASSERELLE_API_URL"
KEY_ENV = "PASSERELLE_API_KEY"
PREFIX = "/api/v1"
RETRIED = frozenset({409, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most `attempts` attempts per call; waits of `base_delay_s` doubling (with
    jitter) up to `max_delay_s`, or the Retry-After asked (bounded the same); no new
    attempt once `budget_s` have passed since the first one."""

    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0
    budget_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait before attempt `attempt` + 1 (`attempt` counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay_s)
        backoff: float = self.base_delay_s * 2.0 ** (attempt - 1)
        return min(backoff * random.uniform(0.5, 1.0), self.max_delay_s)  # noqa: S311


NO_RETRY = RetryPolicy(attempts=1)


def base_url(url: str | None) -> str:
    """The API's base URL from `url` or PASSERELLE_API_URL: the server's address or its
    ``/api/v1``, either way ending in ``/api/v1``."""
    given = url or os.environ.get(URL_ENV)
    if not given:
        raise ClientError(f"no API URL: pass url= or set {URL_ENV}")
    given = given.rstrip("/")
    return given if given.endswith(PREFIX) else given + PREFIX


def api_key(key: str | None) -> str:
    """The API key from `key` or PASSERELLE_API_KEY."""
    given = key or os.environ.get(KEY_ENV)
    if not given:
        raise ClientError(f"no API key: pass key= or set {KEY_ENV}")
    return given


def headers_of(key: str) -> dict[str, str]:
    """The headers of every request."""
    return {"Authorization": f"Bearer {key}", "Accept": "application/json"}


def send_body(
    to: Sequence[str] | None,
    text: str,
    sender: str,
    group: str | None,
    sender_type: int,
    flash: bool,
    callback: bool,
) -> dict[str, Any]:
    """The JSON body of ``POST /messages``."""
    if isinstance(to, str):
        raise TypeError("to: a sequence of numbers, not one string")
    body: dict[str, Any] = {
        "text": text,
        "from": sender,
        "sender_type": sender_type,
        "flash": flash,
        "callback": callback,
    }
    if to is not None:
        body["to"] = list(to)
    if group is not None:
        body["group"] = group
    return body


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return str(uuid.uuid4())


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a Retry-After header asks for (None when absent or not a finite
    number: ``nan`` or ``inf`` would break the wait and the time budget)."""
    value = response.headers.get("retry-after")
    try:
        seconds = None if value is None else float(value)
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) else None


def refusal(response: httpx.Response) -> ApiRefused:
    """The typed error of a refusal, read from its problem document (or its text)."""
    status = response.status_code
    title, detail, code = response.reason_phrase, response.text[:200], None
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        title = str(data.get("title") or title)
        detail = str(data.get("detail") or detail)
        code = None if data.get("code") is None else str(data["code"])
    cls = refusal_class(status)
    if issubclass(cls, ClientRateLimited):
        return cls(status, title, detail, code, retry_after(response))
    return cls(status, title, detail, code)


class Attempts:
    """The retry state of one call: after each attempt, how long to wait before the next
    one, or the error that ends the call."""

    def __init__(self, policy: RetryPolicy, retried: frozenset[int] = RETRIED) -> None:
        self.policy = policy
        self.retried = retried
        self.made = 0
        self.waited = 0.0  # the waits handed out (all of the time when sleep is faked)
        self.started = time.monotonic()

    def answered(self, response: httpx.Response) -> float | None:
        """None when `response` is the answer; else the wait before retrying. Raises the
        typed refusal (not retried), or ClientUnavailable once retries are spent."""
        self.made += 1
        if response.is_success:
            return None
        error = refusal(response)
        if response.status_code not in self.retried and response.status_code < 500:
            raise error
        return self._next(error, retry_after(response))

    def failed(self, error: httpx.TransportError) -> float:
        """The wait before retrying after an attempt that got no answer; raises
        ClientUnavailable once retries are spent."""
        self.made += 1
        try:
            return self._next(None, None)
        except ClientUnavailable as spent:
            raise spent from error

    def _next(self, last: ApiRefused | None, asked: float | None) -> float:
        wait = self.policy.delay(self.made, asked)
        elapsed = max(time.monotonic() - self.started, self.waited)
        if self.made >= self.policy.attempts or elapsed + wait > self.policy.budget_s:
            what = "no answer" if last is None else str(last)
            raise ClientUnavailable(
                f"gave up after {self.made} attempt(s) in {elapsed:.1f} s: {what}", last
            ) from last
        self.waited += wait
        return wait
