"""Logs, health and metrics of a running gateway (README).

The server of this module logs at `info` (the access log is an info event) to a file,
and every request carries an API password somewhere: the password must never reach
the log, its place must show ``***``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

LOGIN = "Observed"
PASSWORD = "Zq7-Secret_Pw"
SECRET = "Secret_Pw"  # a part of every password of this module: must never be logged
# accounts of the two redaction edge cases, with passwords of their own (no SECRET in
# them), so that a leak there does not fail the other tests
SEMI_LOGIN, SEMI_PASSWORD = "Semicolon", "Semi;Colon-Hidden"
ENCODED_LOGIN, ENCODED_PASSWORD = "Encoded", "Encoded-Hidden-Pw"
ENVOI = "action=envoi&msg=Bonjour&dest=33612345678&origine=Obs"


@pytest.fixture(scope="module")
def observed(servers: Any) -> Any:
    """A gateway logging at info level, with three accounts."""
    server = servers.new("observed", log_level="info")
    server.create_account(LOGIN, PASSWORD, credits=100)
    server.create_account(SEMI_LOGIN, SEMI_PASSWORD, credits=100)
    server.create_account(ENCODED_LOGIN, ENCODED_PASSWORD, credits=100)
    return server.start()


@pytest.fixture(scope="module")
def client(observed: Any) -> Iterator[httpx.Client]:
    with observed.client() as http:
        yield http


def access_log(server: Any, count: int) -> list[dict[str, Any]]:
    """The access-log events, waiting (bounded) until at least `count` are written."""
    deadline = time.monotonic() + 10.0
    while True:
        events = [json.loads(line) for line in server.log_text().splitlines() if line.strip()]
        requests = [e for e in events if e.get("logger") == "passerelle.access"]
        if len(requests) >= count or time.monotonic() > deadline:
            return requests
        time.sleep(0.05)


def fresh_log(server: Any) -> int:
    """The number of access-log events so far (to find the next ones)."""
    return len(access_log(server, 0))


def send_and_log(server: Any, client: httpx.Client, check: Any, target: str) -> tuple[str, str]:
    """GET `target`; the answer and the logged target of that request."""
    seen = fresh_log(server)
    text = check.text(server.get(client, target))
    events = access_log(server, seen + 1)
    assert len(events) == seen + 1, "no access-log event for the request"
    return text, events[-1]["target"]


def test_log_lines_are_json_objects(observed: Any, client: httpx.Client, check: Any) -> None:
    """Every line the server writes to stderr is one JSON object with ts, level, logger, msg."""
    check.text(observed.get(client, f"/client/api/?action=solde&login={LOGIN}&apipasse={PASSWORD}"))
    access_log(observed, 1)
    lines = [line for line in observed.log_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        event = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= set(event), line


@pytest.mark.parametrize(
    ("target", "redacted"),
    [
        (f"/client/api/?action=solde&login={LOGIN}&apipasse={PASSWORD}", "apipasse=***"),
        (f"/client/api/?{ENVOI}&login={LOGIN}&apipasse={PASSWORD}", "apipasse=***"),
        (f"/client/api/?action=solde&login={LOGIN}&apipass={PASSWORD}", "apipass=***"),
        (f"/client/api/?action=solde&login={LOGIN}&apipasse={PASSWORD}-wrong", "apipasse=***"),
        (f"/client/api/?action=solde&login={LOGIN}&apipasse=Zq7%2DSecret_Pw", "apipasse=***"),
        (f"/client/api/action/solde/login/{LOGIN}/apipasse/{PASSWORD}", "/apipasse/***"),
        (f"/client/api/action/solde/login/{LOGIN}/apipass/{PASSWORD}", "/apipass/***"),
        (f"/client/api/index.php/action/solde/login/{LOGIN}/apipasse/{PASSWORD}", "/apipasse/***"),
        (f"/client/api/action/solde/apipasse/{PASSWORD}?login={LOGIN}", "/apipasse/***"),
    ],
    ids=[
        "query",
        "query-envoi",
        "query-alias",
        "query-wrong-password",
        "query-percent-encoded",
        "path",
        "path-alias",
        "path-index-php",
        "path-and-query",
    ],
)
def test_access_log_redacts_apipasse(
    observed: Any, client: httpx.Client, check: Any, target: str, redacted: str
) -> None:
    """The access log shows the request with `***` in place of the API password."""
    text, logged = send_and_log(observed, client, check, target)
    check.line(text)
    assert SECRET not in logged, logged
    assert redacted in logged, logged
    assert SECRET not in observed.log_text()


def test_password_in_post_body_is_not_logged(
    observed: Any, client: httpx.Client, check: Any
) -> None:
    """A password sent in a form body (PHP style) never reaches the log."""
    body = f"u={LOGIN}&apipasse={PASSWORD}&action=solde".encode()
    seen = fresh_log(observed)
    response = client.post("/client/api/index.php?apipasse=" + PASSWORD, content=body)
    check.line(check.text(response))
    events = access_log(observed, seen + 1)
    assert "apipasse=***" in events[-1]["target"]
    assert SECRET not in observed.log_text()


def test_password_with_a_semicolon_is_redacted_whole(
    observed: Any, client: httpx.Client, check: Any
) -> None:
    """A password holding a raw `;` (valid in a query value) is redacted whole, not cut at `;`."""
    target = f"/client/api/?action=solde&login={SEMI_LOGIN}&apipasse={SEMI_PASSWORD}"
    text, logged = send_and_log(observed, client, check, target)
    assert check.SOLDE.fullmatch(text), text  # the password is accepted as sent
    assert "apipasse=***" in logged
    assert "Colon-Hidden" not in logged, logged
    assert "Colon-Hidden" not in observed.log_text()


def test_password_under_a_percent_encoded_name_is_redacted(
    observed: Any, client: httpx.Client, check: Any
) -> None:
    """`api%70asse=` is read as `apipasse` (names are percent-decoded), so it is redacted too."""
    target = f"/client/api/?action=solde&login={ENCODED_LOGIN}&api%70asse={ENCODED_PASSWORD}"
    text, logged = send_and_log(observed, client, check, target)
    assert check.SOLDE.fullmatch(text), text  # the server did use it as the password
    assert "Encoded-Hidden" not in logged, logged
    assert "Encoded-Hidden" not in observed.log_text()


def test_healthz_answers_ok(observed: Any, client: httpx.Client) -> None:
    """`/healthz` answers 200 `ok`."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


def test_metrics_count_legacy_requests(observed: Any, client: httpx.Client, check: Any) -> None:
    """`/metrics` counts a successful envoi as `passerelle_legacy_requests_total{envoi,ok}`."""
    sent = check.text(
        observed.get(client, f"/client/api/?{ENVOI}&login={LOGIN}&apipasse={PASSWORD}")
    )
    assert check.SENT.fullmatch(sent), sent
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    match = re.search(
        r'^passerelle_legacy_requests_total\{action="envoi",code="ok"\} (\d+(?:\.\d+)?)$',
        response.text,
        re.MULTILINE,
    )
    assert match, response.text
    assert float(match.group(1)) >= 1
    assert SECRET not in response.text
