"""When `serve` runs the delivery in a child process of its own (`sidecar.wanted`)."""

from __future__ import annotations

from passerelle.settings import Settings
from passerelle.sidecar import wanted


def test_api_and_delivery_together_get_a_delivery_process() -> None:
    """The defaults (API and delivery in one `serve`) split; the setting keeps one process."""
    assert wanted(Settings.load(database_url="sqlite:///x.db"))
    assert not wanted(Settings.load(database_url="sqlite:///x.db", delivery_process=False))


def test_a_process_with_one_of_the_two_roles_does_not_split() -> None:
    """`--role api` or `--role delivery` alone runs in its own process as it is."""
    assert not wanted(Settings.load(database_url="sqlite:///x.db", delivery=False))
    assert not wanted(Settings.load(database_url="sqlite:///x.db", api=False))


def test_the_memory_twin_never_splits() -> None:
    """On `memory://` a child would have a store of its own: delivery stays in-process."""
    assert not wanted(Settings.load(database_url="memory://"))
