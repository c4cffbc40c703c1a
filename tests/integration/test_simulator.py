"""The built-in SMSC simulator over real loopback sockets, driven by a tiny test ESME."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from passerelle.core.receipts import IdMode, Receipt, normalise_id, parse_receipt
from passerelle.exceptions import ConfigError
from passerelle.simulator import (
    IdFormat,
    Malformation,
    Mode,
    OutcomeKey,
    Simulator,
    SimulatorConfig,
    run_standalone,
)
from passerelle.simulator.receipt import Pending, ReceiptWriter
from passerelle.simulator.state import load_state
from passerelle.smpp.frame import HEADER, FrameReader, PduError, decode, encode
from passerelle.smpp.pdu import (
    Bind,
    BindKind,
    BindResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from passerelle.smpp.status import Status
from passerelle.smpp.tlv import MessageState, Tlv, find_bytes, find_int, find_str

RECEIPT_TEXT = re.compile(
    r"id:(\w+) sub:001 dlvrd:00[01] submit date:\d{10} done date:\d{10} "
    r"stat:(DELIVRD|UNDELIV|EXPIRED|REJECTD) err:\d{3} text:(.{0,20})$"
)


class Esme:
    """A minimal SMPP client on asyncio streams, speaking through the codec."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = FrameReader()
        self.sequence = 0
        self.stash: list[Pdu] = []

    def next_sequence(self) -> int:
        """A fresh sequence number."""
        self.sequence += 1
        return self.sequence

    def send(self, *pdus: Pdu) -> None:
        """Write PDUs (buffered; flushed by the next read)."""
        self.writer.write(b"".join(encode(p) for p in pdus))

    async def read_frame(self, timeout: float = 2.0) -> bytes:
        """The next raw frame; ConnectionError at end of stream."""
        while (frame := self.frames.next_frame()) is None:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed by the simulator")
            self.frames.feed(data)
        return frame

    async def read(self, timeout: float = 2.0) -> Pdu:
        """The next PDU (those put aside by `submit_resp` first)."""
        if self.stash:
            return self.stash.pop(0)
        return decode(await self.read_frame(timeout))

    async def silent(self, seconds: float) -> bool:
        """True when nothing arrives for `seconds`."""
        try:
            await self.read_frame(seconds)
        except TimeoutError:
            return True
        return False

    async def closed(self, timeout: float = 2.0) -> bool:
        """True when the simulator closes the connection within `timeout` (frames ignored)."""
        try:
            while True:
                await self.read_frame(timeout)
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    async def bind(
        self, kind: BindKind = BindKind.TRANSCEIVER, system_id: str = "esme", password: str = "pw"
    ) -> BindResp:
        """Bind and return the bind_resp."""
        self.send(Bind(self.next_sequence(), kind=kind, system_id=system_id, password=password))
        resp = await self.read()
        assert isinstance(resp, BindResp)
        return resp

    def submit(
        self, destination: str = "33600000001", text: bytes = b"Hello world", registered: int = 1
    ) -> int:
        """Send a submit_sm; return its sequence."""
        sequence = self.next_sequence()
        self.send(
            SubmitSm(
                sequence,
                source_addr_ton=5,
                source_addr="Passerelle",
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=destination,
                registered_delivery=registered,
                short_message=text,
            )
        )
        return sequence

    async def submit_resp(self, **kwargs: Any) -> SubmitSmResp:
        """Submit and read the submit_sm_resp; receipts before it are put aside for `read`."""
        sequence = self.submit(**kwargs)
        while True:
            pdu = decode(await self.read_frame())
            if not isinstance(pdu, DeliverSm):
                break
            self.stash.append(pdu)
        assert isinstance(pdu, SubmitSmResp) and pdu.sequence == sequence, pdu
        return pdu

    async def receipt(self, ack: bool = True, timeout: float = 2.0) -> DeliverSm:
        """The next deliver_sm, acknowledged unless told otherwise."""
        pdu = await self.read(timeout)
        assert isinstance(pdu, DeliverSm), pdu
        if ack:
            self.send(DeliverSmResp(pdu.sequence))
        return pdu

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()


