"""`groupe=` on the legacy `envoi`: sending to a contact group, in-process over the
in-memory twin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from passerelle.api.app import App
from passerelle.service_directory import Directory
from tests.support import PASSWORD, asgi_client

BuildApp = Callable[..., Awaitable[App]]
BASE = "/client/api?action=envoi&login=alice&apipasse=" + PASSWORD + "&origine=Shop&msg=Promo"
BALANCE = "/client/api?action=solde&login=alice&apipasse=" + PASSWORD


async def setup(build: BuildApp) -> App:
    """Alice with a group `Clients VIP` of two contacts and an empty group; Bob with a
    group `Bob's` of one."""
    app = await build("memory")
    gateway = app.gateway
    alice = await gateway.create_account("alice", "a@example.com", PASSWORD, 100)
    bob = await gateway.create_account("bob", "b@example.com", PASSWORD, 100)
    directory = Directory(gateway)
    group = await directory.create_group(alice, "Clients VIP")
    first = await directory.add_contact(alice, "Ann", "33612345678")
    second = await directory.add_contact(alice, "Ben", "+33612345679")
    await directory.set_members(alice, group, [first, second], True)
    await directory.create_group(alice, "Empty")
    other = await directory.create_group(bob, "Bob's")
    await directory.set_members(
        bob, other, [await directory.add_contact(bob, "Cy", "33612345670")], True
    )
    return app


async def call(app: App, url: str, data: dict[str, str] | None = None) -> str:
    async with asgi_client(app) as client:
        if data is None:
            response = await client.get(url)
        else:
            response = await client.post(url, data=data)
    assert response.status_code == 200
    return response.text


async def recipients(app: App, answer: str) -> list[str]:
    msgid, label = answer.split("|")
    assert label == "Message envoyé", answer
    account = await app.gateway.store.find_account("alice")
    assert account is not None
    states = await app.gateway.store.message_states(account.id, int(msgid), None)
    return sorted(s.dest for s in states)


async def test_envoi_to_a_group_sends_to_its_members(app_factory: BuildApp) -> None:
    """`groupe=` alone sends to the group's members and charges one credit each."""
    app = await setup(app_factory)
    answer = await call(app, BASE + "&groupe=Clients%20VIP")
    assert await recipients(app, answer) == ["33612345678", "33612345679"]
    assert await call(app, BALANCE) == "98 SMS"


async def test_group_and_dest_are_merged_without_duplicates(app_factory: BuildApp) -> None:
    """With `dest` too, the lists are joined; a number in both is sent and charged once."""
    app = await setup(app_factory)
    answer = await call(app, BASE + "&dest=33612345678,447700900123&groupe=Clients+VIP")
    assert await recipients(app, answer) == ["33612345678", "33612345679", "447700900123"]
    assert await call(app, BALANCE) == "97 SMS"


async def test_unknown_or_other_accounts_group_is_17(app_factory: BuildApp) -> None:
    """A group the account does not have (another account's too) is 17; nothing charged."""
    app = await setup(app_factory)
    for name in ("nope", "Bob%27s", "clients%20vip"):
        answer = await call(app, BASE + "&dest=33612345678&groupe=" + name)
        assert answer == "17|Paramètre invalide : groupe"
    assert await call(app, BALANCE) == "100 SMS"


async def test_empty_group_without_dest_is_03(app_factory: BuildApp) -> None:
    """An empty group and no dest is answered like an empty dest."""
    app = await setup(app_factory)
    answer = await call(app, BASE + "&groupe=Empty")
    assert answer == "03|Le numéro du destinataire n'est pas renseigné"
    assert await call(app, BASE + "&groupe=") == "03|Le numéro du destinataire n'est pas renseigné"


async def test_groupe_by_post_and_path_style(app_factory: BuildApp) -> None:
    """`groupe` is read from a POST body and from path-style segments like any parameter."""
    app = await setup(app_factory)
    form = {
        "action": "envoi",
        "login": "alice",
        "apipasse": PASSWORD,
        "origine": "Shop",
        "msg": "Promo",
        "groupe": "Clients VIP",
    }
    posted = await call(app, "/client/api", form)
    assert await recipients(app, posted) == ["33612345678", "33612345679"]
    path = (
        "/client/api/action/envoi/login/alice/apipasse/"
        + PASSWORD
        + "/origine/Shop/msg/Hi/groupe/Clients%20VIP"
    )
    assert await recipients(app, await call(app, path)) == ["33612345678", "33612345679"]
