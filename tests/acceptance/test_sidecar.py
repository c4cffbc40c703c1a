"""`passerelle serve` on its defaults runs the delivery in a child process: the API
process answers for both (/readyz, /metrics), the child is started again when it dies,
and a graceful stop ends both; `PASSERELLE_DELIVERY_PROCESS=false` keeps one process."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

DEST = "33612345678"


def children(pid: int) -> list[int]:
    """The pids of `pid`'s child processes (the delivery process, and nothing else)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    """Poll `check()` (bounded) until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return value


def bound_line(server: Any) -> str:
    """The `passerelle_connector_bound` line of the server's /metrics ("" when absent)."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10.0).text
    lines = [line for line in text.splitlines() if line.startswith("passerelle_connector_bound{")]
    return lines[0] if lines else ""


def binder_after_one_delivery(server: Any, delivery: Any) -> int:
    """Send one message, wait until it is delivered; the pid that binds the connector."""
    sender = delivery.Sender(server, "Side", "Side-pass-1")
    try:
        msgid = sender.envoi([DEST])
        assert sender.wait_final([msgid], 20.0) == {msgid: delivery.DELIVERED}
    finally:
        sender.close()
    with server.db() as conn:
        (owner,) = conn.execute("SELECT owner FROM connector_owners").fetchone()
    return int(owner.split(":")[1])  # host:pid:token


def not_ready(server: Any) -> str:
    """/readyz's reasons while it answers 503 ("" while it answers 200)."""
    answer = httpx.get(f"{server.base_url}/readyz", timeout=10.0)
    return answer.text if answer.status_code == 503 else ""


def test_default_serve_delivers_from_a_child_process(servers: Any, delivery: Any) -> None:
    """Defaults: one child delivers; /metrics shows its bound link; a message is delivered."""
    server = servers.new("sidecar-default", PASSERELLE_SIMULATOR_DELAY_S="0")
    server.create_account("Side", "Side-pass-1", credits=10)
    server.start()
    (child,) = wait_for(lambda: children(server.pid))
    wait_for(lambda: bound_line(server).endswith(" 1.0"))  # the child bound its link
    assert httpx.get(f"{server.base_url}/readyz", timeout=10.0).text == "ready"
    # it answers the parent on an abstract Unix socket: a name, no file to leave behind
    assert f"@passerelle-{server.pid}-" in Path("/proc/net/unix").read_text()
    assert binder_after_one_delivery(server, delivery) == child


def test_a_dead_delivery_process_is_reported_then_replaced(servers: Any, delivery: Any) -> None:
    """SIGKILL of the child: /readyz says so, a new child starts and delivers what waited."""
    server = servers.new("sidecar-restart", PASSERELLE_SIMULATOR_DELAY_S="0")
    server.create_account("Side", "Side-pass-1", credits=10)
    server.start()
    (child,) = wait_for(lambda: children(server.pid))
    wait_for(lambda: bound_line(server).endswith(" 1.0"))
    os.kill(child, signal.SIGKILL)
    reasons = wait_for(lambda: not_ready(server))
    assert reasons in ("delivery process not answering", "no connector bound"), reasons
    sender = delivery.Sender(server, "Side", "Side-pass-1")
    try:
        msgid = sender.envoi([DEST])  # accepted while no delivery process runs
        (again,) = wait_for(lambda: children(server.pid))
        assert again != child
        assert sender.wait_final([msgid], 30.0) == {msgid: delivery.DELIVERED}
    finally:
        sender.close()
    assert "delivery process died; starting it again" in server.log_text()


def test_sigterm_stops_both_processes_cleanly(servers: Any) -> None:
    """SIGTERM on `serve`: the child stops too, and `serve` exits 0."""
    server = servers.new("sidecar-stop")
    server.start()
    (child,) = wait_for(lambda: children(server.pid))
    assert server.stop() == 0
    assert (
        not Path(f"/proc/{child}").exists()
        or b"passerelle.sidecar" not in Path(f"/proc/{child}/cmdline").read_bytes()
    )


def test_one_process_when_asked(servers: Any, delivery: Any) -> None:
    """PASSERELLE_DELIVERY_PROCESS=false: no child, the same process delivers."""
    server = servers.new(
        "sidecar-off", PASSERELLE_DELIVERY_PROCESS="false", PASSERELLE_SIMULATOR_DELAY_S="0"
    )
    server.create_account("Side", "Side-pass-1", credits=10)
    server.start()
    wait_for(lambda: bound_line(server).endswith(" 1.0"))
    assert children(server.pid) == []
    assert binder_after_one_delivery(server, delivery) == server.pid


def test_a_delivery_process_stopped_on_purpose_stays_stopped(servers: Any) -> None:
    """SIGTERM to the child alone (as Ctrl-C to the group): not restarted, /readyz says so."""
    server = servers.new("sidecar-sigterm", log_level="info")
    server.start()
    (child,) = wait_for(lambda: children(server.pid))
    os.kill(child, signal.SIGTERM)
    wait_for(lambda: "delivery process stopped" in server.log_text())
    assert not_ready(server) == "delivery process not answering"
    time.sleep(1.5)  # past the restart pause: still no child
    assert children(server.pid) == []
    assert "starting it again" not in server.log_text()