class Lab:
    """Starts simulators and clients; stops them all at teardown."""

    def __init__(self) -> None:
        self.simulators: list[Simulator] = []
        self.clients: list[Esme] = []

    async def start(self, **options: Any) -> Simulator:
        """A started simulator with these options."""
        simulator = Simulator(SimulatorConfig(**options))
        await simulator.start()
        self.simulators.append(simulator)
        return simulator

    async def connect(self, simulator: Simulator) -> Esme:
        """A connected, unbound client."""
        reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
        client = Esme(reader, writer)
        self.clients.append(client)
        return client

    async def bound(self, simulator: Simulator, **kwargs: Any) -> Esme:
        """A client bound (transceiver unless told otherwise)."""
        client = await self.connect(simulator)
        resp = await client.bind(**kwargs)
        assert resp.command_status == 0
        return client


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    """Simulators and clients, cleaned up after the test."""
    lab = Lab()
    yield lab
    for client in lab.clients:
        client.close()
    for simulator in lab.simulators:
        await simulator.stop()


def receipt_of(pdu: DeliverSm) -> Receipt:
    """The receipt a deliver_sm carries, read as the gateway reads it."""
    receipt = parse_receipt(
        pdu.short_message,
        receipted_message_id=find_str(pdu.tlvs, Tlv.RECEIPTED_MESSAGE_ID),
        message_state=find_int(pdu.tlvs, Tlv.MESSAGE_STATE),
    )
    assert receipt is not None
    return receipt


# -- binds and housekeeping


async def test_bind_accepts_any_credentials_when_none_configured(lab: Lab) -> None:
    """Without configured credentials every bind kind succeeds and names the SMSC."""
    sim = await lab.start()
    for kind in BindKind:
        client = await lab.connect(sim)
        resp = await client.bind(kind, system_id=f"any-{kind.name}", password="whatever")
        assert (resp.command_status, resp.kind, resp.system_id) == (0, kind, "passerelle-sim")
    assert sim.stats.binds == 3


async def test_bind_checks_configured_credentials(lab: Lab) -> None:
    """A wrong system_id gets ESME_RBINDFAIL, a wrong password ESME_RINVPASWD."""
    sim = await lab.start(system_id="gw", password="s3cret")
    client = await lab.connect(sim)
    assert (await client.bind(system_id="other", password="s3cret")).command_status == 0x0D
    assert (await client.bind(system_id="gw", password="nope")).command_status == 0x0E
    assert (await client.bind(system_id="gw", password="s3cret")).command_status == 0
    assert (await client.bind(system_id="gw", password="s3cret")).command_status == 0x05
    assert sim.stats.binds_refused == 2


async def test_refuse_bind_mode_refuses_every_bind(lab: Lab) -> None:
    """REFUSE_BIND answers every bind with ESME_RBINDFAIL, even good credentials."""
    sim = await lab.start(modes=frozenset({Mode.REFUSE_BIND}))
    client = await lab.connect(sim)
    assert (await client.bind()).command_status == Status.ESME_RBINDFAIL


async def test_submit_needs_a_transmitting_bind(lab: Lab) -> None:
    """submit_sm before bind, or on a receiver bind, gets ESME_RINVBNDSTS."""
    sim = await lab.start()
    client = await lab.connect(sim)
    assert (await client.submit_resp()).command_status == Status.ESME_RINVBNDSTS
    await client.bind(BindKind.RECEIVER)
    assert (await client.submit_resp()).command_status == Status.ESME_RINVBNDSTS
    assert sim.stats.submits == 0


async def test_enquire_link_is_answered_bound_or_not(lab: Lab) -> None:
    """enquire_link gets enquire_link_resp with the same sequence."""
    sim = await lab.start()
    client = await lab.connect(sim)
    client.send(EnquireLink(41))
    assert await client.read() == EnquireLinkResp(41)
    await client.bind()
    client.send(EnquireLink(42))
    assert await client.read() == EnquireLinkResp(42)


async def test_unbind_is_answered_then_closed(lab: Lab) -> None:
    """unbind gets unbind_resp, then the simulator closes the connection."""
    sim = await lab.start()
    client = await lab.bound(sim)
    client.send(Unbind(7))
    assert await client.read() == UnbindResp(7)
    assert await client.closed()


