"""The legacy API end to end in-process (ASGI) over the in-memory twin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from passerelle.api.app import App
from passerelle.service import AccountUpdate
from passerelle.store.memory import MemoryStore
from tests.support import PASSWORD, asgi_client

BuildApp = Callable[..., Awaitable[App]]
SEND = "/client/api?action=envoi&login=alice&apipasse=" + PASSWORD + "&origine=Shop"


async def setup(build: BuildApp, credits: int = 100, **settings: object) -> App:
    app = await build("memory", **settings)
    await app.gateway.create_account("alice", "a@example.com", PASSWORD, credits)
    await app.gateway.create_account("bob", "b@example.com", PASSWORD, credits)
    return app


async def get(app: App, url: str) -> str:
    async with asgi_client(app) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    return response.text


async def test_send_answers_msgid_and_charges(app_factory: BuildApp) -> None:
    """A valid envoi answers `<9 digits>|Message envoyé` and debits one credit."""
    app = await setup(app_factory)
    body = await get(app, SEND + "&dest=33612345678&msg=Bonjour")
    msgid, label = body.split("|")
    assert len(msgid) == 9 and msgid.isdigit() and label == "Message envoyé"
    assert await get(app, "/client/api?action=solde&login=alice&apipasse=" + PASSWORD) == "99 SMS"


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("action=nope", "11|Action inconnue"),
        ("", "11|Action inconnue"),
        ("action=Envoi", "11|Action inconnue"),
        ("action=solde&login=alice&apipasse=wrong", "01|Login, mot de passe non valide"),
        ("action=solde&login=alice", "01|Login, mot de passe non valide"),
        ("action=solde&login=nobody&apipasse=x", "01|Login, mot de passe non valide"),
        ("action=solde&Login=alice&apipasse=" + PASSWORD, "01|Login, mot de passe non valide"),
        ("action=statut&login=alice&apipasse=" + PASSWORD, "09|Le msgid n'est pas renseigne"),
        ("action=statut&msgid=12x&login=alice&apipasse=" + PASSWORD, "10|Le msgid est invalide"),
        (
            "action=statut&msgid=123456789&login=alice&apipasse=" + PASSWORD,
            "10|Le msgid est invalide",
        ),
    ],
)
async def test_codes_before_action(app_factory: BuildApp, query: str, answer: str) -> None:
    """Action, credentials and msgid checks answer their codes."""
    app = await setup(app_factory)
    assert await get(app, "/client/api?" + query) == answer


@pytest.mark.parametrize(
    ("extra", "answer"),
    [
        ("&msg=x", "03|Le numéro du destinataire n'est pas renseigné"),
        ("&msg=x&dest=33612345678&origine=", "04|L'expéditeur n'est pas renseigné"),
        ("&msg=x&dest=336abc45678", "05|Le numéro du destinataire est invalide"),
        ("&msg=x&dest=336123", "06|Le numéro du destinataire est invalide"),
        ("&msg=x&dest=0612345678", "07|Préfixe international invalide"),
        ("&dest=33612345678", "08|Le message n'est pas renseigné"),
        ("&dest=33612345678&msg=" + "x" * 161, "12|Message trop long"),
        ("&dest=33612345678&msg=x&origine=ABCDEFGHIJKLMNOP", "13|L'expéditeur est invalide"),
        ("&dest=33612345678&msg=x&type=3", "17|Paramètre invalide : type"),
        ("&dest=33612345678&msg=x&sendertype=9", "17|Paramètre invalide : sendertype"),
        ("&dest=33612345678&msg=x&callback=2", "17|Paramètre invalide : callback"),
    ],
)
async def test_envoi_codes(app_factory: BuildApp, extra: str, answer: str) -> None:
    """Each envoi refusal answers its code and charges nothing."""
    app = await setup(app_factory)
    assert await get(app, SEND + extra) == answer
    assert await get(app, "/client/api?action=solde&login=alice&apipasse=" + PASSWORD) == "100 SMS"


async def test_too_many_recipients_by_get(app_factory: BuildApp) -> None:
    """More distinct recipients than the GET limit answers 15; POST has its own limit."""
    app = await setup(app_factory, max_recipients_get=2, max_recipients_post=3)
    dest = ",".join(f"3361234567{i}" for i in range(3))
    assert await get(app, SEND + "&msg=x&dest=" + dest) == "15|Trop de destinataires"
    async with asgi_client(app) as client:
        response = await client.post(SEND, data={"msg": "x", "dest": dest})
    assert response.text.endswith("|Message envoyé")


async def test_no_credit_is_02_and_stores_nothing(app_factory: BuildApp) -> None:
    """A request costing more than the balance answers 02 and nothing is charged."""
    app = await setup(app_factory, credits=1)
    body = await get(app, SEND + "&msg=x&dest=33612345678,33612345679")
    assert body == "02|Vous n'avez pas assez de crédit"
    account = await app.process.store.find_account("alice")
    assert account is not None
    assert await app.process.store.count_messages(account.id) == 0
    assert await app.process.store.ledger_sum(account.id) == 1


async def test_duplicates_charged_once(app_factory: BuildApp) -> None:
    """The same number three times is sent and charged once."""
    app = await setup(app_factory)
    await get(app, SEND + "&msg=x&dest=33612345678,+33612345678,%2B33612345678")
    assert await get(app, "/client/api?action=solde&login=alice&apipasse=" + PASSWORD) == "99 SMS"


@pytest.mark.parametrize(
    "change",
    [
        AccountUpdate(activated=False),
        AccountUpdate(gateway_enabled=False),
        AccountUpdate(suspended=True),
    ],
    ids=["not-activated", "gateway-off", "suspended"],
)
async def test_blocked_account_is_14(app_factory: BuildApp, change: AccountUpdate) -> None:
    """Right credentials on a not activated, gateway-off or suspended account answer 14."""
    app = await setup(app_factory)
    await app.gateway.update_account("alice", change)
    assert await get(app, SEND + "&msg=x&dest=33612345678") == "14|Option Gateway SMS non activée"
    bad = "/client/api?action=solde&login=alice&apipasse=wrong"
    assert await get(app, bad) == "01|Login, mot de passe non valide"


async def test_statut_of_another_account_is_10(app_factory: BuildApp) -> None:
    """Bob asking for Alice's msgid gets 10, like an unknown one; Alice gets 0."""
    app = await setup(app_factory)
    msgid = (await get(app, SEND + "&msg=x&dest=33612345678")).split("|")[0]
    bob = f"/client/api?action=statut&msgid={msgid}&login=bob&apipasse={PASSWORD}"
    alice = f"/client/api?action=statut&msgid={msgid}%20&login=alice&apipasse={PASSWORD}"
    assert await get(app, bob) == "10|Le msgid est invalide"
    assert await get(app, alice) == "0|SMS en cours d'envoi"
    assert await get(app, alice + "&dest=%2B33612345678") == "0|SMS en cours d'envoi"
    assert await get(app, alice + "&dest=33699999999") == "10|Le msgid est invalide"


