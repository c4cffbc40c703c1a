"""SMPP 3.4 codec: frames written by hand from the specification, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.smpp import tlv
from passerelle.smpp.frame import FrameReader, PduError, decode, encode
from passerelle.smpp.pdu import (
    Bind,
    BindKind,
    BindResp,
    CommandId,
    DataSm,
    DataSmResp,
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
    is_response,
)
from passerelle.smpp.tlv import Tlv, TlvParam


def h(text: str) -> bytes:
    """Hex with spaces for readability."""
    return bytes.fromhex(text)


def fix(frame: bytes) -> bytes:
    """`frame` with its command_length set to its real length."""
    return len(frame).to_bytes(4, "big") + frame[4:]


ENQUIRE_LINK = h("00000010 00000015 00000000 00000001")
# system_id 'bench\0', password 'bench\0', system_type '\0', version 0x34, ton 0, npi 0,
# address_range '\0': 17 octets of body, 33 = 0x21 in all.
BIND_TRX = h("00000021 00000009 00000000 00000001 62656e636800 62656e636800 00 340000 00")
# service_type '', 5/0 'Test', 1/1 '33612345678', esm 0 pid 0 prio 0, no schedule, no
# validity, registered_delivery 1, replace 0, data_coding 0, default id 0, sm_length 2 'Hi'.
SUBMIT_SM = h(
    "00000032 00000004 00000000 00000002"
    "00 0500 5465737400 0101 333336313233343536373800 000000 00 00 01000000 02 4869"
)
# A receipt: 1/1 '33612345678' to 5/0 'Test', esm_class 4, text 'id:7 stat:DELIVRD' (17),
# then receipted_message_id '7\0' and message_state 2.
DELIVER_SM = h(
    "0000004c 00000005 00000000 00000005"
    "00 0101 333336313233343536373800 0500 5465737400 040000 00 00 00000000 11"
    "69643a3720737461743a44454c49565244"
    "001e00023700 0427000102"
)


def test_enquire_link_bytes() -> None:
    """enquire_link with sequence 1 is exactly the 16-octet header of the spec."""
    assert encode(EnquireLink(1)) == ENQUIRE_LINK
    assert decode(ENQUIRE_LINK) == EnquireLink(sequence=1)


def test_header_only_pdus() -> None:
    """enquire_link_resp, unbind, unbind_resp and generic_nack carry only the header."""
    assert encode(EnquireLinkResp(1)) == h("00000010 80000015 00000000 00000001")
    assert encode(Unbind(4)) == h("00000010 00000006 00000000 00000004")
    assert encode(UnbindResp(4)) == h("00000010 80000006 00000000 00000004")
    nack = h("00000010 80000000 00000003 00000007")
    assert encode(GenericNack(7, 3)) == nack
    assert decode(nack) == GenericNack(sequence=7, command_status=3)


def test_bind_transceiver_bytes() -> None:
    """A bind_transceiver for bench/bench encodes and decodes as written by hand."""
    pdu = Bind(1, kind=BindKind.TRANSCEIVER, system_id="bench", password="bench")
    assert encode(pdu) == BIND_TRX
    assert decode(BIND_TRX) == pdu
    assert pdu.command_id is CommandId.BIND_TRANSCEIVER


def test_bind_resp_with_sc_interface_version() -> None:
    """bind_transceiver_resp carries system_id then the sc_interface_version TLV."""
    frame = h("0000001a 80000009 00000000 00000001 534d534300 0210000134")
    pdu = decode(frame)
    assert isinstance(pdu, BindResp)
    assert pdu.kind is BindKind.TRANSCEIVER and pdu.system_id == "SMSC"
    assert tlv.find_int(pdu.tlvs, Tlv.SC_INTERFACE_VERSION) == 0x34
    assert encode(pdu) == frame


def test_bind_resp_error_with_empty_body() -> None:
    """A refused bind_transmitter_resp may have no body at all."""
    pdu = decode(h("00000010 80000002 0000000e 00000001"))
    assert pdu == BindResp(1, 0x0E, BindKind.TRANSMITTER)


def test_submit_sm_bytes() -> None:
    """submit_sm with every mandatory field in order, as computed by hand."""
    pdu = SubmitSm(
        2,
        source_addr_ton=5,
        source_addr="Test",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="33612345678",
        registered_delivery=1,
        short_message=b"Hi",
    )
    assert encode(pdu) == SUBMIT_SM
    assert decode(SUBMIT_SM) == pdu


def test_submit_sm_resp_bytes() -> None:
    """submit_sm_resp carries the operator's message_id as a C-octet string."""
    frame = h("00000017 80000004 00000000 00000002 61626331323300")
    assert decode(frame) == SubmitSmResp(2, message_id="abc123")
    assert encode(SubmitSmResp(2, message_id="abc123")) == frame