async def test_stop_unbinds_sessions(lab: Lab) -> None:
    """stop sends unbind to bound sessions and closes after their unbind_resp."""
    sim = await lab.start()
    client = await lab.bound(sim)
    stopping = asyncio.create_task(sim.stop())
    unbind = await client.read()
    assert isinstance(unbind, Unbind)
    client.send(UnbindResp(unbind.sequence))
    assert await client.closed()
    await asyncio.wait_for(stopping, 1.0)


async def test_stop_aborts_sessions_that_do_not_answer_unbind(lab: Lab) -> None:
    """stop does not wait past unbind_timeout for an ESME that ignores the unbind."""
    sim = await lab.start(unbind_timeout=0.1)
    client = await lab.bound(sim)
    await asyncio.wait_for(sim.stop(), 1.0)
    assert isinstance(await client.read(), Unbind)
    assert await client.closed()


async def test_unknown_command_gets_generic_nack_and_session_lives(lab: Lab) -> None:
    """An unknown command_id gets generic_nack ESME_RINVCMDID; the session goes on."""
    sim = await lab.start()
    client = await lab.bound(sim)
    client.writer.write(HEADER.pack(16, 0x00000BAD, 0, 99))
    assert await client.read() == GenericNack(99, Status.ESME_RINVCMDID)
    assert (await client.submit_resp()).command_status == 0


async def test_framing_error_gets_generic_nack_then_close(lab: Lab) -> None:
    """A command_length under 16 gets generic_nack ESME_RINVCMDLEN and the connection closes."""
    sim = await lab.start()
    client = await lab.bound(sim)
    client.writer.write(HEADER.pack(8, 4, 0, 5))
    nack = await client.read()
    assert isinstance(nack, GenericNack) and nack.command_status == Status.ESME_RINVCMDLEN
    assert await client.closed()


async def test_non_loopback_host_needs_allow_remote() -> None:
    """The simulator listens on loopback only, unless allow_remote says otherwise."""
    with pytest.raises(ConfigError):
        SimulatorConfig(host="0.0.0.0")
    assert SimulatorConfig(host="0.0.0.0", allow_remote=True).host == "0.0.0.0"
    assert SimulatorConfig(host="::1").host == "::1"


# -- submits and receipts


async def test_submit_gets_id_then_receipt_with_tlvs_and_text(lab: Lab) -> None:
    """submit_sm_resp carries a fresh decimal id; the receipt names it in TLVs and text."""
    sim = await lab.start(id_start=1000)
    client = await lab.bound(sim)
    first = await client.submit_resp(text=b"Hello world, this is longer than twenty")
    deliver = await client.receipt()
    second = await client.submit_resp(destination="33600000002")
    await client.receipt()
    assert (first.message_id, second.message_id) == ("1000", "1001")
    assert deliver.esm_class == 0x04
    assert (deliver.source_addr, deliver.source_addr_ton) == ("33600000001", 1)
    assert (deliver.destination_addr, deliver.dest_addr_ton) == ("Passerelle", 5)
    assert find_str(deliver.tlvs, Tlv.RECEIPTED_MESSAGE_ID) == "1000"
    assert find_int(deliver.tlvs, Tlv.MESSAGE_STATE) == MessageState.DELIVERED
    match = RECEIPT_TEXT.match(deliver.short_message.decode("latin-1"))
    assert match is not None
    assert match.groups() == ("1000", "DELIVRD", "Hello world, this is")
    receipt = receipt_of(deliver)
    assert (receipt.message_id, receipt.stat, receipt.err, receipt.final) == (
        "1000",
        "DELIVRD",
        "000",
        True,
    )
    await asyncio.sleep(0.05)
    assert (sim.stats.receipts_sent, sim.stats.receipts_acked) == (2, 2)
    assert sim.pending_receipts == 0


async def test_default_ids_follow_the_clock(lab: Lab) -> None:
    """Without id_start, ids start from the clock in µs, so a restart never reuses one."""
    sim = await lab.start()
    client = await lab.bound(sim)
    resp = await client.submit_resp(registered=0)
    assert int(resp.message_id) > 1_600_000_000 * 10**6


