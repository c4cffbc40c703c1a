"""Every example URL of the manual (v1.3, section 4), sent as a client would send it.

Spaces of the manual's URLs are sent as ``%20``, non-ASCII letters as UTF-8 percent
escapes (what a browser does), everything else exactly as printed. Placeholders of
the generic URLs (``Identifiant``, ``06XXXXXXXX``...) are replaced by the values of
the manual's own account, Michelle / Michelle12345.
"""

from __future__ import annotations

from typing import Any

MANUAL_MSG = "Salut c'est michelle ,comment ca ca?"

EXAMPLE_1 = (
    "/client/api/?action=envoi&login=Michelle&apipasse=Michelle12345"
    "&msg=Salut+c'est+michelle+,comment+ca+ca?&dest=3363123456&origine=Michelle"
    "&sendertype=5&type=0&callback=0"
)
EXAMPLE_2 = (
    "/client/api/?action=envoi&login=Michelle&apipasse=Michelle12345"
    "&msg=Salut+c'est+michelle+,comment+ca+ca?"
    "&dest=3363123456,%203363954785,%203363741258,%203363325874&origine=Michelle%20"
    "&sendertype=5&type=1&callback=1"
)
EMPTY_DEST = (
    "/client/api/?action=envoi&login=Michelle&apipasse=Michelle12345"
    "&msg=Salut+c'est+michelle+,comment+ca+ca?&dest=&origine=Michelle"
    "&sendertype=5&type=0&callback=0"
)
WRONG_PASSWORD = (
    "/client/api/?action=envoi&login=Michelle&apipasse=Michelle12"
    "&msg=Salut+c'est+Michelle+,comment+%C3%A7a+va?&dest=%203363123456&origine=Michelle%20"
    "&sendertype=5&type=0&callback=0"
)
GENERIC_QUERY = (
    "/client/api?action=envoi&login=Michelle&apipasse=Michelle12345"
    "&msg=votre+message&dest=33612345678&origine=Vous&sendertype=5&type=0&callback=0"
)
GENERIC_PATH = (
    "/client/api/action/envoi/login/Michelle/apipasse/Michelle12345"
    "/msg/votre+message/dest/33612345678/origine/Vous/sendertype/5/type/0/callback/0"
)
STATUT = "/client/api/?action=statut&msgid={msgid}%20&login=Michelle&apipasse=Michelle12345"
SOLDE = "/client/api/?action=solde&login=Michelle%20&apipasse=Michelle12345"
STATUS_ANSWERS = ("0|SMS en cours d'envoi", "1|SMS reçu par le destinataire")


def stored(gateway: Any, msgid: int) -> dict[str, Any]:
    """The message `msgid` as the database holds it, with its recipients and debits."""
    with gateway.db() as conn:
        row = conn.execute(
            "SELECT a.login, m.sender, m.sender_type, m.text, m.flash, m.callback, m.cost"
            " FROM messages m JOIN accounts a ON a.id = m.account_id WHERE m.msgid = ?",
            (msgid,),
        ).fetchone()
        assert row is not None, f"msgid {msgid} not stored"
        dests = [
            r[0]
            for r in conn.execute(
                "SELECT dest FROM recipients WHERE msgid = ? ORDER BY id", (msgid,)
            ).fetchall()
        ]
        debits = [
            r[0]
            for r in conn.execute(
                "SELECT delta FROM ledger WHERE msgid = ? AND kind = 'debit'", (msgid,)
            ).fetchall()
        ]
    keys = ("login", "sender", "sender_type", "text", "flash", "callback", "cost")
    return {**dict(zip(keys, row, strict=True)), "dests": dests, "debits": debits}


def send_ok(gateway: Any, http: Any, check: Any, target: str) -> int:
    """GET `target`, assert the success answer, return its msgid."""
    text = check.text(gateway.get(http, target))
    assert check.SENT.fullmatch(text), text
    return int(text.split("|")[0])


def test_example_1_single_recipient_is_sent(gateway: Any, http: Any, check: Any) -> None:
    """Example 1 answers `<9 digits>|Message envoyé`, stores the message and charges 1 SMS."""
    before = gateway.solde(http, *check.MICHELLE)
    msgid = send_ok(gateway, http, check, EXAMPLE_1)
    assert gateway.solde(http, *check.MICHELLE) == before - 1
    message = stored(gateway, msgid)
    assert message == {
        "login": "Michelle",
        "sender": "Michelle",
        "sender_type": 5,
        "text": MANUAL_MSG,
        "flash": 0,
        "callback": 0,
        "cost": 1,
        "dests": ["3363123456"],
        "debits": [-1],
    }


