"""The one callback-URL validator (`webhooks.target.target_of`) and its callers."""

from __future__ import annotations

import pytest

from passerelle import exceptions as exc
from passerelle.checks import check_callback_url, private_target
from passerelle.webhooks.target import MAX_URL_LENGTH, target_of

ACCEPTED = [
    "http://client.example/dlr",
    "https://client.example:8443/dlr?x=1",
    "HTTPS://Client.Example/dlr",
    "http://93.184.216.34/dlr",
    "http://[2001:db8::1]:8080/",
    "https://user:secret@client.example/dlr",
    "http://xn--bcher-kva.example/",
    "http://bücher.example/",
    "http://client.example/" + "a" * (MAX_URL_LENGTH - len("http://client.example/")),
]
NOT_HTTP = [
    "ftp://client.example/dlr",
    "file:///etc/passwd",
    "/relative",
    "client.example/dlr",
    "http:///nohost",
    "http://",
    "mailto:a@b",
    "http://[::1/",
    "gopher://x",
    "",
]
BAD_HOST = ["http://a%20b.example/x", "http://a%00b.example/", 'http://a"b.example/']


@pytest.mark.parametrize("url", ACCEPTED, ids=str)
def test_accepted_everywhere(url: str) -> None:
    """An absolute http(s) URL with a real host is accepted by the sender and the service."""
    target = target_of(url)
    assert target.port in (80, 443, 8080, 8443)
    check_callback_url(url)


REFUSED = (
    [(url, "callback url: an absolute http") for url in NOT_HTTP]
    + [(url, "callback url: invalid host name") for url in BAD_HOST]
    + [("http://client.example/" + "a" * MAX_URL_LENGTH, f"at most {MAX_URL_LENGTH}")]
)


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=repr)
def test_refused_everywhere_with_the_same_reason(url: str, reason: str) -> None:
    """A URL the validator refuses is Refused at send time and InvalidValue for operators."""
    with pytest.raises(exc.Refused, match=reason):
        target_of(url)
    with pytest.raises(exc.InvalidValue, match=reason):
        check_callback_url(url)


async def test_private_target_reports_the_validator_refusal() -> None:
    """The private-target warning says why a URL the validator refuses will not be called."""
    assert await private_target("ftp://x/") == "callback url: an absolute http:// or https:// URL"
    assert await private_target("http://10.1.2.3/") == "10.1.2.3 is a private or loopback address"
    assert await private_target("http://93.184.216.34/") is None