async def test_receipt_waits_for_the_delay(lab: Lab) -> None:
    """The receipt comes `delay` seconds after the submit, not before."""
    sim = await lab.start(delay=0.3)
    client = await lab.bound(sim)
    await client.submit_resp()
    assert await client.silent(0.15)
    await client.receipt(timeout=1.0)


async def test_no_receipt_unless_asked(lab: Lab) -> None:
    """registered_delivery 0 gets no receipt; 2 gets one only for a failure."""
    sim = await lab.start(deliver_ratio=0.5, id_start=0)
    client = await lab.bound(sim)
    await client.submit_resp(registered=0)
    await client.submit_resp(registered=2)  # number 1: delivered, so no receipt
    await client.submit_resp(registered=2)  # number 2: undelivered, receipt
    assert receipt_of(await client.receipt()).stat == "UNDELIV"
    assert await client.silent(0.1)


async def test_deliver_ratio_is_exact_over_consecutive_messages(lab: Lab) -> None:
    """deliver_ratio 0.7 gives exactly 70 DELIVRD and 30 UNDELIV over 100 messages."""
    sim = await lab.start(deliver_ratio=0.7, seed=12345)
    client = await lab.bound(sim)
    stats: dict[str, int] = {}
    for _ in range(100):
        client.submit()
    ids: list[str] = []
    while len(ids) < 100 or sum(stats.values()) < 100:
        pdu = await client.read()
        if isinstance(pdu, SubmitSmResp):
            ids.append(pdu.message_id)
        else:
            assert isinstance(pdu, DeliverSm)
            client.send(DeliverSmResp(pdu.sequence))
            stat = receipt_of(pdu).stat
            stats[stat] = stats.get(stat, 0) + 1
            state = find_int(pdu.tlvs, Tlv.MESSAGE_STATE)
            assert state == (2 if stat == "DELIVRD" else 5)
    assert stats == {"DELIVRD": 70, "UNDELIV": 30}
    assert sim.stats.outcomes == stats
    assert len(set(ids)) == 100


async def test_ratios_split_the_failures_exactly(lab: Lab) -> None:
    """Deliver 0.5, expire 0.2, reject 0.1 over 100 messages: 50/20/10 and 20 UNDELIV."""
    sim = await lab.start(deliver_ratio=0.5, expire_ratio=0.2, reject_ratio=0.1, seed=3)
    client = await lab.bound(sim, kind=BindKind.TRANSMITTER)  # receipts wait: no receiver
    for _ in range(100):
        await client.submit_resp()
    assert sim.stats.outcomes == {"DELIVRD": 50, "EXPIRED": 20, "REJECTD": 10, "UNDELIV": 20}


async def test_outcome_by_destination_is_stable_per_number(lab: Lab) -> None:
    """outcome_by destination gives a number the same outcome every time it is sent."""
    sim = await lab.start(deliver_ratio=0.5, outcome_by=OutcomeKey.DESTINATION, seed=7)
    client = await lab.bound(sim)
    first: list[str] = []
    for round_ in range(2):
        for n in range(20):
            await client.submit_resp(destination=f"336000000{n:02d}")
            stat = receipt_of(await client.receipt()).stat
            if round_ == 0:
                first.append(stat)
            else:
                assert stat == first[n]
    assert {"DELIVRD", "UNDELIV"} == set(first)
    assert sim.stats.duplicate_accepts == 20


async def test_receipts_go_to_a_receiver_of_the_same_system_id(lab: Lab) -> None:
    """A transmitter's receipts reach the receiver bound with its system_id, no other."""
    sim = await lab.start()
    other = await lab.bound(sim, kind=BindKind.RECEIVER, system_id="someone-else")
    receiver = await lab.bound(sim, kind=BindKind.RECEIVER, system_id="gw")
    sender = await lab.bound(sim, kind=BindKind.TRANSMITTER, system_id="gw")
    resp = await sender.submit_resp()
    assert receipt_of(await receiver.receipt()).message_id == resp.message_id
    assert await other.silent(0.1)
    assert await sender.silent(0.01)


