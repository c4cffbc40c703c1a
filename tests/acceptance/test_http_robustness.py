"""HTTP edges of the legacy API: HEAD, other methods, and garbage that must not leak a trace.

Garbage is sent with a raw socket so that the bytes on the wire are exactly the ones
written here (invalid percent escapes, binary bytes, huge values, broken multipart).
Every such request gets HTTP 200 and a legacy answer line.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

AUTH = "login=Michelle&apipasse=Michelle12345"
BINARY = bytes(random.Random(1234).randrange(256) for _ in range(4096))


def get(target: bytes) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def post(body: bytes, content_type: bytes | None, target: bytes = b"/client/api/") -> bytes:
    head = b"POST " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type + b"\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def multipart(boundary: bytes, parts: list[tuple[bytes, bytes]], extra: bytes = b"") -> bytes:
    body = b""
    for headers, value in parts:
        body += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + value + b"\r\n"
    return body + b"--" + boundary + b"--\r\n" + extra


def field(name: str, charset: str | None = None) -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
    if charset is not None:
        disposition += b"\r\nContent-Type: text/plain; charset=" + charset.encode()
    return disposition


GOOD_PARTS = [
    (field("action"), b"solde"),
    (field("login"), b"Michelle"),
    (field("apipasse"), b"Michelle12345"),
]
HUGE_DEST = ",".join(f"3361{i:07d}" for i in range(5000)).encode()

# (case id, raw request, expected answer: a full line, a prefix ending in "|", "solde" for
# an `<n> SMS` answer, or None for any legacy line)
GARBAGE: list[tuple[str, bytes, str | None]] = [
    (
        "invalid-escapes-in-values",
        get(b"/client/api/?action=envoi&" + AUTH.encode() + b"&msg=%zz%&dest=%%%41&origine=%G0"),
        "05|",
    ),
    ("invalid-escapes-in-names", get(b"/client/api/?%zz=1&%=%&%%=&action=%"), "11|Action inconnue"),
    (
        "invalid-escapes-path-style",
        get(
            b"/client/api/action/envoi/login/Michelle/apipasse/Michelle12345/msg/%/dest/%zz/origine/%"
        ),
        "05|",
    ),
    ("invalid-escape-in-action", get(b"/client/api/?action=env%oi&" + AUTH.encode()), "11|"),
    (
        "binary-escaped-in-every-field",
        get(
            b"/client/api/?action=envoi&login=%00%FF%FE&apipasse=%00%00&msg=%00%01%FF"
            b"&dest=%FF%FE&origine=%00"
        ),
        "01|Login, mot de passe non valide",
    ),
    (
        "binary-escaped-msg-and-origine",
        get(
            b"/client/api/?action=envoi&" + AUTH.encode() + b"&msg=%00%01%02%FF%81%8D%8F%90%9D"
            b"&dest=33612345678&origine=%00%FF"
        ),
        "13|L'expéditeur est invalide",
    ),
    ("binary-escaped-path", get(b"/client/api/%ff%fe/%00/action/%C0%AF"), "11|Action inconnue"),
    (
        "huge-msg",
        get(
            b"/client/api/?action=envoi&"
            + AUTH.encode()
            + b"&dest=33612345678&origine=X&msg="
            + b"A" * 60_000
        ),
        "12|Message trop long",
    ),
    (
        "huge-dest-by-get",
        get(b"/client/api/?action=envoi&" + AUTH.encode() + b"&origine=X&msg=hi&dest=" + HUGE_DEST),
        "15|Trop de destinataires",
    ),
    ("huge-login", get(b"/client/api/?action=solde&apipasse=x&login=" + b"M" * 30_000), "01|"),
    ("huge-name", get(b"/client/api/?action=solde&" + b"n" * 30_000 + b"=1"), "01|"),
    (
        "many-params",
        get(b"/client/api/?action=solde&" + b"&".join([b"a=b"] * 10_000)),
        "18|Trop de paramètres",
    ),
    (
        "huge-msgid",
        get(b"/client/api/?action=statut&" + AUTH.encode() + b"&msgid=" + b"9" * 5_000),
        "10|Le msgid est invalide",
    ),
    (
        "non-ascii-digits-msgid",
        get(b"/client/api/?action=statut&" + AUTH.encode() + b"&msgid=%D9%A3%D9%A4"),
        "10|Le msgid est invalide",
    ),
    ("negative-msgid", get(b"/client/api/?action=statut&" + AUTH.encode() + b"&msgid=-1"), "10|"),
    ("binary-body-no-content-type", post(BINARY, None), None),
    ("binary-body-form-urlencoded", post(BINARY, b"application/x-www-form-urlencoded"), None),
    ("binary-body-octet-stream", post(BINARY, b"application/octet-stream"), None),
    (
        "binary-body-after-good-query",
        post(BINARY, None, b"/client/api/?action=solde&" + AUTH.encode()),
        "solde",
    ),
    (
        "multipart-valid-control",
        post(multipart(b"abc", GOOD_PARTS), b"multipart/form-data; boundary=abc"),
        "solde",
    ),
    (
        "multipart-boundary-mismatch",
        post(multipart(b"other", GOOD_PARTS), b"multipart/form-data; boundary=abc"),
        "11|Action inconnue",
    ),
    (
        "multipart-no-boundary",
        post(multipart(b"abc", GOOD_PARTS), b"multipart/form-data"),
        "11|Action inconnue",
    ),
    (
        "multipart-empty-boundary",
        post(multipart(b"", GOOD_PARTS), b"multipart/form-data; boundary="),
        None,
    ),
    (
        "multipart-unterminated-quoted-boundary",
        post(multipart(b"abc", GOOD_PARTS), b'multipart/form-data; boundary="abc'),
        None,
    ),
    (
        "multipart-huge-boundary",
        post(multipart(b"b" * 5000, GOOD_PARTS), b"multipart/form-data; boundary=" + b"b" * 5000),
        None,
    ),
    ("multipart-binary-body", post(BINARY, b"multipart/form-data; boundary=abc"), "11|"),
    (
        "multipart-unterminated",
        post(
            b"--abc\r\nContent-Disposition: form-data; name=", b"multipart/form-data; boundary=abc"
        ),
        "11|",
    ),
    (
        "multipart-unknown-charset",
        post(
            multipart(b"abc", [(field("action", "x-bogus-charset"), b"solde"), *GOOD_PARTS[1:]]),
            b"multipart/form-data; boundary=abc",
        ),
        "solde",
    ),
    (
        "multipart-bad-base64",
        post(
            multipart(
                b"abc",
                [
                    (field("action") + b"\r\nContent-Transfer-Encoding: base64", b"!!!*"),
                    *GOOD_PARTS[1:],
                ],
            ),
            b"multipart/form-data; boundary=abc",
        ),
        None,
    ),
    (
        "multipart-utf16-part-with-binary",
        post(
            multipart(b"abc", [(field("action", "utf-16"), b"\xff\xfe\x00\xd8"), *GOOD_PARTS[1:]]),
            b"multipart/form-data; boundary=abc",
        ),
        "11|",
    ),
    (
        "content-type-garbage",
        post(b"action=solde&" + AUTH.encode(), b'\xff\xfe garbage; charset="; boundary'),
        "solde",
    ),
    (
        "multipart-non-ascii-boundary",
        post(multipart(b"\xff\xfe", GOOD_PARTS), b"multipart/form-data; boundary=\xff\xfe"),
        None,
    ),
    (
        "multipart-unknown-charset-header",
        post(multipart(b"abc", GOOD_PARTS), b"multipart/form-data; boundary=abc; charset=x-nope"),
        "solde",
    ),
]


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [pytest.param(raw, expected, id=name) for name, raw, expected in GARBAGE],
)
def test_garbage_gets_a_legacy_answer_without_trace(
    gateway: Any, check: Any, request_bytes: bytes, expected: str | None
) -> None:
    """Garbage (bad escapes, binary, huge values, bad multipart) → HTTP 200, one legacy line."""
    answer = gateway.raw(request_bytes)
    assert answer.status == 200, answer
    assert answer.headers["content-type"] == check.CONTENT_TYPE
    text = answer.body.decode("utf-8")
    check.no_trace(text)
    check.line(text)
    assert "\n" not in text
    if expected == "solde":
        assert check.SOLDE.fullmatch(text), text
    elif expected is not None and expected.endswith("|"):
        assert text.startswith(expected), text
    elif expected is not None:
        assert text == expected


def test_garbage_leaves_the_server_healthy_and_the_balance_intact(
    gateway: Any, http: Any, check: Any
) -> None:
    """After the garbage, the balance still equals the ledger sum and the server answers."""
    with gateway.db() as conn:
        (credits,) = conn.execute(
            "SELECT credits FROM accounts WHERE login = 'Michelle'"
        ).fetchone()
        (sum_,) = conn.execute("SELECT sum(delta) FROM ledger").fetchone()
    assert credits == sum_
    assert gateway.solde(http, *check.MICHELLE) == credits
    assert http.get("/healthz").text == "ok"


def test_huge_post_body_answers_15(gateway: Any, http: Any, check: Any) -> None:
    """A POST body over the size limit (4 MiB by default) answers 15, not a crash or a hang."""
    body = b"action=envoi&" + AUTH.encode() + b"&msg=x&origine=X&dest=" + b"3" * (5 * 1024 * 1024)
    response = http.post("/client/api/", content=body)
    assert check.text(response) == "15|Trop de destinataires"


@pytest.mark.parametrize("path", ["/client/api", "/client/api/", "/client/api/index.php"])
def test_head_answers_like_get_without_body(gateway: Any, http: Any, check: Any, path: str) -> None:
    """HEAD gets the GET's status and content type, no body, and no length (it does nothing,
    so it has no answer to measure)."""
    for query in (f"?action=solde&{AUTH}", f"?action=statut&{AUTH}&msgid=123", "?action=nope"):
        got = http.get(path + query)
        head = http.head(path + query)
        check.line(check.text(got))
        assert head.status_code == got.status_code == 200
        assert head.headers["content-type"] == got.headers["content-type"]
        assert "content-length" not in head.headers
        assert head.content == b""


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_other_methods_get_405(gateway: Any, http: Any, check: Any, method: str) -> None:
    """Methods other than GET, POST and HEAD get 405 with an Allow header, never a trace."""
    for path in ("/client/api", "/client/api/", "/client/api/index.php"):
        response = http.request(method, f"{path}?action=solde&{AUTH}")
        assert response.status_code == 405, (method, path, response.status_code)
        allow = {m.strip() for m in response.headers["allow"].split(",")}
        assert {"GET", "POST", "HEAD"} <= allow
        check.no_trace(response.text)


@pytest.mark.parametrize(
    "target",
    [
        b"/client/api/?action=solde&login=Mich\xe9lle&apipasse=Michelle12345",
        b"/client/api/?action=envoi&"
        + AUTH.encode()
        + b"&msg=comment+\xc3\xa7a+va?&dest=33612345678&origine=M",
    ],
    ids=["raw-latin1-byte", "raw-utf8-bytes"],
)
def test_raw_non_ascii_request_line_gets_a_legacy_answer(
    gateway: Any, check: Any, target: bytes
) -> None:
    """Unencoded non-ASCII bytes in the request line get HTTP 200 and a legacy line."""
    answer = gateway.raw(get(target))
    assert answer.status == 200, answer
    text = answer.body.decode("utf-8")
    check.no_trace(text)
    check.line(text)
