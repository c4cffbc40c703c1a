"""Recipients whose route names no bound connector: they wait without starving the
others, and the supervisor counts them (gauge, readiness reason, one warning)."""

from __future__ import annotations

import logging

import pytest

from passerelle.core.routing import Route
from passerelle.core.states import RecipientState as S
from passerelle.core.values import Connector
from passerelle.delivery import stranded
from tests.integration import test_delivery_modes
from tests.integration.test_delivery_modes import Rig, all_final

rig = test_delivery_modes.rig  # the same delivery rig (real SQLite, links, simulators)

UK = tuple(f"4477009001{i:02d}" for i in range(30))


async def dead_uk_route(rig: Rig) -> None:
    """fr is a bound operator for 33; uk, disabled, is the only connector for 44."""
    await rig.operator("fr")
    await rig.store.add_connector(Connector("uk", "127.0.0.1", 9, "gw", "pw", enabled=False))
    await rig.store.add_route(Route(10, "33", ("fr",)), at=0)
    await rig.store.add_route(Route(10, "44", ("uk",)), at=0)
    await rig.go()


def unroutable(rig: Rig) -> float | None:
    return rig.metrics.registry.get_sample_value("passerelle_unroutable_recipients")


async def test_dead_route_does_not_starve_routable_recipients(rig: Rig) -> None:
    """Recipients behind a dead route stay queued without starving a later routable one."""
    await dead_uk_route(rig)
    stuck = await rig.send(*UK)
    french = await rig.send("33612345678")
    [delivered] = await rig.settle(french, all_final, within=10.0)
    assert delivered.state is S.DELIVERED
    states = await rig.store.message_states(rig.account.id, stuck)
    assert {s.state for s in states} == {S.QUEUED}
    assert await rig.store.balance(rig.account.id) == 100 - 31  # nothing refunded


async def test_stranded_recipients_are_counted_and_warned_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """Stranded recipients: gauge and readiness count them, one warning, an info line at the end."""
    await dead_uk_route(rig)
    await rig.send("447700900101", "447700900102", "33612345678", "49151000000")
    caplog.set_level(logging.INFO, logger="passerelle.routes")
    for _ in range(3):
        await rig.supervisor.recount()
    assert unroutable(rig) == 2
    assert rig.supervisor.not_ready() == [
        "no usable route for 2 queued recipients: 44 → uk (uk is disabled)"
    ]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "2 queued recipients have no usable route: they wait until a connector their route "
        "names is bound (44 → uk (uk is disabled))"
    ]
    await rig.store.remove_connector("uk", with_routes=True)
    await rig.store.add_route(Route(10, "44", ("fr",)), at=0)
    await rig.supervisor.refresh()
    await rig.supervisor.recount()
    assert unroutable(rig) == 0 and rig.supervisor.not_ready() == []
    assert caplog.records[-1].getMessage() == "every queued recipient has a usable route again"


def test_check_routes_says_why_each_dead_rule_is_dead() -> None:
    """A rule with no bound connector is described: not a connector, disabled, or not bound."""
    check = stranded.check_routes(
        [
            Route(1, "336", ("ghost", "off", "down")),
            Route(2, "33", ("down", "up")),
            Route(3, "", ()),
        ],
        bound=lambda name: name == "up",
        stored={"off", "down", "up"},
        enabled={"down", "up"},
    )
    assert check.prefixes == ("336", "33", "")
    assert check.usable == ("33",)
    assert check.dead == (
        "336 → ghost, off, down (ghost is not a connector; off is disabled; down is not bound)",
        "default → nothing (no connector)",
    )