async def test_receipts_wait_until_a_receiver_binds(lab: Lab) -> None:
    """Receipts owed to a system_id with no receiver bound are kept until one binds."""
    sim = await lab.start()
    sender = await lab.bound(sim, kind=BindKind.TRANSMITTER)
    ids = [(await sender.submit_resp()).message_id for _ in range(3)]
    await asyncio.sleep(0.05)
    assert sim.pending_receipts == 3 and sim.stats.receipts_sent == 0
    receiver = await lab.bound(sim, kind=BindKind.RECEIVER)
    assert [receipt_of(await receiver.receipt()).message_id for _ in ids] == ids


async def test_unacked_receipts_are_resent_after_reconnect(lab: Lab) -> None:
    """Receipts not acknowledged when the connection drops come again after the next bind."""
    sim = await lab.start()
    client = await lab.bound(sim)
    ids = [(await client.submit_resp()).message_id for _ in range(3)]
    for _ in ids:
        await client.receipt(ack=False)
    client.close()
    await asyncio.sleep(0.05)
    assert sim.stats.receipts_requeued == 3
    again = await lab.bound(sim)
    assert [receipt_of(await again.receipt()).message_id for _ in ids] == ids
    await asyncio.sleep(0.05)
    assert (sim.stats.receipts_acked, sim.pending_receipts) == (3, 0)


async def test_receipt_window_limits_unacknowledged_deliver_sm(lab: Lab) -> None:
    """At most receipt_window deliver_sm are outstanding; acks let the next ones go."""
    sim = await lab.start(receipt_window=4)
    client = await lab.bound(sim)
    for _ in range(10):
        await client.submit_resp()
    held = [await client.receipt(ack=False) for _ in range(4)]
    assert await client.silent(0.1)
    client.send(*(DeliverSmResp(pdu.sequence) for pdu in held))
    for _ in range(6):
        await client.receipt()
    assert await client.silent(0.05)


async def test_receipt_answered_with_error_is_sent_again(lab: Lab) -> None:
    """A receipt answered with an error status is sent again receipt_retry seconds later."""
    sim = await lab.start(receipt_retry=0.1)
    client = await lab.bound(sim)
    resp = await client.submit_resp()
    first = await client.receipt(ack=False)
    client.send(DeliverSmResp(first.sequence, Status.ESME_RX_T_APPN))
    again = await client.receipt(timeout=1.0)
    assert receipt_of(again).message_id == resp.message_id
    assert sim.stats.receipts_nacked == 1


# -- persistence and stats


async def test_state_file_restart_delivers_pending_receipts(lab: Lab, tmp_path: Path) -> None:
    """A simulator restarted on its state file delivers the receipts it owed, new ids after."""
    state = tmp_path / "sim-state.json"
    first = await lab.start(state_file=state, id_start=500)
    sender = await lab.bound(first, kind=BindKind.TRANSMITTER)
    ids = [(await sender.submit_resp(destination=f"3361000000{n}")).message_id for n in range(5)]
    sender.close()
    await first.stop()
    saved = load_state(state)
    assert saved is not None and len(saved.pending) == 5
    second = await lab.start(state_file=state, id_start=1)
    receiver = await lab.bound(second)
    receipts = [receipt_of(await receiver.receipt()) for _ in ids]
    assert [r.message_id for r in receipts] == ids
    assert (await receiver.submit_resp()).message_id == "505"
    assert second.stats.receipts_loaded == 5


async def test_state_file_keeps_receipts_in_flight_at_stop(lab: Lab, tmp_path: Path) -> None:
    """Receipts sent but not acknowledged when the simulator stops are owed after restart."""
    state = tmp_path / "sim-state.json"
    first = await lab.start(state_file=state, unbind_timeout=0.1)
    client = await lab.bound(first)
    resp = await client.submit_resp()
    await client.receipt(ack=False)
    await first.stop()
    second = await lab.start(state_file=state)
    again = await lab.bound(second)
    assert receipt_of(await again.receipt()).message_id == resp.message_id


