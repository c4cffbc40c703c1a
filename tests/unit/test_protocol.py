"""The bounded HTTP protocol's pure helpers: where a head ends, raw bytes in a request line."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

from hypothesis import given
from hypothesis import strategies as st

from passerelle.api.protocol import encode_request_line, head_end


def test_head_end_finds_crlf_and_bare_lf_blank_lines() -> None:
    """The head ends after the first blank line, CRLF or bare LF, whichever comes first."""
    assert head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody") == 27
    assert head_end(b"GET / HTTP/1.1\nHost: x\n\nbody") == 24
    assert head_end(b"GET / HTTP/1.1\r\nHost: x\r\n") == -1
    assert head_end(b"") == -1


def test_raw_bytes_of_the_request_line_are_percent_encoded() -> None:
    """Bytes >= 0x80 of the first line become %XX; header lines are left as they are."""
    head = b"GET /client/api?msg=\xc3\xa9t\xe9 HTTP/1.1\r\nX: \xe9\r\n\r\n"
    assert (
        encode_request_line(head) == b"GET /client/api?msg=%C3%A9t%E9 HTTP/1.1\r\nX: \xe9\r\n\r\n"
    )
    ascii_head = b"GET /client/api?msg=ete HTTP/1.1\r\n\r\n"
    assert encode_request_line(ascii_head) is ascii_head


@given(st.binary(max_size=40).filter(lambda b: b"\n" not in b))
def test_encoding_matches_percent_encoding_of_the_high_bytes(target: bytes) -> None:
    """The rewritten line is the line with each byte >= 0x80 written as %XX, nothing else."""
    expected = b"".join(
        quote_from_bytes(bytes([c])).encode() if c >= 0x80 else bytes([c]) for c in target
    )
    assert encode_request_line(target + b"\r\n") == expected + b"\r\n"