def test_submit_sm_resp_error_with_empty_body() -> None:
    """A throttled submit_sm_resp (0x58) without a body decodes with an empty id."""
    pdu = decode(h("00000010 80000004 00000058 00000003"))
    assert pdu == SubmitSmResp(sequence=3, command_status=0x58, message_id="")


def test_deliver_sm_receipt_bytes() -> None:
    """A deliver_sm receipt with its two TLVs decodes field by field and re-encodes."""
    pdu = decode(DELIVER_SM)
    assert isinstance(pdu, DeliverSm)
    assert (pdu.source_addr, pdu.destination_addr, pdu.esm_class) == ("33612345678", "Test", 4)
    assert pdu.short_message == b"id:7 stat:DELIVRD"
    assert tlv.find_str(pdu.tlvs, Tlv.RECEIPTED_MESSAGE_ID) == "7"
    assert tlv.find_int(pdu.tlvs, Tlv.MESSAGE_STATE) == tlv.MessageState.DELIVERED
    assert encode(pdu) == DELIVER_SM


def test_deliver_sm_resp_bytes() -> None:
    """deliver_sm_resp has a NULL message_id; an empty body is accepted too."""
    assert encode(DeliverSmResp(5)) == h("00000011 80000005 00000000 00000005 00")
    assert decode(h("00000010 80000005 00000000 00000005")) == DeliverSmResp(5)


def test_data_sm_bytes() -> None:
    """data_sm: addresses, esm_class, registered_delivery, data_coding, then TLVs."""
    frame = h("00000023 00000103 00000000 00000006 00 0000 00 0101 33333600 000100 042400024869")
    payload = TlvParam(Tlv.MESSAGE_PAYLOAD, b"Hi")
    pdu = DataSm(
        6, dest_addr_ton=1, dest_addr_npi=1, destination_addr="336", registered_delivery=1,
        tlvs=(payload,),
    )  # fmt: skip
    assert encode(pdu) == frame
    assert decode(frame) == pdu
    assert decode(h("00000012 80000103 00000000 00000006 7800")) == DataSmResp(6, message_id="x")


def test_unknown_tlv_round_trips() -> None:
    """A vendor TLV Passerelle does not know is kept in order and written back unchanged."""
    frame = fix(SUBMIT_SM[:-3] + h("02 4869 14000003010203"))
    pdu = decode(frame)
    assert isinstance(pdu, SubmitSm)
    assert pdu.tlvs == (TlvParam(0x1400, b"\x01\x02\x03"),)
    assert encode(pdu) == frame


def test_unknown_command_id() -> None:
    """query_sm (not handled) → ESME_RINVCMDID with the sequence, for a generic_nack."""
    with pytest.raises(PduError) as caught:
        decode(h("00000012 00000003 00000000 0000002a 3100"))
    assert (caught.value.status, caught.value.sequence, caught.value.command_id) == (3, 42, 3)


@pytest.mark.parametrize(
    ("frame", "status"),
    [
        (h("00000010 00000015 00000000"), 0x02),  # shorter than a header
        (h("00000011 00000015 00000000 00000001"), 0x02),  # length says 17, frame has 16
        (h("00000014 00000004 00000000 00000009 00050041"), 0x02),  # unterminated source
        (h("00000013 00000004 00000000 00000009 000500"), 0x02),  # body stops in the fields
        (SUBMIT_SM[:-3] + h("03 4869"), 0x01),  # sm_length 3 for 2 octets
        (fix(SUBMIT_SM[:-3] + h("02 4869 0424")), 0xC0),  # TLV header cut short
        (fix(SUBMIT_SM[:-3] + h("02 4869 0424000548")), 0xC0),  # TLV value cut short
    ],
    ids=["short", "length", "unterminated", "truncated", "sm_length", "tlv-head", "tlv-value"],
)
def test_malformed_frames(frame: bytes, status: int) -> None:
    """Malformed bodies raise PduError with the status to answer."""
    with pytest.raises(PduError) as caught:
        decode(frame)
    assert caught.value.status == status


def test_malformed_carries_sequence() -> None:
    """A body error keeps the header's sequence and command_id."""
    with pytest.raises(PduError) as caught:
        decode(h("00000013 00000004 00000000 00000009 000500"))
    assert (caught.value.sequence, caught.value.command_id) == (9, CommandId.SUBMIT_SM)


@pytest.mark.parametrize(
    "pdu",
    [
        SubmitSm(1, source_addr="a\x00b"),
        SubmitSm(1, short_message=b"x" * 255),
        SubmitSm(1, esm_class=256),
        SubmitSm(1, source_addr="€"),
        SubmitSm(2**32),
    ],
)
def test_unencodable(pdu: Pdu) -> None:
    """A NUL in a C-string, a 255-octet message, an octet over 255 or non-Latin-1 text refuse."""
    with pytest.raises(PduError):
        encode(pdu)