async def test_state_file_is_saved_periodically(lab: Lab, tmp_path: Path) -> None:
    """While running, the state file follows the pending receipts every state_interval."""
    state = tmp_path / "sim-state.json"
    sim = await lab.start(state_file=state, state_interval=0.05, id_start=1)
    sender = await lab.bound(sim, kind=BindKind.TRANSMITTER)
    for _ in range(4):
        await sender.submit_resp()
    await asyncio.sleep(0.2)
    saved = load_state(state)
    assert saved is not None
    assert (saved.next_number, len(saved.pending)) == (5, 4)


async def test_stats_count_and_stats_file(lab: Lab, tmp_path: Path) -> None:
    """Stats count submits, duplicates and receipts; the stats file carries them and the port."""
    stats_file = tmp_path / "stats.json"
    sim = await lab.start(stats_file=stats_file, stats_interval=0.05)
    client = await lab.bound(sim)
    for destination in ("33600000001", "33600000002", "33600000001"):
        await client.submit_resp(destination=destination)
        await client.receipt()
    await asyncio.sleep(0.2)
    assert sim.stats.accepted_by_destination == {"33600000001": 2, "33600000002": 1}
    written = json.loads(stats_file.read_text())
    assert written["port"] == sim.port
    assert (written["submits"], written["duplicate_accepts"], written["destinations"]) == (3, 1, 2)
    assert written["receipts_acked"] == 3
    assert written["first_submit_at"] <= written["last_submit_at"]
    assert written["last_receipt_acked_at"] >= written["last_submit_at"]