async def test_post_overrides_query_and_path(app_factory: BuildApp) -> None:
    """Body beats query beats path for the same parameter."""
    app = await setup(app_factory)
    url = "/client/api/msg/path/dest/33612345678?action=envoi&login=alice&msg=query&origine=Q"
    async with asgi_client(app) as client:
        response = await client.post(url, data={"apipasse": PASSWORD, "msg": "body"})
    msgid = int(response.text.split("|")[0])
    account = await app.process.store.find_account("alice")
    assert account is not None
    [message] = await app.process.store.recent_messages(account.id)
    assert (message.msgid, message.text, message.sender) == (msgid, "body", "Q")


async def test_path_style_with_encoded_slash(app_factory: BuildApp) -> None:
    """Path style works, and %2F stays inside the message."""
    app = await setup(app_factory)
    url = (
        f"/client/api/action/envoi/login/alice/apipasse/{PASSWORD}/msg/1%2F2+ok"
        "/dest/33612345678/origine/Shop"
    )
    assert (await get(app, url)).endswith("|Message envoyé")
    account = await app.process.store.find_account("alice")
    assert account is not None
    assert (await app.process.store.recent_messages(account.id))[0].text == "1/2 ok"


async def test_latin1_and_utf8_message(app_factory: BuildApp) -> None:
    """%E9 and %C3%A9 are both stored as é; ç becomes '?'."""
    app = await setup(app_factory)
    await get(app, SEND + "&dest=33612345678&msg=%E9t%E9")
    await get(app, SEND + "&dest=33612345678&msg=%C3%A9t%C3%A9+%C3%A7a")
    account = await app.process.store.find_account("alice")
    assert account is not None
    texts = sorted(m.text for m in await app.process.store.recent_messages(account.id))
    assert texts == ["été", "été ?a"]


