"""The deal of connectors to live delivery processes (`core.ownership.share`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.ownership import share


def test_connectors_dealt_round_robin_in_name_order() -> None:
    """Four connectors, two processes: two each, in name order."""
    names = ["op4", "op1", "op3", "op2"]
    assert share(names, ["b", "a"], "a") == {"op1", "op3"}
    assert share(names, ["b", "a"], "b") == {"op2", "op4"}


def test_alone_or_unlisted_takes_its_place() -> None:
    """A process alone binds everything; one missing from the list counts itself in."""
    assert share(["x", "y"], [], "me") == {"x", "y"}
    assert share(["x", "y"], ["other"], "me") == {"x"}


@given(
    names=st.sets(st.text(min_size=1, max_size=4), max_size=12),
    workers=st.sets(st.text(min_size=1, max_size=4), min_size=1, max_size=6),
)
def test_every_connector_has_exactly_one_process(names: set[str], workers: set[str]) -> None:
    """Whatever the lists, the shares partition the connectors, within one of even."""
    shares = [share(names, sorted(workers), w) for w in workers]
    assert sorted(n for s in shares for n in s) == sorted(names)
    sizes = [len(s) for s in shares]
    assert max(sizes) - min(sizes) <= 1
