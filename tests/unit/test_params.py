"""Parameter parsing of the legacy API (docs/api.md)."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.api.multipart import parse_multipart
from passerelle.api.params import (
    MAX_FIELDS,
    LegacyParams,
    merge,
    parse_path,
    parse_urlencoded,
)
from passerelle.core.charset import decode_bytes
from passerelle.exceptions import TooManyFields


def test_plus_is_space_and_percent_decodes() -> None:
    """`+` reads as a space and %XX escapes decode."""
    assert parse_urlencoded(b"msg=Salut+c%27est+moi") == {"msg": "Salut c'est moi"}


def test_latin1_and_utf8_e_acute_both_decode() -> None:
    """%E9 (ISO-8859-1) and %C3%A9 (UTF-8) both read as é."""
    assert parse_urlencoded(b"msg=%E9t%E9")["msg"] == "été"
    assert parse_urlencoded(b"msg=%C3%A9t%C3%A9")["msg"] == "été"


def test_windows1252_euro_sign() -> None:
    """A byte that is not UTF-8 is read as Windows-1252 (0x80 is the euro sign)."""
    assert parse_urlencoded(b"msg=%80")["msg"] == "€"


def test_last_repeated_name_wins() -> None:
    """A name repeated within one place: the last one wins (PHP semantics)."""
    assert parse_urlencoded(b"dest=1&dest=2")["dest"] == "2"


def test_name_without_value_and_empty_pairs() -> None:
    """`a&&b=` gives two empty values; empty pairs are skipped."""
    assert parse_urlencoded(b"a&&b=") == {"a": "", "b": ""}


def test_path_style_keeps_encoded_slash_inside_value() -> None:
    """Path style is parsed from the raw path, so %2F stays inside its value."""
    raw = b"/client/api/action/envoi/msg/a%2Fb+c/dest/33612345678"
    assert parse_path(raw) == {
        "action": "envoi",
        "msg": "a/b c",
        "dest": "33612345678",
    }


def test_path_style_odd_trailing_segment_ignored() -> None:
    """An odd trailing segment has no value and is ignored."""
    assert parse_path(b"/client/api/action/solde/login") == {"action": "solde"}


def test_precedence_path_query_body() -> None:
    """Path < query < body when a parameter appears in several places."""
    merged = merge([{"msg": "path", "dest": "p"}, {"msg": "query"}, {"msg": "body"}])
    assert merged == {"msg": "body", "dest": "p"}


def test_aliases_resolve_and_canonical_wins() -> None:
    """The PHP example's aliases map to canonical names; a canonical name beats its alias."""
    params = LegacyParams.from_mapping(
        {"u": "bob", "dm": "336", "src": "S", "source": "1", "dr": "1", "dc": "1", "apipass": "p"}
    )
    assert (params.login, params.dest, params.origine) == ("bob", "336", "S")
    assert (params.sendertype, params.callback, params.type, params.apipasse) == (
        "1",
        "1",
        "1",
        "p",
    )
    both = LegacyParams.from_mapping({"login": "canonical", "u": "alias"})
    assert both.login == "canonical"


def test_names_are_case_sensitive() -> None:
    """`Login` is not `login`."""
    assert LegacyParams.from_mapping({"Login": "bob"}).login is None


def test_values_trimmed_except_msg() -> None:
    """Blanks around values are trimmed, but `msg` is kept as sent."""
    params = LegacyParams.from_mapping({"dest": " 336 \t", "origine": "Michelle ", "msg": " hi "})
    assert (params.dest, params.origine, params.msg) == ("336", "Michelle", " hi ")


def test_multipart_uses_part_charset() -> None:
    """A multipart part with an explicit charset is decoded with it."""
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="msg"\r\n'
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n\xe9t\xe9\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="dest"\r\n\r\n33612345678\r\n'
        b"--XyZ--\r\n"
    )
    assert parse_multipart(body, "multipart/form-data; boundary=XyZ") == {
        "msg": "été",
        "dest": "33612345678",
    }


def test_multipart_with_wrong_boundary_gives_nothing() -> None:
    """A multipart body whose boundary does not match yields no parameters, no error."""
    assert parse_multipart(b"garbage", "multipart/form-data; boundary=nope") == {}


@given(st.binary(max_size=300))
def test_urlencoded_parser_never_raises(raw: bytes) -> None:
    """Any bytes parse into a dict of strings."""
    out = parse_urlencoded(raw)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())


@given(st.binary(max_size=300))
def test_path_parser_never_raises(raw: bytes) -> None:
    """Any raw path parses into a dict of strings."""
    out = parse_path(b"/client/api/" + raw)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())


@given(st.binary(max_size=300), st.text(max_size=40))
def test_multipart_parser_never_raises(raw: bytes, content_type: str) -> None:
    """Any body and content type parse into a dict of strings."""
    out = parse_multipart(raw, "multipart/form-data; " + content_type)
    assert all(isinstance(v, str) for v in out.values())


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20)))
def test_from_mapping_never_raises(raw: dict[str, str]) -> None:
    """Any mapping resolves; non-msg values come out trimmed."""
    params = LegacyParams.from_mapping(raw)
    if params.dest is not None:
        assert params.dest == params.dest.strip(" \t\r\n")


def test_fields_are_capped_at_64() -> None:
    """64 pairs parse; the 65th is refused with 18 (empty pairs do not count)."""
    ok = b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS))
    assert len(parse_urlencoded(ok + b"&&&")) == MAX_FIELDS
    with pytest.raises(TooManyFields):
        parse_urlencoded(ok + b"&x=1")
    with pytest.raises(TooManyFields):
        parse_urlencoded(b"&" * 1_000_000)


def test_path_pairs_are_capped_at_64() -> None:
    """64 path-style pairs parse; more are refused with 18."""
    ok = b"/client/api/" + b"/".join(b"f%d/v" % i for i in range(MAX_FIELDS))
    assert len(parse_path(ok)) == MAX_FIELDS
    with pytest.raises(TooManyFields):
        parse_path(ok + b"/x/y")


def test_multipart_parts_are_capped_at_64() -> None:
    """64 parts parse; 65 are refused with 18 before the stdlib parser runs."""

    def body(n: int) -> bytes:
        parts = b"".join(
            b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(n)
        )
        return parts + b"--B--\r\n"

    assert len(parse_multipart(body(MAX_FIELDS), "multipart/form-data; boundary=B")) == MAX_FIELDS
    with pytest.raises(TooManyFields):
        parse_multipart(body(MAX_FIELDS + 1), 'multipart/form-data; boundary="B"')
    with pytest.raises(TooManyFields):
        parse_multipart(b"--B\r\n\r\n\r\n" * 466_000, "multipart/form-data; boundary=B")


@given(st.lists(st.sampled_from([b"%2C", b"%2c", b"3", b"+", b"%", b"%41", b"\xe9", b","])))
def test_comma_escape_shortcut_decodes_like_the_general_decoder(pieces: list[bytes]) -> None:
    """The `%2C` shortcut gives exactly what full percent-decoding gives."""
    raw = b"".join(pieces)
    assert parse_urlencoded(b"dest=" + raw) == {
        "dest": decode_bytes(unquote_to_bytes(raw.replace(b"+", b" ")))
    }
