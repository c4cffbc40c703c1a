"""The callback HTTP client against scripted HTTP servers on 127.0.0.1 (real sockets).

Each test's server runs a script per connection (read requests, answer bytes, close),
and counts connections, so pooling, retries and closing are observed from outside.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from passerelle.webhooks import guard
from passerelle.webhooks.client import Client, ProtocolError, target_of

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Scripted:
    """A loopback server: connection number n is handled by `script(reader, writer, n)`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed_by_peer = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test ended
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One request (head and Content-Length body), or None at end of stream."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.closed_by_peer.set()
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/dlr?k=v"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def servers() -> AsyncIterator[Callable[[Script], Scripted]]:
    """Make scripted servers; all are closed at teardown."""
    made: list[Scripted] = []

    def make(script: Script) -> Scripted:
        server = Scripted(script)
        made.append(server)
        return server

    yield make
    for server in made:
        await server.close()


async def post(client: Client, url: str, body: bytes = b"a=1") -> int:
    """One bounded POST through the client."""
    target = target_of(url)
    path = f"{target.path}?{target.query}" if target.query else target.path
    async with asyncio.timeout(5):
        return await client.request(target, "POST", path, body, "")


def answering(*answers: bytes, then_close: bool = False) -> Script:
    """A script: read a request and send the next answer, for each answer in turn."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        server: Scripted = script.server  # type: ignore[attr-defined]
        for answer in answers:
            if await server.read_request(reader) is None:
                return
            writer.write(answer)
            await writer.drain()
        if not then_close:
            await server.read_request(reader)  # hold the connection until the client closes

    return script


def scripted(servers: Callable[[Script], Scripted], script: Script) -> Scripted:
    server = servers(script)
    script.server = server  # type: ignore[attr-defined]
    return server


async def test_keep_alive_reuses_one_connection(servers: Callable[[Script], Scripted]) -> None:
    """Three requests in turn travel on one kept-alive connection, each answered 200."""
    server = await scripted(servers, answering(OK, OK, OK)).start()
    client = Client(allow_private=True)
    assert [await post(client, server.url()) for _ in range(3)] == [200, 200, 200]
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /dlr?k=v HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port)
    assert first.endswith(b"Content-Length: 3\r\n\r\na=1")
    client.close()


async def test_connection_close_answer_is_not_reused(
    servers: Callable[[Script], Scripted],
) -> None:
    """An answer with `Connection: close` ends that connection; the next request opens one."""
    close = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    server = await scripted(servers, answering(close, then_close=True)).start()
    client = Client(allow_private=True)
    assert [await post(client, server.url()) for _ in range(2)] == [204, 204]
    assert server.connections == 2
    client.close()


async def test_kept_alive_connection_dropped_as_a_request_goes_out_is_retried_once(
    servers: Callable[[Script], Scripted],
) -> None:
    """The receiver closes a kept-alive connection instead of answering: the request is sent
    once more on a fresh connection (the race of a receiver dropping idle connections)."""

    async def drop_second(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await writer.drain()
        if n == 1:
            await server.read_request(reader)  # the reused connection's request: dropped

    server = await servers(drop_second).start()
    client = Client(allow_private=True)
    assert await post(client, server.url()) == 200
    assert await post(client, server.url()) == 200
    assert server.connections == 2
    assert len(server.requests) == 3  # the dropped one, then the same again
    assert server.requests[1] == server.requests[2]
    client.close()


async def test_close_before_any_answer_on_a_fresh_connection_fails(
    servers: Callable[[Script], Scripted],
) -> None:
    """A receiver that reads the request and hangs up: ProtocolError, not a silent retry."""
    server = await scripted(servers, answering(b"", then_close=True)).start()
    client = Client(allow_private=True)
    with pytest.raises(ProtocolError, match="closed before an answer"):
        await post(client, server.url())
    assert server.connections == 1
    client.close()


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 202),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfail", 500),
        (b"HTTP/1.0 410 Gone\r\n\r\nbye", 410),  # body delimited by the close
    ],
    ids=["chunked", "interim-100", "500", "http10-until-close"],
)
async def test_answer_framings(
    servers: Callable[[Script], Scripted], answer: bytes, status: int
) -> None:
    """Chunked, interim 100, error statuses and close-delimited answers give the final status."""
    server = await scripted(servers, answering(answer, then_close=True)).start()
    client = Client(allow_private=True)
    assert await post(client, server.url()) == status
    client.close()


async def test_status_is_the_answer_even_if_the_body_never_ends(
    servers: Callable[[Script], Scripted],
) -> None:
    """A 200 whose body keeps coming counts at once; that connection is not reused."""

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        for _ in range(200):  # bounded: 2 s of a trickling body
            writer.write(b"1\r\nx\r\n")
            await writer.drain()
            await asyncio.sleep(0.01)

    server = await servers(endless).start()
    client = Client(allow_private=True)
    started = asyncio.get_running_loop().time()
    assert await post(client, server.url()) == 200
    assert asyncio.get_running_loop().time() - started < 1.0
    assert client._idle == {}
    client.close()


async def test_an_upgrade_answer_is_a_protocol_error(
    servers: Callable[[Script], Scripted],
) -> None:
    """`101 Switching Protocols` is not an answer to a callback: ProtocolError, no crash."""
    upgrade = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
    server = await scripted(servers, answering(upgrade)).start()
    client = Client(allow_private=True)
    with pytest.raises(ProtocolError, match="bad HTTP answer"):
        await post(client, server.url())
    client.close()


async def test_garbage_answer_is_a_protocol_error(servers: Callable[[Script], Scripted]) -> None:
    """A receiver that does not speak HTTP gets a ProtocolError, and its connection is closed."""
    server = await scripted(servers, answering(b"SSH-2.0-OpenSSH\r\n\r\n")).start()
    client = Client(allow_private=True)
    with pytest.raises(ProtocolError, match="bad HTTP answer"):
        await post(client, server.url())
    async with asyncio.timeout(5):
        await server.closed_by_peer.wait()
    client.close()


async def test_a_timed_out_connection_is_never_reused(
    servers: Callable[[Script], Scripted],
) -> None:
    """A request cut by the caller's time limit closes its connection; the next one is new."""

    async def slow_then_fast(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        await server.read_request(reader)
        if n == 1:
            await asyncio.sleep(1.0)  # longer than the client waits
        writer.write(OK)
        await server.read_request(reader)

    server = await servers(slow_then_fast).start()
    client = Client(allow_private=True)
    target = target_of(server.url())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await client.request(target, "POST", target.path, b"a=1", "")
    assert await post(client, server.url()) == 200
    assert server.connections == 2
    client.close()


async def test_user_information_becomes_basic_authentication(
    servers: Callable[[Script], Scripted],
) -> None:
    """`http://user:p%40ss@host/` sends `Authorization: Basic` and no user info in the line."""
    server = await scripted(servers, answering(OK)).start()
    client = Client(allow_private=True)
    assert await post(client, f"http://user:p%40ss@127.0.0.1:{server.port}/dlr") == 200
    expected = base64.b64encode(b"user:p@ss")
    assert b"\r\nAuthorization: Basic " + expected + b"\r\n" in server.requests[0]
    assert server.requests[0].startswith(b"POST /dlr HTTP/1.1\r\n")
    client.close()


async def test_connects_to_the_address_it_checked(servers: Callable[[Script], Scripted]) -> None:
    """A name is resolved once, checked, and the socket connects to that address."""
    server = await scripted(servers, answering(OK)).start()
    seen: list[tuple[str, str]] = []
    client = Client(allow_private=True, on_connect=lambda o, a: seen.append((o, a)))
    # localhost is 127.0.0.1 in /etc/hosts (Debian); an ::1 answered first is tried, refused
    # (the server listens on 127.0.0.1 only), and the next checked address is used
    status = await post(client, server.url(host="localhost"))
    assert status == 200
    assert seen[-1] == (f"http://localhost:{server.port}", "127.0.0.1")
    strict = Client(allow_private=False, on_connect=lambda o, a: seen.append((o, a)))
    count = len(seen)
    with pytest.raises(guard.Refused, match="a private address"):
        await post(strict, server.url(host="localhost"))
    assert len(seen) == count  # refused before any socket
    client.close()
    strict.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl, installed by ./dev test)."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    subprocess.run(
        [*command.split(), "-keyout", key, "-out", cert, "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_https_verifies_the_certificate(
    servers: Callable[[Script], Scripted], certificate: tuple[Path, Path]
) -> None:
    """https: trusted certificate → delivered on a reused TLS connection; unknown CA → refused."""
    key, cert = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server = await scripted(servers, answering(OK, OK)).start(server_side)
    trusting = ssl.create_default_context(cafile=str(cert))
    client = Client(allow_private=True, ssl_context=trusting)
    assert [await post(client, server.url("https")) for _ in range(2)] == [200, 200]
    assert server.connections == 1
    client.close()
    with pytest.raises(ssl.SSLCertVerificationError):
        await post(Client(allow_private=True), server.url("https"))
    # trusted, but not for that name: the name in the URL is what is verified
    with pytest.raises(ssl.SSLCertVerificationError, match=r"match"):
        await post(
            Client(allow_private=True, ssl_context=trusting), server.url("https", "localhost")
        )


@pytest.mark.parametrize(
    "url", ["ftp://h/x", "http:///nohost", "mailto:a@b", "http://[::1/"], ids=str
)
def test_target_refuses_what_is_not_http(url: str) -> None:
    """Only absolute http(s) URLs make a target."""
    with pytest.raises(guard.Refused, match="absolute http"):
        target_of(url)


@pytest.mark.parametrize(
    "url",
    ["http://a%20b.example/x", "http://a%00b.example/", 'http://a"b.example/', "http://a<b>/"],
    ids=str,
)
def test_target_refuses_host_names_that_are_not_names(url: str) -> None:
    """A host that is neither a DNS name nor an address never reaches a header."""
    with pytest.raises(guard.Refused, match="invalid host name"):
        target_of(url)


def test_target_keeps_credentials_out_of_its_repr() -> None:
    """The Authorization line (a password) is not shown when a target is logged."""
    target = target_of("https://user:s3cret@client.example/dlr")
    assert b"Authorization: Basic " in target.head
    assert "s3cret" not in repr(target) and "Authorization" not in repr(target)
