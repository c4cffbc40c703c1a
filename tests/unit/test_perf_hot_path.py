"""The hot-path shortcuts give exactly what the general code gives."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle import logs
from passerelle.api.metrics import Metrics
from passerelle.api.params import LegacyParams, _unquote, parse_urlencoded
from passerelle.core import charset, numbers
from passerelle.logs import AccessLog, JsonFormatter, redact_target


def reference_redact(raw_path: bytes, query: bytes = b"") -> str:
    """redact_target written plainly (decode every name; pair the path's segments)."""

    def secret(raw_name: bytes) -> bool:
        name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("latin-1").strip().lower()
        return name in logs.SECRET_PARAMS

    prefix = b"/client/api" if raw_path.startswith(b"/client/api") else b""
    if raw_path.startswith(b"/client/api/index.php"):
        prefix = b"/client/api/index.php"
    rest = raw_path[len(prefix) :]
    lead = len(rest) - len(rest.lstrip(b"/"))
    trail = len(rest) - len(rest.rstrip(b"/")) if rest.strip(b"/") else 0
    segments = rest[lead : len(rest) - trail].split(b"/") if rest.strip(b"/") else []
    for i in range(0, len(segments) - 1, 2):
        if secret(segments[i]):
            segments[i + 1] = b"***"
    target = raw_path if not segments else prefix + rest[:lead] + b"/".join(segments)
    if segments and trail:
        target += rest[len(rest) - trail :]
    if query:
        pairs = query.split(b"&")
        for i, pair in enumerate(pairs):
            name, eq, _value = pair.partition(b"=")
            if eq and secret(name):
                pairs[i] = name + b"=***"
        target += b"?" + b"&".join(pairs)
    return target.decode("latin-1")


def reference_parse(raw: bytes) -> dict[str, str]:
    """parse_urlencoded as first written (each piece decoded on its own)."""
    out: dict[str, str] = {}
    for pair in raw.split(b"&"):
        if pair:
            name, _, value = pair.partition(b"=")
            out[_unquote(name)] = _unquote(value)
    return out


URL_BYTES = st.binary(max_size=60) | st.lists(
    st.sampled_from([b"apipasse", b"APIPASSE", b"api%70asse", b"+pwd", b"x", b"=", b"&", b"/"])
    | st.binary(max_size=4),
    max_size=12,
).map(b"".join)


@given(URL_BYTES, URL_BYTES)
def test_redact_target_matches_reference(path: bytes, query: bytes) -> None:
    """The ASCII-name shortcut of redact_target hides exactly what full decoding hides."""
    assert redact_target(path, query) == reference_redact(path, query)


@pytest.mark.parametrize(
    "target",
    [b"/client/api/APIPASSE/x", b"apipasse/x", b"/a/Token/x/y", b"/client/api/pwd"],
)
def test_redact_target_paths_match_reference(target: bytes) -> None:
    """Path-style secrets in any case and position are hidden as before."""
    assert redact_target(target) == reference_redact(target)


@given(URL_BYTES)
def test_parse_urlencoded_matches_reference(raw: bytes) -> None:
    """The one-decode shortcut (no %) parses exactly as piece-by-piece decoding."""
    assert parse_urlencoded(raw) == reference_parse(raw)


@given(st.text(max_size=40))
def test_map_text_matches_translate(text: str) -> None:
    """The regex mapping equals a per-character lookup in the accepted list."""
    expected = "".join(c if c in charset.ACCEPTED else "?" for c in text)
    assert charset.map_text(text) == expected
    assert charset.is_accepted(text) == all(c in charset.ACCEPTED for c in text)


def test_first_fault_order_kept() -> None:
    """first_fault still reports 05 before 06 before 07, and None when all pass."""
    assert numbers.first_fault(["33612345678"]) is None
    assert numbers.first_fault(["0000000000", "12", "x"]) is numbers.NumberFault.NOT_NUMERIC
    assert numbers.first_fault(["0000000000", "12"]) is numbers.NumberFault.TOO_SHORT
    assert numbers.first_fault(["0000000000", "33612345678"]) is numbers.NumberFault.BAD_PREFIX


def test_legacy_params_fields_follow_aliases() -> None:
    """from_mapping fills every field by name (aliases resolved, msg not trimmed)."""
    params = LegacyParams.from_mapping(
        {"action": " envoi ", "u": "bob", "apipass": "pw", "dm": "336", "src": "S",
         "msg": " hi ", "source": "1", "dc": "0", "dr": "1", "msgid": "7"}
    )  # fmt: skip
    assert params == LegacyParams("envoi", "bob", "pw", "336", "S", " hi ", "1", "0", "1", "7")


@pytest.mark.parametrize(
    ("target", "client", "login", "msgid"),
    [
        ("/client/api?action=envoi&apipasse=***", "127.0.0.1", "alice", 123456789),
        ('/client/api?msg=a"b\\c\x01\x1f\x7fé', None, None, None),
        ("/client/api?action=statut&msgid=x1", "::1", 'a"b é', "x1"),
    ],
)
def test_access_line_equals_json_formatter(
    target: str, client: str | None, login: str | None, msgid: int | str | None
) -> None:
    """The direct access line has the keys, order and values JsonFormatter writes."""
    line = AccessLog(io.StringIO()).line("GET", target, "envoi", "ok", 1.25, client, login, msgid)
    assert line.endswith("}\n") and line.count("\n") == 1
    record = logging.LogRecord(logs.ACCESS_LOGGER, logging.INFO, "f", 1, "request", (), None)
    extra = {"method": "GET", "target": target, "action": "envoi", "code": "ok", "ms": 1.25}
    for key, value in {**extra, "client": client, "login": login, "msgid": msgid}.items():
        setattr(record, key, value)
    expected = json.loads(JsonFormatter().format(record))
    got = json.loads(line)
    assert list(got) == list(expected)
    assert {k: v for k, v in got.items() if k != "ts"} == {
        k: v for k, v in expected.items() if k != "ts"
    }
    assert len(got["ts"]) == len("2026-01-01T00:00:00.000Z") and got["ts"].endswith("Z")


def test_access_lines_buffered_then_flushed_in_order() -> None:
    """Lines wait in the buffer; a timer, another log event or flush writes them, in order."""
    out = io.StringIO()
    writer = AccessLog(out, interval=0.05)

    async def scenario() -> tuple[str, str]:
        writer.write(writer.line("GET", "/a", "envoi", "ok", 1.0, None))
        writer.write(writer.line("GET", "/b", "envoi", "ok", 1.0, None))
        before = out.getvalue()
        await asyncio.sleep(0.2)
        return before, out.getvalue()

    before, after = asyncio.run(scenario())
    assert before == ""
    assert [json.loads(x)["target"] for x in after.splitlines()] == ["/a", "/b"]


def test_access_line_without_event_loop_written_at_once() -> None:
    """Outside an event loop (tools, tests) a line is written immediately."""
    out = io.StringIO()
    writer = AccessLog(out)
    writer.write(writer.line("GET", "/a", "solde", "01", 1.0, "::1"))
    assert json.loads(out.getvalue())["code"] == "01"


def test_other_log_event_flushes_access_lines_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """setup_logging's handler writes buffered access lines before any other event."""
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.setup_logging("info", "json")
        writer = logs.access_log()
        assert writer is not None

        async def scenario() -> None:
            logs.log_access("GET", "/first", "envoi", "ok", 1.0, None)
            logging.getLogger("passerelle").warning("second")

        asyncio.run(scenario())
        events = [json.loads(x) for x in out.getvalue().splitlines()]
        assert [e.get("target", e["msg"]) for e in events] == ["/first", "second"]
        logs.log_access("GET", "/third", "envoi", "ok", 1.0, None)
        logs.flush_access_log()
        assert json.loads(out.getvalue().splitlines()[-1])["target"] == "/third"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_metrics_cached_children_count_like_labels() -> None:
    """observe_request counts under the same labels as requests.labels(...).inc()."""
    metrics = Metrics()
    for _ in range(3):
        metrics.observe_request("envoi", "ok", 0.003)
    metrics.observe_request("envoi", "02", 0.5)
    value = metrics.registry.get_sample_value
    assert value("passerelle_legacy_requests_total", {"action": "envoi", "code": "ok"}) == 3
    assert value("passerelle_legacy_requests_total", {"action": "envoi", "code": "02"}) == 1
    assert value("passerelle_legacy_request_seconds_count", {"action": "envoi"}) == 4
    bucket = {"action": "envoi", "le": "0.005"}
    assert value("passerelle_legacy_request_seconds_bucket", bucket) == 3
