"""A route that points at nothing, seen from outside a real `passerelle serve`: `/readyz`
answers 503 with the reason, `/metrics` counts the stranded recipients, the log warns
once; removing the route (`connector remove --force`) lets them go."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

REFRESH_S = 0.2
DESTS = ["33612345671", "33612345672", "33612345673"]


def readyz(server: Any) -> httpx.Response:
    return httpx.get(f"{server.base_url}/readyz", timeout=10.0)


def wait_readyz(server: Any, status: int, timeout: float = 15.0) -> httpx.Response:
    """Poll `/readyz` (bounded) until it answers `status`."""
    deadline = time.monotonic() + timeout
    while (answer := readyz(server)).status_code != status:
        assert time.monotonic() < deadline, (answer.status_code, answer.text)
        time.sleep(0.1)
    return answer


def route_logs(server: Any) -> list[dict[str, Any]]:
    """The JSON log lines of the `passerelle.routes` logger."""
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "passerelle.routes"]


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("disabled", "sim1 is disabled"),
        ("gone", "sim1 is not a connector"),  # a database from before routes were checked
    ],
)
def test_route_to_nothing_is_not_ready_until_fixed(
    servers: Any, delivery: Any, how: str, why: str
) -> None:
    """A route serving nothing: /readyz 503 with reason, gauge, one warning, until fixed."""
    server = servers.new(f"unroutable-{how}", "info", PASSERELLE_CONNECTOR_REFRESH_S=str(REFRESH_S))
    server.create_account("Stuck", "Stuck-pass-1", credits=10)
    server.cli(
        "connector", "add", "sim1", "--host", "127.0.0.1", "--port", "9",
        "--system-id", "x", "--password", "y", "--disabled",
    )  # fmt: skip
    server.add_route("default", "sim1")
    if how == "gone":
        with server.db() as conn:
            conn.execute("DELETE FROM connectors WHERE name = 'sim1'")
            conn.commit()
    server.start()
    sender = delivery.Sender(server, "Stuck", "Stuck-pass-1")
    try:
        assert wait_readyz(server, 200).text == "ready"  # the built-in simulator is bound
        msgid = sender.envoi(DESTS)
        answer = wait_readyz(server, 503)
        assert answer.text == f"no usable route for 3 queued recipients: default → sim1 ({why})"
        assert server.metric("passerelle_unroutable_recipients") == 3
        time.sleep(8 * REFRESH_S)  # several refreshes: still one warning
        warnings = [line for line in route_logs(server) if line["level"] == "warning"]
        assert len(warnings) == 1, warnings
        assert warnings[0]["msg"].startswith("3 queued recipients have no usable route")
        assert warnings[0]["unroutable"] == 3
        assert sender.statut(msgid) == delivery.IN_FLIGHT

        if how == "disabled":
            removed = server.cli("connector", "remove", "sim1", "--force")
            assert "route 1 (default → sim1) removed with it" in removed
        else:
            server.cli("route", "remove", "1")
        assert sender.wait_final([msgid], timeout=15.0) == {msgid: delivery.DELIVERED}
        assert wait_readyz(server, 200).text == "ready"
        assert server.metric("passerelle_unroutable_recipients") == 0
        assert route_logs(server)[-1]["msg"] == "every queued recipient has a usable route again"
    finally:
        sender.close()
