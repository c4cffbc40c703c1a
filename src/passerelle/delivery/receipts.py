"""Incoming deliver_sm / data_sm: receipts recorded, then acknowledged.

The deliver_sm_resp is sent only after the receipt is committed, so an operator
resends a receipt we could not store. Receipts for unknown ids are kept by the service
(they may arrive before their submit_sm_resp) and acknowledged; unreadable receipts
and mobile-originated messages are acknowledged and logged, never crash the link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from passerelle.core.receipts import normalise_id, parse_receipt, state_of
from passerelle.core.states import RecipientState
from passerelle.delivery.link import Link, Wire
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.service_workers import Operations
from passerelle.smpp.coding import decode_text
from passerelle.smpp.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp
from passerelle.smpp.tlv import Tlv, find_bytes, find_int, find_str
from passerelle.tasks import Tracked

log = logging.getLogger("passerelle.receipts")

RECEIPT_TYPE_MASK = 0x3C
SMSC_RECEIPT = 0x04
ESME_RX_T_APPN = 0x64  # "temporary application error": the operator resends later
DRAIN_S = 10.0  # shutdown wait for receipts being recorded


class ReceiptHandler:
    """Turns incoming PDUs into recorded receipts."""

    def __init__(
        self,
        service: Operations,
        metrics: DeliveryMetrics,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.clock = clock or service.clock  # the database's clock
        self._tasks = Tracked(log, "receipt task")

    def on_incoming(self, wire: Wire, pdu: DeliverSm | DataSm) -> None:
        """A link's callback: record in the background, answer when committed."""
        self._tasks.spawn(self.handle(wire, pdu))

    async def handle(self, wire: Wire, pdu: DeliverSm | DataSm) -> None:
        """Record one incoming PDU, then answer it."""
        link = wire.link
        if isinstance(pdu, DeliverSm):
            is_receipt = pdu.esm_class & RECEIPT_TYPE_MASK == SMSC_RECEIPT
            text = decode_text(pdu.data_coding, pdu.short_message or b"")
            if not text:
                text = decode_text(
                    pdu.data_coding, find_bytes(pdu.tlvs, Tlv.MESSAGE_PAYLOAD) or b""
                )
        else:
            is_receipt = find_str(pdu.tlvs, Tlv.RECEIPTED_MESSAGE_ID) is not None
            text = decode_text(pdu.data_coding, find_bytes(pdu.tlvs, Tlv.MESSAGE_PAYLOAD) or b"")
        status = 0
        if not is_receipt:
            self.metrics.incoming.labels("mo").inc()
            log.info("mobile-originated message ignored", extra={"connector": link.name})
        else:
            status = await self._record(link, pdu, text)
        resp = (
            DeliverSmResp(pdu.sequence, status)
            if isinstance(pdu, DeliverSm)
            else DataSmResp(pdu.sequence, status)
        )
        wire.respond(resp)

    async def _record(self, link: Link, pdu: DeliverSm | DataSm, text: str) -> int:
        receipt = parse_receipt(
            text,
            receipted_message_id=find_str(pdu.tlvs, Tlv.RECEIPTED_MESSAGE_ID),
            message_state=find_int(pdu.tlvs, Tlv.MESSAGE_STATE),
            network_error_code=find_bytes(pdu.tlvs, Tlv.NETWORK_ERROR_CODE),
        )
        if receipt is None:
            self.metrics.incoming.labels("unreadable").inc()
            log.warning(
                "unreadable receipt acknowledged",
                extra={"connector": link.name, "text": text[:120]},
            )
            return 0
        state = state_of(receipt) or RecipientState.SUBMITTED
        smsc_id = normalise_id(receipt.message_id, link.connector.id_mode)
        try:
            match = await self.service.record_receipt(
                link.name, smsc_id, state, receipt.stat, receipt.err, self.clock()
            )
        except Exception:
            log.exception(
                "receipt not recorded: the operator will resend it",
                extra={"connector": link.name, "smsc_id": smsc_id},
            )
            return ESME_RX_T_APPN
        self.metrics.receipts.labels(receipt.stat, match.value).inc()
        return 0

    async def drain(self) -> None:
        """Wait for receipts being recorded."""
        await self._tasks.drain(DRAIN_S)
