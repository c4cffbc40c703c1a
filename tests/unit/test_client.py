"""The client's retry policy (`passerelle.client.retry`): which answers are retried, with
the same Idempotency-Key, and how far. The network is faked with httpx.MockTransport;
the client itself is exercised against a real server in tests/acceptance."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from passerelle.client import (
    AsyncClient,
    Client,
    ClientBadCredentials,
    ClientBadRequest,
    ClientNoCredit,
    ClientRateLimited,
    ClientUnavailable,
    RetryPolicy,
)

URL = "http://gateway.test"
FAST = RetryPolicy(attempts=4, base_delay_s=0.0, max_delay_s=5.0, budget_s=60.0)
MESSAGE = {
    "id": "123456789",
    "msgid": 123456789,
    "created_at": "2026-12-05T16:32:00Z",
    "sender": "Shop",
    "text": "hello",
    "cost": 1,
    "statut": 0,
    "recipients": [
        {
            "dest": "33611111111",
            "state": "queued",
            "statut": 0,
            "stat": None,
            "updated_at": None,
        }
    ],
}


def problem(status: int, code: str | None = None, **headers: str) -> httpx.Response:
    """A problem document answer."""
    body = {"type": "about:blank", "title": "x", "status": status, "detail": "refused"}
    if code is not None:
        body["code"] = code
    return httpx.Response(
        status, headers={"content-type": "application/problem+json", **headers}, json=body
    )


class Network:
    """A fake network answering from a script; records every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]


def client(network: Network, policy: RetryPolicy = FAST) -> tuple[Client, list[float]]:
    """A Client on the fake network; the waits it asked for."""
    waits: list[float] = []
    made = Client(
        URL, "psl_x", retry=policy, transport=httpx.MockTransport(network), sleep=waits.append
    )
    return made, waits


def created(**headers: str) -> httpx.Response:
    return httpx.Response(201, json=MESSAGE, headers=headers)


@pytest.mark.parametrize(
    "first",
    [
        problem(503),
        problem(409, **{"Retry-After": "1"}),
        problem(429, "16", **{"Retry-After": "2"}),
    ],
    ids=["503", "409", "429"],
)
def test_retries_reuse_the_same_idempotency_key(first: httpx.Response) -> None:
    """A 503, 409 or 429 is retried with the very same request and Idempotency-Key."""
    network = Network(first, created())
    api, _ = client(network)
    sent = api.send(["33611111111"], "hello", "Shop")
    assert sent.msgid == 123456789
    assert len(network.requests) == 2
    assert network.keys[0] and network.keys[0] == network.keys[1]
    assert network.requests[0].content == network.requests[1].content


def test_a_connection_error_is_retried_with_the_same_key() -> None:
    """A request that got no answer is sent again with its key."""
    network = Network(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), created())
    api, _ = client(network)
    api.send(["33611111111"], "hello", "Shop", idempotency_key="mine-1")
    assert network.keys == ["mine-1", "mine-1", "mine-1"]


def test_retry_after_is_honoured_and_bounded() -> None:
    """The wait is the Retry-After asked, never more than max_delay_s."""
    network = Network(
        problem(429, "16", **{"Retry-After": "2"}),
        problem(503, **{"Retry-After": "3600"}),
        created(),
    )
    api, waits = client(network)
    api.send(["33611111111"], "hello", "Shop")
    assert waits == [2.0, 5.0]


def test_a_retry_after_that_is_not_a_finite_number_is_ignored() -> None:
    """``Retry-After: nan`` (or inf) falls back to the backoff instead of breaking the
    wait and the time budget."""
    network = Network(
        problem(429, "16", **{"Retry-After": "nan"}),
        problem(503, **{"Retry-After": "inf"}),
        created(),
    )
    policy = RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0, budget_s=60.0)
    api, waits = client(network, policy)
    api.send(["33611111111"], "hello", "Shop")
    # the backoff's jittered 0.1-0.2 s, then 0.2-0.4 s: not nan, not the 5 s cap of inf
    assert len(waits) == 2 and 0.1 <= waits[0] <= 0.2 and 0.2 <= waits[1] <= 0.4, waits


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [(400, "05", ClientBadRequest), (401, "01", ClientBadCredentials), (402, "02", ClientNoCredit)],
)
def test_no_retry_on_a_refusal(status: int, code: str, error: type[Exception]) -> None:
    """A 4xx refusal (not 409 or 429) is raised at once as its typed error, with its code."""
    network = Network(problem(status, code))
    api, _ = client(network)
    with pytest.raises(error) as raised:
        api.send(["33611111111"], "hello", "Shop")
    assert len(network.requests) == 1
    assert raised.value.status == status and raised.value.code == code  # type: ignore[attr-defined]


def test_attempts_are_bounded() -> None:
    """After `attempts` 503s the call gives up with ClientUnavailable holding the last."""
    network = Network(*(problem(503) for _ in range(10)))
    api, _ = client(network)
    with pytest.raises(ClientUnavailable) as raised:
        api.send(["33611111111"], "hello", "Shop")
    assert len(network.requests) == FAST.attempts
    assert raised.value.last is not None and raised.value.last.status == 503


def test_the_time_budget_bounds_retries() -> None:
    """No attempt is made once its wait would pass the time budget."""
    network = Network(*(problem(429, "16", **{"Retry-After": "4"}) for _ in range(10)))
    api, waits = client(network, RetryPolicy(attempts=10, max_delay_s=5.0, budget_s=9.0))
    with pytest.raises(ClientUnavailable) as raised:
        api.balance()
    assert waits == [4.0, 4.0]
    assert isinstance(raised.value.last, ClientRateLimited)


def test_each_send_gets_its_own_key() -> None:
    """Without idempotency_key, every send makes a new one."""
    network = Network(created(), created(**{"Idempotent-Replayed": "true"}))
    api, _ = client(network)
    first = api.send(["33611111111"], "hello", "Shop")
    second = api.send(["33611111111"], "hello", "Shop")
    assert network.keys[0] != network.keys[1]
    assert not first.replayed and second.replayed
    assert json.loads(network.requests[0].content)["from"] == "Shop"


async def test_the_async_client_retries_the_same_way() -> None:
    """AsyncClient retries a 503 with the same key, and not a 400."""
    network = Network(problem(503), created(), problem(400, "08"))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    transport: Callable[[httpx.Request], httpx.Response] = network
    async with AsyncClient(
        URL, "psl_x", retry=FAST, transport=httpx.MockTransport(transport), sleep=sleep
    ) as api:
        await api.send(["33611111111"], "hello", "Shop")
        with pytest.raises(ClientBadRequest):
            await api.send(["33611111111"], "", "Shop")
    assert network.keys[0] == network.keys[1] != network.keys[2]
    assert len(waits) == 1
