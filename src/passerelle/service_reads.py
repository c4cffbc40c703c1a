"""What the JSON API reads of one account (and its callback replay): use cases over the
gateway's store, each scoped by the account, so a front door never reaches the store.

Another account's message or callback event is treated as absent (`exc.NotFound`): the
two cases are never told apart.
"""

from __future__ import annotations

from passerelle import exceptions as exc
from passerelle.core.console import MessageQuery
from passerelle.core.values import Account, CallbackEvent, LedgerEntry, MessageSummary
from passerelle.service import Gateway


class AccountReads:
    """An account's ledger, messages and callback events, over `gateway`."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.store = gateway.store

    async def ledger(self, account: Account, limit: int) -> list[LedgerEntry]:
        """The account's newest credit movements, newest first."""
        return await self.store.ledger(account.id, limit)

    async def messages(self, account: Account, query: MessageQuery) -> list[MessageSummary]:
        """The account's messages matching `query`, newest first."""
        return await self.store.search_messages(account.id, query)

    async def message(self, account: Account, msgid: int, per_message: int) -> MessageSummary:
        """The account's message `msgid` with its first `per_message` recipients; NotFound."""
        found = await self.store.find_message(account.id, msgid, per_message)
        if found is None:
            raise exc.NotFound(f"no message {msgid}")
        return found

    async def callbacks(
        self, account: Account, failed_only: bool, limit: int
    ) -> list[CallbackEvent]:
        """The account's newest callback events, optionally only the failed ones."""
        return await self.gateway.callbacks(account.login, failed_only, limit)

    async def replay(self, account: Account, event_id: int) -> None:
        """Send one of the account's callback events again, now; NotFound otherwise."""
        event = await self.store.find_callback(event_id)
        if event is None or event.login != account.login:
            raise exc.NotFound(f"no callback event {event_id}")
        await self.gateway.replay_callback(event_id)
