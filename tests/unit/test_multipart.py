"""multipart/form-data: our linear reader gives what the standard library's parser gives,
and refuses more than 64 parts whatever boundary the content type claims."""

from __future__ import annotations

import time
from email.parser import BytesParser
from email.policy import HTTP

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.api.multipart import MAX_FIELDS, parse_multipart
from passerelle.core.charset import decode_bytes
from passerelle.exceptions import TooManyFields


def stdlib_reading(body: bytes, content_type: str) -> dict[str, str]:
    """The reference: the e-mail parser on the whole body (what we used before)."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    out: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or part.get_filename() or not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset()
        out[name] = payload.decode(charset, "replace") if charset else decode_bytes(payload)
    return out


NAMES = st.sampled_from(["action", "login", "apipasse", "dest", "msg", "x y", "é"])
VALUES = st.binary(max_size=40).filter(lambda v: b"--B" not in v) | st.sampled_from(
    [b"", b"\r\n", b"--Bx", b"a\r\n--B-not", b"\xe9t\xe9", b"line1\nline2", b" --B"]
)
CHARSETS = st.sampled_from([None, "utf-8", "iso-8859-1", "cp1252"])


@given(st.lists(st.tuples(NAMES, VALUES, CHARSETS), max_size=6), st.booleans())
def test_fields_read_as_the_standard_library_reads_them(
    parts: list[tuple[str, bytes, str | None]], preamble: bool
) -> None:
    """Names, values and charsets come out as the e-mail parser gives them."""
    body = b"preamble\r\n" if preamble else b""
    for name, value, charset in parts:
        body += b'--B\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n'
        if charset:
            body += b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n"
        body += b"\r\n" + value + b"\r\n"
    body += b"--B--\r\nepilogue"
    content_type = "multipart/form-data; boundary=B"
    assert parse_multipart(body, content_type) == stdlib_reading(body, content_type)


def test_quoted_and_encoded_parameters() -> None:
    """A quoted boundary, a quoted name with a semicolon, base64 and a file part."""
    body = (
        b'--a;b\r\nContent-Disposition: form-data; name="m;sg"\r\n\r\nhi\r\n'
        b"--a;b\r\nContent-Disposition: form-data; name=dest\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nMzM2MTIzNDU2Nzg=\r\n"
        b'--a;b\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\n\r\nfile\r\n'
        b"--a;b--\r\n"
    )
    content_type = 'multipart/form-data; boundary="a;b"'
    assert parse_multipart(body, content_type) == {"m;sg": "hi", "dest": "33612345678"}
    assert parse_multipart(body, content_type) == stdlib_reading(body, content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=B",
        "multipart/form-data; xboundary=Z; boundary=B",
        "multipart/form-data; boundary*=utf-8''B",
        'multipart/form-data; charset="x;boundary=Z"; boundary=B',
        "multipart/form-data",
    ],
)
def test_too_many_parts_whatever_the_boundary_spelling(content_type: str) -> None:
    """466 000 empty parts are refused at once under every spelling of the boundary."""
    body = b"--B\r\n\r\n\r\n" * 466_000
    started = time.monotonic()
    with pytest.raises(TooManyFields):
        parse_multipart(body, content_type)
    assert time.monotonic() - started < 1.0  # a count, not a parse (47 s before)


def test_sixty_four_parts_are_read() -> None:
    """Exactly 64 parts are read; a part header over 8 KiB is skipped."""
    parts = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i
        for i in range(MAX_FIELDS)
    )
    assert len(parse_multipart(parts + b"--B--\r\n", "multipart/form-data; boundary=B")) == 64
    big = b'--B\r\nContent-Disposition: form-data; name="x"\r\nX-Pad: ' + b"p" * 9000
    assert parse_multipart(big + b"\r\n\r\nv\r\n--B--", "multipart/form-data; boundary=B") == {}