async def test_failed_logins_lock_with_16(app_factory: BuildApp) -> None:
    """After the allowed failures, even the right password answers 16 for that login."""
    app = await setup(app_factory, login_failures_per_login=3, login_failures_per_address=100)
    for _ in range(3):
        assert (await get(app, "/client/api?action=solde&login=alice&apipasse=bad"))[:2] == "01"
    good = "/client/api?action=solde&login=alice&apipasse=" + PASSWORD
    assert await get(app, good) == "16|Trop de requêtes"
    assert await get(app, "/client/api?action=solde&login=bob&apipasse=" + PASSWORD) == "100 SMS"


async def test_failed_logins_per_address(app_factory: BuildApp) -> None:
    """Failures spread over logins from one address also lock that address."""
    app = await setup(app_factory, login_failures_per_login=100, login_failures_per_address=2)
    for login in ("x1", "x2"):
        await get(app, f"/client/api?action=solde&login={login}&apipasse=bad")
    good = "/client/api?action=solde&login=bob&apipasse=" + PASSWORD
    assert await get(app, good) == "16|Trop de requêtes"


async def test_account_rate_limit(app_factory: BuildApp) -> None:
    """An account limited to 2 requests/s gets 16 on the third in a burst."""
    app = await setup(app_factory)
    await app.gateway.update_account("alice", AccountUpdate(rate_limit=2.0))
    url = "/client/api?action=solde&login=alice&apipasse=" + PASSWORD
    answers = [await get(app, url) for _ in range(3)]
    assert answers == ["100 SMS", "100 SMS", "16|Trop de requêtes"]


async def test_unknown_action_precedes_rate_limit(app_factory: BuildApp) -> None:
    """11 is answered before 16 and 01."""
    app = await setup(app_factory, login_failures_per_address=1)
    await get(app, "/client/api?action=solde&login=alice&apipasse=bad")
    assert await get(app, "/client/api?action=what") == "11|Action inconnue"
    assert await get(app, "/client/api?action=solde") == "16|Trop de requêtes"


async def test_internal_error_is_99_without_trace(app_factory: BuildApp) -> None:
    """A fault of ours answers 99 with a reference, never a trace or a 500."""
    app = await setup(app_factory)

    async def broken(*_args: object) -> int:
        raise RuntimeError("disk on fire")

    app.process.store.balance = broken  # type: ignore[method-assign]
    body = await get(app, "/client/api?action=solde&login=alice&apipasse=" + PASSWORD)
    assert body.startswith("99|Erreur interne (ref ")
    assert "disk" not in body and "Traceback" not in body


async def test_other_paths_and_methods(app_factory: BuildApp) -> None:
    """index.php and trailing slash are served; PUT is 405; HEAD has no body."""
    app = await setup(app_factory)
    solde = "?action=solde&login=alice&apipasse=" + PASSWORD
    async with asgi_client(app) as client:
        for path in ("/client/api/", "/client/api/index.php"):
            assert (await client.get(path + solde)).text == "100 SMS"
        assert (await client.put("/client/api" + solde)).status_code == 405
        head = await client.head("/client/api" + solde)
        assert head.status_code == 200
        assert (await client.get("/client/apix")).status_code == 404
        assert (await client.get("/healthz")).text == "ok"


async def test_body_too_large_is_15(app_factory: BuildApp) -> None:
    """A POST body over the size limit answers 15 without reading it all."""
    app = await setup(app_factory, max_body_bytes=2048)
    async with asgi_client(app) as client:
        response = await client.post(SEND, content=b"dest=" + b"3" * 5000)
    assert response.text == "15|Trop de destinataires"


async def test_body_without_content_type_is_form(app_factory: BuildApp) -> None:
    """A body with no or another content type is read as form-urlencoded."""
    app = await setup(app_factory)
    async with asgi_client(app) as client:
        response = await client.post(
            SEND, content=b"dest=33612345678&msg=hi", headers={"content-type": "text/plain"}
        )
    assert response.text.endswith("|Message envoyé")


async def test_a_login_no_account_can_have_is_01_and_counts_nothing(app_factory: BuildApp) -> None:
    """A 1 MB login (or one with characters no login has) is 01 with no verification and
    no counter row: the failed-login table cannot be grown with huge keys."""
    app = await setup(app_factory)
    async with asgi_client(app) as client:
        for login in ("L" * 1_000_000, "a b", "al\u00efce"):
            response = await client.post(
                "/client/api", content=f"action=solde&login={login}&apipasse=x".encode()
            )
            assert response.text == "01|Login, mot de passe non valide"
    store = app.process.store
    assert isinstance(store, MemoryStore)
    assert store.login_counters == {}
    assert app.gateway.verifications == 0
