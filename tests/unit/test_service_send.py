"""The service checks a send request itself: every front door gets the same codes."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import pytest

from passerelle import exceptions as exc
from passerelle import service
from passerelle.api.app import App
from passerelle.api.params import LegacyParams
from passerelle.core.message import Outgoing, SendRequest, validate_send
from passerelle.service import Gateway
from tests.support import PASSWORD, asgi_client

BuildApp = Callable[..., Awaitable[App]]
GOOD = {"dest": "33612345678", "origine": "Shop", "msg": "Bonjour"}

# (legacy parameters changed from GOOD, the code answered)
REFUSALS = [
    ({"dest": ""}, "03"),
    ({"origine": ""}, "04"),
    ({"dest": "33612345678,3361234567a"}, "05"),
    ({"dest": "336123"}, "06"),
    ({"dest": "0612345678"}, "07"),
    ({"msg": " "}, "08"),
    ({"msg": "x" * 161}, "12"),
    ({"origine": "A" * 16}, "13"),
    ({"dest": ",".join(f"336{i:08d}" for i in range(501))}, "15"),
    ({"type": "flash"}, "17"),
]


def request_of(values: dict[str, str], via_post: bool = False) -> SendRequest:
    """The send request the legacy API builds from these parameters."""
    return LegacyParams.from_mapping(values).send_request(via_post)


@pytest.mark.parametrize(("changes", "code"), REFUSALS)
async def test_service_refuses_like_the_legacy_api(
    app_factory: BuildApp, changes: dict[str, str], code: str
) -> None:
    """`Gateway.send` without HTTP raises the error whose answer the legacy API gives;
    nothing is charged or stored."""
    app = await app_factory("memory")
    gateway = app.gateway
    account = await gateway.create_account("alice", "a@example.com", PASSWORD, 1000)
    values = {**GOOD, **changes}
    with pytest.raises(exc.ApiError) as raised:
        await gateway.send(account, request_of(values))
    assert raised.value.code.number == code
    query = urlencode({"action": "envoi", "login": "alice", "apipasse": PASSWORD, **values})
    async with asgi_client(app) as client:
        answer = (await client.get("/client/api?" + query)).text
    assert answer == raised.value.answer()
    assert await gateway.balance(account) == 1000
    assert await gateway.store.count_messages(account.id) == 0


async def test_the_recipient_limit_follows_the_method(memory_gateway: Gateway) -> None:
    """A list over the GET limit is 15 unless the request was a POST."""
    gateway = memory_gateway
    account = await gateway.create_account("alice", "a@example.com", PASSWORD, 1000)
    values = {**GOOD, "dest": ",".join(f"336{i:08d}" for i in range(501))}
    with pytest.raises(exc.TooManyRecipients):
        await gateway.send(account, request_of(values))
    assert await gateway.send(account, request_of(values, via_post=True)) > 0
    assert await gateway.balance(account) == 1000 - 501


async def test_a_long_dest_list_is_checked_off_the_event_loop(
    memory_gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `dest` list over OFFLOAD_DEST is checked on the service's thread, a short one inline."""
    threads: list[str] = []

    def spy(request: SendRequest, limit: int) -> Outgoing:
        threads.append(threading.current_thread().name)
        return validate_send(request, limit)

    monkeypatch.setattr(service, "validate_send", spy)
    gateway = memory_gateway
    account = await gateway.create_account("alice", "a@example.com", PASSWORD, 10)
    long_dest = ",".join(["33612345678"] * (service.OFFLOAD_DEST // 12 + 1))
    assert len(long_dest) > service.OFFLOAD_DEST
    await gateway.send(account, request_of({**GOOD, "dest": long_dest}, via_post=True))
    await gateway.send(account, request_of(GOOD))
    gateway.close()
    assert threads[0].startswith("passerelle-check")
    assert threads[1] == threading.current_thread().name
