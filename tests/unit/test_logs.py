"""Secrets never reach the logs."""

from __future__ import annotations

import json
import logging

from passerelle.logs import JsonFormatter, redact_target


def test_query_secrets_redacted() -> None:
    """apipasse and apipass values in a query become ***."""
    target = redact_target(b"/client/api", b"action=solde&login=a&apipasse=s3cr%21t&apipass=x")
    assert target == "/client/api?action=solde&login=a&apipasse=***&apipass=***"


def test_path_style_secret_redacted() -> None:
    """A path-style apipasse value becomes ***."""
    target = redact_target(b"/client/api/login/a/apipasse/s3cret/action/solde")
    assert target == "/client/api/login/a/apipasse/***/action/solde"


def test_first_query_param_redacted() -> None:
    """A secret as the first query parameter is redacted too."""
    assert redact_target(b"/x", b"apipasse=abc") == "/x?apipasse=***"


def test_json_formatter_one_line_with_extras() -> None:
    """A record becomes one JSON object with its extra fields."""
    record = logging.LogRecord("passerelle", logging.INFO, "f", 1, "hello", (), None)
    record.msgid = 123
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert (data["msg"], data["msgid"], data["level"]) == ("hello", 123, "info")


def test_secret_with_semicolon_hidden_whole() -> None:
    """A value ends where the parser ends it (at &), so `;` inside a password is hidden too."""
    assert redact_target(b"/client/api", b"apipasse=Semi;Colon&x=1") == (
        "/client/api?apipasse=***&x=1"
    )


def test_percent_encoded_secret_name_redacted() -> None:
    """`api%70asse` is read as apipasse by the parser, so it is redacted too."""
    assert redact_target(b"/client/api", b"api%70asse=pw") == "/client/api?api%70asse=***"
    assert redact_target(b"/client/api/api%70asse/pw/x/y") == "/client/api/api%70asse/***/x/y"
