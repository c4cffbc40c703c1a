"""The manual's PHP example (annex 1): a form POST to /client/api/index.php with aliases.

The script sets ``u, apipasse, dm, src, msg, source, dr, dc, action`` and ``msgid``
(the unset ones from ``$_REQUEST`` are empty), joins ``key=urlencode(value)`` with
``&`` and posts the string with curl (``application/x-www-form-urlencoded``). The
manual's listing loops over ``$param`` where it filled ``$params``; the obvious intent
(every field) is what is sent here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

FIELDS = ("u", "apipasse", "dm", "src", "msg", "source", "dr", "dc", "action", "msgid")
FORM = {"content-type": "application/x-www-form-urlencoded"}
STATUS_ANSWERS = ("0|SMS en cours d'envoi", "1|SMS reçu par le destinataire")

PHP_SCRIPT = r"""<?php
# www.Connect-Mobile.com - Scripts Client Envoi SMS - Version 1.2 (manual v1.3, annex 1)
# Adapted for the test: URL, login, password and $_REQUEST from the environment, keys
# quoted (PHP 8), and the loop runs over $params (the listing says $param).
error_reporting(E_ALL & ~E_DEPRECATED);
$_REQUEST = json_decode(getenv('PASSERELLE_REQUEST'), true);
// passerelle Connect-Mobile.com
$url = getenv('PASSERELLE_URL');
// ===== Champs Obligatoires =====//
$request = "";
$params['u'] = getenv('PASSERELLE_LOGIN'); // Login
$params['apipasse'] = getenv('PASSERELLE_APIPASSE'); // API Mot de passe
$params['dm'] = $_REQUEST['dm'] ?? ''; // Liste des destinataires
$params['src'] = $_REQUEST['src'] ?? ''; // Expéditeur des sms
$params['msg'] = $_REQUEST['msg'] ?? ''; // Message
$params['source'] = $_REQUEST['source'] ?? ''; // senderType
$params['dr'] = $_REQUEST['dr'] ?? ''; // Callback
$params['dc'] = $_REQUEST['dc'] ?? ''; // Type
$params['action'] = $_REQUEST['action'] ?? ''; // Votre action
// Consultation de statut d'un SMS
$params['msgid'] = $_REQUEST['msgid'] ?? ''; // message ID
// ===== Champs Optionels =====//
foreach($params as $key=>$val)
{
$request.= $key."=".urlencode($val); // valeurs encodees URL
$request.= "&"; // ajout du signe append (&) apres chaque valeur
}
$request = substr($request, 0, strlen($request)-1); // supprime le dernier (&)
# fonction d'envoi SMS
$ch = curl_init();
curl_setopt($ch, CURLOPT_URL, $url);
curl_setopt($ch, CURLOPT_RETURNTRANSFER,1);
curl_setopt($ch, CURLOPT_POST, 1);
curl_setopt($ch, CURLOPT_POSTFIELDS, $request);
$response = curl_exec($ch);
curl_close($ch);
// Affichage de la reponse du serveur connect-mobile.com
print_r($response);
?>"""


def php_urlencode(value: str, encoding: str = "utf-8") -> str:
    """PHP's urlencode(): letters, digits and `-_.` kept, space as `+`, the rest %XX."""
    return quote_plus(value.encode(encoding), safe="").replace("~", "%7E")


def php_body(login: str, password: str, request: dict[str, str], encoding: str = "utf-8") -> bytes:
    """The string the PHP script posts: every field, unset ones empty, in the script's order."""
    values = {"u": login, "apipasse": password, **request}
    pairs = [f"{key}={php_urlencode(values.get(key, ''), encoding)}" for key in FIELDS]
    return "&".join(pairs).encode("ascii")


def post(gateway: Any, http: Any, check: Any, body: bytes) -> str:
    """POST a form body to /client/api/index.php; the checked answer text."""
    return check.text(http.post("/client/api/index.php", content=body, headers=FORM))


def test_php_body_matches_php_urlencode() -> None:
    """The body builder encodes like PHP's urlencode (space +, `'` %27, `,` %2C, `é` %C3%A9)."""
    body = php_body("Michelle", "Michelle12345", {"msg": "Salut c'est é,~", "action": "envoi"})
    assert body == (
        b"u=Michelle&apipasse=Michelle12345&dm=&src=&msg=Salut+c%27est+%C3%A9%2C%7E"
        b"&source=&dr=&dc=&action=envoi&msgid="
    )


