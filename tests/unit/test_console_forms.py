"""The console's form reader: bounds, and large multipart bodies parsed off the loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from starlette.datastructures import UploadFile
from starlette.requests import Request

from passerelle.console import web
from passerelle.console.web import Refusal, read_form


def request_of(body: bytes, content_type: str, declared: bool = True) -> Request:
    """A POST request whose body arrives in one message."""
    headers = [(b"content-type", content_type.encode())]
    if declared:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
             "headers": headers}  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def multipart(size: int) -> bytes:
    """A multipart body with one text field and one file of `size` bytes."""
    return (
        b'--B\r\nContent-Disposition: form-data; name="group"\r\n\r\nclients\r\n'
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + b"x" * size + b"\r\n--B--\r\n"
    )


async def test_a_large_multipart_body_is_parsed_on_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A multipart body over THREAD_BYTES is parsed on another thread, and read whole."""
    threads: list[str] = []
    parse = web._parse_multipart

    def spy(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return parse(*args)

    monkeypatch.setattr(web, "_parse_multipart", spy)
    form = await read_form(request_of(multipart(300_000), "multipart/form-data; boundary=B"),
                           1_000_000, 1)  # fmt: skip
    upload = form["file"]
    assert isinstance(upload, UploadFile)
    assert len(await upload.read()) == 300_000 and form["group"] == "clients"
    assert threads and threads[0] != threading.current_thread().name


async def test_bodies_over_the_bound_are_refused_even_undeclared() -> None:
    """A body over the bound is refused (413) whether or not it declares its length."""
    for declared in (True, False):
        request = request_of(b"a=" + b"x" * 5000, "application/x-www-form-urlencoded", declared)
        with pytest.raises(Refusal) as refused:
            await read_form(request, 4096, 0)
        assert refused.value.status == 413


async def test_too_many_files_is_a_bad_form() -> None:
    """A multipart body with more files than the page takes is refused (400)."""
    body = multipart(10).replace(b"--B--", b'--B\r\nContent-Disposition: form-data; name="f2"; '
                                 b'filename="d"\r\n\r\nx\r\n--B--')  # fmt: skip
    with pytest.raises(Refusal) as refused:
        await read_form(request_of(body, "multipart/form-data; boundary=B"), 100_000, 1)
    assert refused.value.status == 400
