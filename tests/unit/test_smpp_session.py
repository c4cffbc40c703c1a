"""The sans-IO ESME session: bytes out, events in, window and timers, no sockets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from passerelle.smpp.frame import decode, encode
from passerelle.smpp.pdu import (
    BindKind,
    BindResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from passerelle.smpp.session import (
    Answered,
    BindFailed,
    Bound,
    Dead,
    Incoming,
    PeerUnbound,
    Session,
    State,
    TimedOut,
    WindowFull,
)

SM = SubmitSm(0, destination_addr="33612345678", short_message=b"hi")


def bound(window: int = 2) -> Session:
    session = Session(window=window, response_timeout=5, enquire_interval=30, now=0)
    session.bind(BindKind.TRANSCEIVER, "bench", "pw", "", now=0)
    session.outgoing()
    assert session.receive(encode(BindResp(1, 0, BindKind.TRANSCEIVER, "smsc")), now=0) == [
        Bound(BindResp(1, 0, BindKind.TRANSCEIVER, "smsc"))
    ]
    return session


def test_bind_bytes() -> None:
    """bind_transceiver bench/pw is the exact frame of the spec, sequence 1."""
    session = Session(window=10, response_timeout=5, enquire_interval=30, now=0)
    session.bind(BindKind.TRANSCEIVER, "bench", "pw", "", now=0)
    assert session.outgoing().hex() == (
        "0000001e00000009000000000000000162656e6368007077000034000000"
    )
    assert session.state is State.BINDING


def test_bind_refused() -> None:
    """A bind_resp with an error status is BindFailed and closes the session."""
    session = Session(window=10, response_timeout=5, enquire_interval=30, now=0)
    session.bind(BindKind.TRANSCEIVER, "bench", "bad", "", now=0)
    events = session.receive(encode(BindResp(1, 0x0E, BindKind.TRANSCEIVER)), now=1)
    assert events == [BindFailed(0x0E)] and session.state is State.CLOSED


def test_submit_answer_frees_window() -> None:
    """Submits take window slots; their answers free them and carry the token."""
    session = bound(window=2)
    s1 = session.submit(SM, "a", now=1)
    s2 = session.submit(SM, "b", now=1)
    assert not session.can_submit
    try:
        session.submit(SM, "c", now=1)
        raise AssertionError("window exceeded")
    except WindowFull:
        pass
    frames = session.outgoing()
    assert decode(frames[: len(frames) // 2]).sequence == s1
    events = session.receive(encode(SubmitSmResp(s2, 0, "id-2")), now=2)
    assert events == [Answered("b", SubmitSmResp(s2, 0, "id-2"))]
    assert session.can_submit and session.in_flight == 1
    nack = session.receive(encode(GenericNack(s1, 0x58)), now=2)
    assert nack == [Answered("a", GenericNack(s1, 0x58))]


def test_coalesced_and_split_reads() -> None:
    """Two answers in one read, and one answer split over two reads, both decode."""
    session = bound(window=3)
    seqs = [session.submit(SM, i, now=1) for i in range(3)]
    data = b"".join(encode(SubmitSmResp(s, 0, f"m{s}")) for s in seqs)
    first = session.receive(data[:30], now=2)
    rest = session.receive(data[30:], now=2)
    assert [e.token for e in first + rest if isinstance(e, Answered)] == [0, 1, 2]


def test_timeout_reports_token_and_frees_slot() -> None:
    """An unanswered submit times out after response_timeout."""
    session = bound(window=1)
    session.submit(SM, "late", now=10)
    assert session.tick(now=14.9) == []
    assert session.tick(now=15) == [TimedOut("late")]
    assert session.can_submit


def test_enquire_link_sent_when_idle_and_answered_when_asked() -> None:
    """Idle for enquire_interval: an enquire_link goes out; the peer's is answered."""
    session = bound()
    session.tick(now=31)
    sent = decode(session.outgoing())
    assert isinstance(sent, EnquireLink)
    assert session.tick(now=37) == [Dead("enquire_link unanswered")]


def test_peer_enquire_link_answered() -> None:
    """The peer's enquire_link gets an enquire_link_resp with its sequence."""
    session = bound()
    session.receive(encode(EnquireLink(77)), now=1)
    assert session.outgoing().hex() == "0000001080000015000000000000004d"


def test_incoming_deliver_and_respond() -> None:
    """A deliver_sm is an Incoming event; respond() sends the deliver_sm_resp."""
    session = bound()
    pdu = DeliverSm(9, esm_class=4, short_message=b"id:1 stat:DELIVRD")
    assert session.receive(encode(pdu), now=1) == [Incoming(pdu)]
    session.respond(DeliverSmResp(9))
    assert session.outgoing() == encode(DeliverSmResp(9))


def test_peer_unbind() -> None:
    """The operator's unbind is answered and closes the session."""
    session = bound()
    assert session.receive(encode(Unbind(5)), now=1) == [PeerUnbound()]
    assert session.state is State.CLOSED


def test_garbage_length_is_dead() -> None:
    """A frame with command_length 8 loses framing: Dead."""
    session = bound()
    events = session.receive(bytes.fromhex("00000008000000150000000000000001"), now=1)
    assert isinstance(events[0], Dead)


def test_unknown_command_is_nacked() -> None:
    """A well-framed unknown command gets generic_nack ESME_RINVCMDID."""
    session = bound()
    session.receive(bytes.fromhex("00000010000000030000000000000009"), now=1)
    assert session.outgoing() == encode(GenericNack(9, 0x03))


def test_abandon_returns_unanswered_tokens() -> None:
    """On a lost connection, every unanswered submit's token comes back."""
    session = bound(window=3)
    session.submit(SM, "x", now=1)
    session.submit(SM, "y", now=1)
    assert session.abandon() == ["x", "y"] and session.in_flight == 0


@given(
    st.lists(st.sampled_from(["submit", "answer", "tick"]), max_size=200),
    st.integers(min_value=1, max_value=10),
)
def test_window_never_exceeded(ops: list[str], window: int) -> None:
    """Whatever the interleaving, outstanding submits never exceed the window."""
    session = bound(window=window)
    now = 1.0
    sent: list[int] = []
    for op in ops:
        now += 0.5
        if op == "submit" and session.can_submit:
            sent.append(session.submit(SM, None, now))
        elif op == "answer" and sent:
            session.receive(encode(SubmitSmResp(sent.pop(0), 0, "x")), now)
        else:
            session.tick(now)
            if session.state is not State.BOUND:
                return
        assert 0 <= session.in_flight <= window