def test_frame_reader_split_reads() -> None:
    """A frame fed one octet at a time comes out once, whole, at its last octet."""
    reader = FrameReader()
    out: list[bytes] = []
    for octet in BIND_TRX:
        reader.feed(bytes([octet]))
        out.extend(reader)
    assert out == [BIND_TRX]
    assert reader.buffered == 0


def test_frame_reader_coalesced_reads() -> None:
    """Three frames and half a fourth in one read give three frames; the rest waits."""
    reader = FrameReader()
    reader.feed(ENQUIRE_LINK + SUBMIT_SM + DELIVER_SM + BIND_TRX[:10])
    assert list(reader) == [ENQUIRE_LINK, SUBMIT_SM, DELIVER_SM]
    assert reader.buffered == 10
    reader.feed(BIND_TRX[10:])
    assert [decode(frame) for frame in reader] == [decode(BIND_TRX)]


@pytest.mark.parametrize("length", ["0000000f", "00010001", "ffffffff"])
def test_frame_reader_refuses_bad_lengths(length: str) -> None:
    """command_length under 16 or over 64 KiB → ESME_RINVCMDLEN, and the stream stays refused."""
    reader = FrameReader()
    reader.feed(h(length + "00000015 00000000 0000000b"))
    for _ in range(2):
        with pytest.raises(PduError) as caught:
            reader.next_frame()
        assert (caught.value.status, caught.value.sequence) == (0x02, 11)


def test_frame_reader_waits_for_header() -> None:
    """Under 16 octets nothing is judged yet."""
    reader = FrameReader()
    reader.feed(h("00000000 0000"))
    assert reader.next_frame() is None


def test_is_response() -> None:
    """The high bit marks responses, generic_nack included."""
    assert is_response(CommandId.GENERIC_NACK) and is_response(CommandId.SUBMIT_SM_RESP)
    assert not is_response(CommandId.DELIVER_SM)


cstr = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=21)
octet = st.integers(0, 255)
u32 = st.integers(0, 2**32 - 1)
tlvs = st.lists(
    st.builds(TlvParam, st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=4
).map(tuple)
addresses = {
    "service_type": cstr,
    "source_addr_ton": octet,
    "source_addr_npi": octet,
    "source_addr": cstr,
    "dest_addr_ton": octet,
    "dest_addr_npi": octet,
    "destination_addr": cstr,
    "esm_class": octet,
    "registered_delivery": octet,
    "data_coding": octet,
    "tlvs": tlvs,
}
short_message = addresses | {
    "protocol_id": octet,
    "priority_flag": octet,
    "schedule_delivery_time": cstr,
    "validity_period": cstr,
    "replace_if_present_flag": octet,
    "sm_default_msg_id": octet,
    "short_message": st.binary(max_size=254),
}
pdus = st.one_of(
    st.builds(
        Bind, u32, u32, st.sampled_from(BindKind), cstr, cstr, cstr, octet, octet, octet, cstr
    ),
    st.builds(BindResp, u32, u32, st.sampled_from(BindKind), cstr, tlvs),
    st.builds(SubmitSm, u32, u32, **short_message),
    st.builds(DeliverSm, u32, u32, **short_message),
    st.builds(DataSm, u32, u32, **addresses),
    *(st.builds(cls, u32, u32, cstr, tlvs) for cls in (SubmitSmResp, DeliverSmResp, DataSmResp)),
    *(
        st.builds(cls, u32, u32)
        for cls in (EnquireLink, EnquireLinkResp, Unbind, UnbindResp, GenericNack)
    ),
)


@given(pdus)
def test_round_trip(pdu: Pdu) -> None:
    """decode(encode(pdu)) == pdu for every kind, any field values, any TLVs."""
    frame = encode(pdu)
    assert int.from_bytes(frame[:4], "big") == len(frame)
    assert decode(frame) == pdu


@given(pdus, st.lists(st.integers(1, 40), max_size=20))
def test_reader_any_split(pdu: Pdu, cuts: list[int]) -> None:
    """However a stream of two frames is cut into reads, the same two frames come out."""
    stream = encode(pdu) * 2
    reader = FrameReader()
    out: list[bytes] = []
    pos = 0
    for cut in [*cuts, len(stream)]:
        reader.feed(stream[pos : pos + cut])
        pos += cut
        out.extend(reader)
    assert out == [encode(pdu)] * 2


@given(st.binary(min_size=16, max_size=120))
def test_decode_never_raises_anything_else(data: bytes) -> None:
    """Random octets under a valid header give a PDU or a PduError, nothing else."""
    for cid in CommandId:
        frame = len(data).to_bytes(4, "big") + cid.to_bytes(4, "big") + data[8:]
        try:
            decode(frame)
        except PduError as exc:
            assert exc.status in (0x01, 0x02, 0xC0)