def test_php_form_flow_envoi_statut_solde(gateway: Any, http: Any, check: Any) -> None:
    """The PHP form posts envoi, then statut and solde, with aliases and empty fields."""
    login, password = check.MICHELLE
    before = gateway.solde(http, login, password)
    request = {
        "dm": "33612345678,33698765432",
        "src": "Michelle",
        "msg": "Rendez-vous à 10h ! Prix: 5€",
        "action": "envoi",
    }
    text = post(gateway, http, check, php_body(login, password, request))
    assert check.SENT.fullmatch(text), text
    msgid = int(text.split("|")[0])
    with gateway.db() as conn:
        row = conn.execute(
            "SELECT sender, sender_type, text, flash, callback, cost FROM messages WHERE msgid = ?",
            (msgid,),
        ).fetchone()
        dests = [
            r[0]
            for r in conn.execute(
                "SELECT dest FROM recipients WHERE msgid = ? ORDER BY id", (msgid,)
            )
        ]
    # empty source/dr/dc are the defaults: text sender, normal SMS, no callback
    assert row == ("Michelle", 5, "Rendez-vous à 10h ! Prix: 5?", 0, 0, 2)
    assert dests == ["33612345678", "33698765432"]

    statut = post(
        gateway, http, check, php_body(login, password, {"action": "statut", "msgid": str(msgid)})
    )
    assert statut in STATUS_ANSWERS

    solde = post(gateway, http, check, php_body(login, password, {"action": "solde"}))
    assert solde == f"{before - 2} SMS"


def test_php_form_from_a_latin1_script(gateway: Any, http: Any, check: Any) -> None:
    """A PHP script saved in ISO-8859-1 posts `%E0` for `à`: it is read as `à` (Windows-1252)."""
    login, password = check.MICHELLE
    request = {"dm": "33612345678", "src": "Michelle", "msg": "Déjà là", "action": "envoi"}
    body = php_body(login, password, request, encoding="latin-1")
    assert b"msg=D%E9j%E0+l%E0" in body
    text = post(gateway, http, check, body)
    assert check.SENT.fullmatch(text), text
    with gateway.db() as conn:
        (stored,) = conn.execute(
            "SELECT text FROM messages WHERE msgid = ?", (int(text.split("|")[0]),)
        ).fetchone()
    assert stored == "Déjà là"


def test_php_form_without_login_answers_01(gateway: Any, http: Any, check: Any) -> None:
    """The PHP form with an empty `u` answers 01 through the alias path."""
    body = php_body("", "Michelle12345", {"action": "solde"})
    assert post(gateway, http, check, body) == "01|Login, mot de passe non valide"


def run_php_script(
    gateway: Any, folder: Path, login: str, password: str, request: dict[str, str]
) -> str:
    """Run the manual's script with php-cli; its output (the server's answer)."""
    script = folder / "envoi.php"
    script.write_text(PHP_SCRIPT, encoding="utf-8")
    env = {
        **os.environ,
        "PASSERELLE_URL": f"{gateway.base_url}/client/api/index.php",
        "PASSERELLE_LOGIN": login,
        "PASSERELLE_APIPASSE": password,
        "PASSERELLE_REQUEST": json.dumps(request),
    }
    done = subprocess.run(
        ["php", str(script)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def run_python_equivalent(gateway: Any, login: str, password: str, request: dict[str, str]) -> str:
    """What the script does, with urllib (a client other than httpx): POST the string."""
    body = php_body(login, password, request)
    req = urllib.request.Request(f"{gateway.base_url}/client/api/index.php", data=body)
    with urllib.request.urlopen(req, timeout=30) as response:
        assert response.status == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        payload: bytes = response.read()
    return payload.decode("utf-8")


def test_php_script_of_the_manual(gateway: Any, http: Any, check: Any, tmp_path: Path) -> None:
    """The manual's PHP script (php-cli if installed, else its Python twin) sends, polls, reads."""
    login, password = check.MICHELLE

    def run(request: dict[str, str]) -> str:
        if shutil.which("php"):
            return run_php_script(gateway, tmp_path, login, password, request)
        return run_python_equivalent(gateway, login, password, request)

    before = gateway.solde(http, login, password)
    sent = run(
        {"dm": "33612345678", "src": "Michelle", "msg": "Salut c'est michelle", "action": "envoi"}
    )
    assert check.SENT.fullmatch(sent), sent
    msgid = sent.split("|")[0]
    assert run({"action": "statut", "msgid": msgid}) in STATUS_ANSWERS
    assert run({"action": "solde"}) == f"{before - 1} SMS"
