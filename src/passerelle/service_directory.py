"""An account's contacts and groups (the console's directory pages use them).

Every operation takes the account and is scoped by its id: another account's contact or
group is answered like one that does not exist (None or False). Names and numbers are
checked here (`core.contacts`): a refused value raises `InvalidValue` whose message is
one of `core.contacts.SENTENCES` (a number's says which API code a send would answer);
a number or group name already in use raises the store's `NameTaken`.
"""

from __future__ import annotations

from collections.abc import Sequence

from passerelle import exceptions as exc
from passerelle.core import contacts
from passerelle.core.console import Contact, Group, Imported, NewContact
from passerelle.core.values import Account
from passerelle.service import Gateway

MAX_SEARCH = 100


def _refuse(problem: contacts.Problem | None) -> None:
    if problem is not None:
        raise exc.InvalidValue(contacts.SENTENCES[problem])


def checked_contact(name: str, number: str) -> NewContact:
    """The contact to store: name trimmed and checked, number normalised and checked
    with the rules of a send. InvalidValue otherwise."""
    name = name.strip()
    _refuse(contacts.name_problem(name))
    normalised = contacts.normalise(number)
    _refuse(contacts.number_problem(normalised))
    return NewContact(name, normalised)


def checked_group(name: str) -> str:
    """A group's name, trimmed and checked. InvalidValue otherwise."""
    name = name.strip()
    _refuse(contacts.group_problem(name))
    return name


class Directory:
    """Contacts and groups of the accounts of one gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.store = gateway.store

    # --- contacts -------------------------------------------------------------------

    async def add_contact(self, account: Account, name: str, number: str) -> int:
        """Store a new contact; its id. InvalidValue, or NameTaken for a number the
        account already has."""
        contact = checked_contact(name, number)
        return await self.store.add_contact(account.id, contact, self.gateway.now())

    async def update_contact(
        self, account: Account, contact_id: int, name: str, number: str
    ) -> bool:
        """Change a contact; False when the account has none with this id."""
        contact = checked_contact(name, number)
        return await self.store.update_contact(account.id, contact_id, contact)

    async def delete_contact(self, account: Account, contact_id: int) -> bool:
        """Delete a contact and its memberships; False when there is none."""
        return await self.store.delete_contact(account.id, contact_id)

    async def find_contact(self, account: Account, contact_id: int) -> Contact | None:
        """The account's contact, or None."""
        return await self.store.find_contact(account.id, contact_id)

    async def list_contacts(
        self,
        account: Account,
        search: str = "",
        group_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Contact]:
        """The account's contacts (of one group when given) whose name or number holds
        `search` (cut to `MAX_SEARCH` characters), by name."""
        search = search.strip()[:MAX_SEARCH]
        limit = max(1, min(limit, 1000))
        return await self.store.list_contacts(account.id, group_id, search, limit, max(0, offset))

    # --- groups ---------------------------------------------------------------------

    async def create_group(self, account: Account, name: str) -> int:
        """Create a group; its id. InvalidValue, or NameTaken when the name is used."""
        name = checked_group(name)
        return await self.store.create_group(account.id, name, self.gateway.now())

    async def rename_group(self, account: Account, group_id: int, name: str) -> bool:
        """Rename a group; False when there is none."""
        return await self.store.rename_group(account.id, group_id, checked_group(name))

    async def delete_group(self, account: Account, group_id: int) -> bool:
        """Delete a group (its contacts stay); False when there is none."""
        return await self.store.delete_group(account.id, group_id)

    async def find_group(self, account: Account, group_id: int) -> Group | None:
        """The account's group, or None."""
        return await self.store.find_group(account.id, group_id)

    async def list_groups(self, account: Account) -> list[Group]:
        """The account's groups by name, with their sizes."""
        return await self.store.list_groups(account.id)

    async def set_members(
        self, account: Account, group_id: int, contact_ids: Sequence[int], member: bool
    ) -> int:
        """Add (`member`) or remove contacts to or from a group; how many changed.
        Ids of other accounts' contacts are ignored."""
        return await self.store.set_members(account.id, group_id, contact_ids, member)

    async def group_numbers(self, account: Account, name: str) -> list[str] | None:
        """The numbers of a group's members; None when the account has no such group."""
        return await self.store.group_numbers(account.id, name)

    # --- imports --------------------------------------------------------------------

    async def import_contacts(
        self, account: Account, group: str, lines: Sequence[NewContact]
    ) -> Imported:
        """Store the good lines of an import (`core.contacts.parse_rows`) as members of
        the group `group`, created when the account has none of that name; in one
        transaction. A number the account already has keeps its contact (renamed when
        the line gives a name). InvalidValue for a bad group name or a bad line."""
        name = checked_group(group)
        good: list[NewContact] = []
        for contact in lines:  # the parser checked them; a caller may not have
            if contact.name:
                _refuse(contacts.name_problem(contact.name))
            _refuse(contacts.number_problem(contact.number))
            good.append(contact)
        return await self.store.import_contacts(account.id, name, good, self.gateway.now())