async def test_run_standalone_serves_until_cancelled(tmp_path: Path) -> None:
    """run_standalone serves (its port in the stats file) and stops cleanly when cancelled."""
    stats_file = tmp_path / "stats.json"
    task = asyncio.create_task(run_standalone(SimulatorConfig(stats_file=stats_file)))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if stats_file.exists():
            break
    port = json.loads(stats_file.read_text())["port"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Esme(reader, writer)
    assert (await client.bind()).command_status == 0
    assert (await client.submit_resp(registered=0)).command_status == 0
    task.cancel()
    unbind = await client.read()
    assert isinstance(unbind, Unbind)
    client.send(UnbindResp(unbind.sequence))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert json.loads(stats_file.read_text())["submits"] == 1
    client.close()


def test_receipt_frame_is_the_codec_encoding() -> None:
    """The hand-written receipt frame equals the codec's encoding of the same deliver_sm."""
    submit = SubmitSm(
        1,
        source_addr_ton=5,
        source_addr="Shop",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="33612345678",
        data_coding=0x08,
        short_message="Été ☀ à la plage, vraiment".encode("utf-16-be"),
    )
    pending = Pending.of_submit("gw", 123456789, "EXPIRED", 1.7e9, 1.7e9, submit)
    assert pending.text == "?t? ? ? la plage, vr"
    for ids in IdFormat:
        for tlvs in (True, False):
            writer = ReceiptWriter(ids, tlvs)
            frame = writer.frame(pending, 42, 1.7e9 + 60)
            assert frame == encode(writer.pdu(pending, 42, 1.7e9 + 60))
            assert decode(frame) == writer.pdu(pending, 42, 1.7e9 + 60)


async def test_standalone_process_stops_on_sigterm(tmp_path: Path) -> None:
    """A standalone simulator process logs its port, serves, and exits 0 on SIGTERM."""
    stats_file = tmp_path / "stats.json"
    code = (
        "import asyncio, logging, pathlib, sys\n"
        "from passerelle.simulator import SimulatorConfig, run_standalone\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        f"asyncio.run(run_standalone(SimulatorConfig(stats_file=pathlib.Path({str(stats_file)!r}))))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    line = (await asyncio.wait_for(process.stderr.readline(), 10)).decode()
    port = int(re.findall(r"port (\d+)", line)[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Esme(reader, writer)
    assert (await client.bind()).command_status == 0
    process.send_signal(signal.SIGTERM)
    unbind = await client.read()
    assert isinstance(unbind, Unbind)
    client.send(UnbindResp(unbind.sequence))
    assert await asyncio.wait_for(process.wait(), 10) == 0
    assert json.loads(stats_file.read_text())["binds"] == 1
    client.close()


# -- ids


@pytest.mark.parametrize(
    ("options", "resp_hex", "receipt_hex"),
    [
        ({"modes": frozenset({Mode.HEX_IDS})}, True, False),
        ({"id_format": IdFormat.HEX}, True, True),
        ({"id_format": IdFormat.HEX_RECEIPT}, False, True),
    ],
)
async def test_hex_ids(
    lab: Lab, options: dict[str, Any], resp_hex: bool, receipt_hex: bool
) -> None:
    """Hex ids where asked: HEX_IDS is hex in submit_sm_resp and decimal in receipts."""
    sim = await lab.start(id_start=0xABCDEF, **options)
    client = await lab.bound(sim)
    resp = await client.submit_resp()
    receipt = receipt_of(await client.receipt())
    assert resp.message_id == ("abcdef" if resp_hex else str(0xABCDEF))
    assert receipt.message_id == ("abcdef" if receipt_hex else str(0xABCDEF))
    if resp_hex and not receipt_hex:
        assert normalise_id(receipt.message_id, IdMode.DEC_TO_HEX) == resp.message_id


# -- failure modes


async def test_no_answer_mode_never_answers_submits(lab: Lab) -> None:
    """NO_ANSWER leaves submit_sm unanswered, with no receipt, yet answers enquire_link."""
    sim = await lab.start(modes=frozenset({Mode.NO_ANSWER}))
    client = await lab.bound(sim)
    client.submit()
    assert await client.silent(0.2)
    client.send(EnquireLink(77))
    assert await client.read() == EnquireLinkResp(77)
    assert (sim.stats.submits_unanswered, sim.pending_receipts) == (1, 0)


@pytest.mark.parametrize(
    ("mode", "status"),
    [(Mode.THROTTLE, Status.ESME_RTHROTTLED), (Mode.QUEUE_FULL, Status.ESME_RMSGQFUL)],
)
async def test_every_nth_submit_refused(lab: Lab, mode: Mode, status: int) -> None:
    """THROTTLE / QUEUE_FULL answer every Nth submit with 0x58 / 0x14, no id, no receipt."""
    sim = await lab.start(modes=frozenset({mode}), every=3)
    client = await lab.bound(sim)
    statuses = [(await client.submit_resp(registered=0)).command_status for _ in range(6)]
    assert statuses == [0, 0, status, 0, 0, status]
    assert sim.stats.submits_accepted == 4


async def test_throttle_above_rate(lab: Lab) -> None:
    """THROTTLE with max_rate refuses the submits beyond that rate in a burst."""
    sim = await lab.start(modes=frozenset({Mode.THROTTLE}), max_rate=5)
    client = await lab.bound(sim)
    for _ in range(20):
        client.submit(registered=0)
    statuses = []
    for _ in range(20):
        pdu = await client.read()
        assert isinstance(pdu, SubmitSmResp)
        statuses.append(pdu.command_status)
    assert statuses[:5] == [0] * 5
    assert 10 <= statuses.count(Status.ESME_RTHROTTLED) <= 15
    assert sim.stats.throttled == statuses.count(Status.ESME_RTHROTTLED)


async def test_generic_nack_every_nth_submit(lab: Lab) -> None:
    """GENERIC_NACK answers every Nth submit with generic_nack carrying its sequence."""
    sim = await lab.start(modes=frozenset({Mode.GENERIC_NACK}), every=2)
    client = await lab.bound(sim)
    assert (await client.submit_resp(registered=0)).command_status == 0
    sequence = client.submit()
    assert await client.read() == GenericNack(sequence, Status.ESME_RSYSERR)


async def test_disconnect_on_nth_submit(lab: Lab) -> None:
    """DISCONNECT_ON_SUBMIT closes the connection upon the Nth submit without answering it."""
    sim = await lab.start(modes=frozenset({Mode.DISCONNECT_ON_SUBMIT}), every=2)
    client = await lab.bound(sim)
    assert (await client.submit_resp(registered=0)).command_status == 0
    client.submit()
    with pytest.raises(ConnectionError):
        await client.read()
    assert (sim.stats.disconnects, sim.stats.submits_accepted) == (1, 1)


async def test_reject_mode_answers_a_permanent_error(lab: Lab) -> None:
    """REJECT answers every submit with reject_status (ESME_RINVDSTADR by default)."""
    sim = await lab.start(modes=frozenset({Mode.REJECT}))
    client = await lab.bound(sim)
    assert (await client.submit_resp()).command_status == Status.ESME_RINVDSTADR
    other = await lab.start(modes=frozenset({Mode.REJECT}), reject_status=0x45)
    client = await lab.bound(other)
    assert (await client.submit_resp()).command_status == Status.ESME_RSUBMITFAIL
    assert await client.silent(0.05)


async def test_receipt_before_resp(lab: Lab) -> None:
    """RECEIPT_BEFORE_RESP sends the receipt first (whatever the delay), then the resp."""
    sim = await lab.start(modes=frozenset({Mode.RECEIPT_BEFORE_RESP}), delay=5.0)
    client = await lab.bound(sim)
    sequence = client.submit()
    receipt = receipt_of(await client.receipt())
    resp = await client.read()
    assert isinstance(resp, SubmitSmResp) and resp.sequence == sequence
    assert receipt.message_id == resp.message_id


async def test_text_only_receipts(lab: Lab) -> None:
    """TEXT_ONLY_RECEIPTS sends receipts without TLVs, readable from the text alone."""
    sim = await lab.start(modes=frozenset({Mode.TEXT_ONLY_RECEIPTS}))
    client = await lab.bound(sim)
    resp = await client.submit_resp()
    deliver = await client.receipt()
    assert deliver.tlvs == ()
    assert find_bytes(deliver.tlvs, Tlv.RECEIPTED_MESSAGE_ID) is None
    assert receipt_of(deliver).message_id == resp.message_id


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (Malformation.UNKNOWN_COMMAND, Status.ESME_RINVCMDID),
        (Malformation.TRUNCATED_BODY, Status.ESME_RINVMSGLEN),
        (Malformation.BAD_LENGTH, Status.ESME_RINVCMDLEN),
    ],
)
async def test_malformed_pdu_after_nth_submit(lab: Lab, kind: Malformation, status: int) -> None:
    """MALFORMED_PDU sends, after the answer to the Nth submit, a frame the codec refuses."""
    sim = await lab.start(modes=frozenset({Mode.MALFORMED_PDU}), every=2, malformation=kind)
    client = await lab.bound(sim)
    assert (await client.submit_resp(registered=0)).command_status == 0
    assert (await client.submit_resp(registered=0)).command_status == 0
    with pytest.raises(PduError) as caught:
        await client.read()
    assert caught.value.status == status
    assert sim.stats.malformed_sent == 1


async def test_modes_combine(lab: Lab) -> None:
    """Failure modes combine: hex ids, text-only receipts and throttling at once."""
    modes = frozenset({Mode.HEX_IDS, Mode.TEXT_ONLY_RECEIPTS, Mode.THROTTLE})
    sim = await lab.start(modes=modes, every=2, id_start=255)
    client = await lab.bound(sim)
    resp = await client.submit_resp()
    deliver = await client.receipt()
    assert (await client.submit_resp()).command_status == Status.ESME_RTHROTTLED
    assert (resp.message_id, deliver.tlvs, receipt_of(deliver).message_id) == ("ff", (), "255")


# -- throughput


async def test_two_thousand_submits_complete(lab: Lab) -> None:
    """2 000 pipelined submits all get ESME_ROK and their 2 000 receipts are acknowledged."""
    sim = await lab.start(receipt_window=50)
    client = await lab.bound(sim)
    total, window, sent, answered, receipts = 2000, 100, 0, 0, 0
    while answered < total or receipts < total:
        while sent < total and sent - answered < window:
            client.submit(destination=f"336{sent:08d}")
            sent += 1
        pdu = await client.read()
        if isinstance(pdu, SubmitSmResp):
            assert pdu.command_status == 0
            answered += 1
        else:
            assert isinstance(pdu, DeliverSm)
            client.send(DeliverSmResp(pdu.sequence))
            receipts += 1
    await asyncio.sleep(0.05)
    assert (sim.stats.submits_accepted, sim.stats.receipts_acked) == (total, total)
    assert sim.stats.duplicate_accepts == 0