def test_example_2_flash_to_four_recipients_with_callback(
    gateway: Any, http: Any, check: Any
) -> None:
    """Example 2 (blanks after the commas and after `Michelle`) sends one flash SMS to 4 numbers."""
    before = gateway.solde(http, *check.MICHELLE)
    msgid = send_ok(gateway, http, check, EXAMPLE_2)
    assert gateway.solde(http, *check.MICHELLE) == before - 4
    message = stored(gateway, msgid)
    assert message["dests"] == ["3363123456", "3363954785", "3363741258", "3363325874"]
    assert message["sender"] == "Michelle"
    assert (message["flash"], message["callback"], message["cost"]) == (1, 1, 4)
    assert message["debits"] == [-4]
    assert message["text"] == MANUAL_MSG


def test_response_example_empty_dest_answers_03(gateway: Any, http: Any, check: Any) -> None:
    """The manual's empty `dest=` example answers 03 verbatim and charges nothing."""
    before = gateway.solde(http, *check.MICHELLE)
    text = check.text(gateway.get(http, EMPTY_DEST))
    assert text == "03|Le numéro du destinataire n'est pas renseigné"
    assert gateway.solde(http, *check.MICHELLE) == before


def test_response_example_wrong_password_answers_01(gateway: Any, http: Any, check: Any) -> None:
    """The manual's wrong-password example (`ça`, `dest= 3363…`) answers 01 and charges nothing."""
    before = gateway.solde(http, *check.MICHELLE)
    text = check.text(gateway.get(http, WRONG_PASSWORD))
    assert text == "01|Login, mot de passe non valide"
    assert gateway.solde(http, *check.MICHELLE) == before


def test_base_url_without_trailing_slash(gateway: Any, http: Any, check: Any) -> None:
    """The generic URL of 4.2.1 on `/client/api?...` (no slash) sends `votre message`."""
    msgid = send_ok(gateway, http, check, GENERIC_QUERY)
    message = stored(gateway, msgid)
    assert (message["text"], message["sender"], message["dests"]) == (
        "votre message",
        "Vous",
        ["33612345678"],
    )


def test_path_style_form(gateway: Any, http: Any, check: Any) -> None:
    """The NOTA path-style URL `/client/api/action/envoi/login/...` sends like the query form."""
    before = gateway.solde(http, *check.MICHELLE)
    msgid = send_ok(gateway, http, check, GENERIC_PATH)
    message = stored(gateway, msgid)
    assert (message["text"], message["sender"], message["dests"], message["debits"]) == (
        "votre message",
        "Vous",
        ["33612345678"],
        [-1],
    )
    assert gateway.solde(http, *check.MICHELLE) == before - 1


def test_statut_with_trailing_blank_after_msgid(gateway: Any, http: Any, check: Any) -> None:
    """`action=statut&msgid=<id> &login=...` (the manual's blank) answers the status line."""
    msgid = send_ok(gateway, http, check, EXAMPLE_1)
    text = check.text(gateway.get(http, STATUT.format(msgid=msgid)))
    assert text in STATUS_ANSWERS


def test_statut_of_the_literal_placeholder_is_invalid(gateway: Any, http: Any, check: Any) -> None:
    """The statut URL with its placeholder `msgid=Valeur ` kept answers 10 (invalid msgid)."""
    text = check.text(gateway.get(http, STATUT.format(msgid="Valeur")))
    assert text == "10|Le msgid est invalide"


def test_solde_with_trailing_blank_after_login(gateway: Any, http: Any, check: Any) -> None:
    """`action=solde&login=Michelle &apipasse=...` answers `<n> SMS`, n = stored credits."""
    text = check.text(gateway.get(http, SOLDE))
    assert check.SOLDE.fullmatch(text), text
    with gateway.db() as conn:
        (credits,) = conn.execute(
            "SELECT credits FROM accounts WHERE login = 'Michelle'"
        ).fetchone()
    assert text == f"{credits} SMS"
