"""Secrets never reach the logs."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.api.params import parse_path
from passerelle.logs import SECRET_PARAMS, JsonFormatter, redact_target


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


@pytest.mark.parametrize(
    ("path", "redacted"),
    [
        (
            b"/client/api/msg/Password/apipasse/LeakPw-Zq9x7",
            "/client/api/msg/Password/apipasse/***",
        ),
        (b"/client/api/login/token/apipasse/LeakPw-Zq9x7", "/client/api/login/token/apipasse/***"),
        (
            b"/client/api/origine/%73ecret/apipasse/LeakPw-Zq9x7/action/solde",
            "/client/api/origine/%73ecret/apipasse/***/action/solde",
        ),
        (
            b"/client/api/index.php/apipass/LeakPw-Zq9x7/",
            "/client/api/index.php/apipass/***/",
        ),
    ],
)
def test_path_redaction_follows_the_parsers_pairs(path: bytes, redacted: str) -> None:
    """The value the parser reads as apipasse is hidden, whatever the words around it."""
    assert parse_path(path).get("apipasse", parse_path(path).get("apipass")) == "LeakPw-Zq9x7"
    assert redact_target(path, b"action=solde&login=leaky") == redacted + (
        "?action=solde&login=leaky"
    )


PATH_TOKENS = st.sampled_from(
    [b"apipasse", b"apipass", b"Password", b"token", b"%73ecret", b"api%70asse", b"msg", b"x", b""]
)


@given(st.lists(PATH_TOKENS | st.binary(max_size=5), max_size=12), st.booleans())
def test_every_secret_the_parser_reads_is_hidden(segments: list[bytes], index: bool) -> None:
    """Parsing the redacted path gives *** for every secret name and the same other pairs."""
    path = (b"/client/api/index.php/" if index else b"/client/api/") + b"/".join(segments)
    parsed = parse_path(path)
    again = parse_path(redact_target(path).encode("latin-1"))
    assert again.keys() == parsed.keys()
    for name, value in parsed.items():
        if name.strip().lower() in SECRET_PARAMS:
            assert again[name] == "***", name
        elif name.isascii():  # (a non-ASCII name may decode as secret one way: hidden too)
            assert again[name] == value, name
