"""In-memory twin of contacts and groups (`sqlite_directory.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from passerelle.core.console import Contact, Group, Imported, NewContact
from passerelle.exceptions import NameTaken


@dataclass
class _ContactRow:
    id: int
    account_id: int
    name: str
    number: str
    created_at: float


@dataclass
class _GroupRow:
    id: int
    account_id: int
    name: str
    created_at: float
    members: set[int] = field(default_factory=set)


def number_taken() -> NameTaken:
    """The error of a second contact with the same number in one account."""
    return NameTaken("a contact already has this number")


def group_taken(name: str) -> NameTaken:
    """The error of a second group with the same name in one account."""
    return NameTaken(f"a group named {name!r} already exists")


@dataclass
class MemoryDirectory:
    """Contacts and groups by id; ids are never reused."""

    contacts: dict[int, _ContactRow] = field(default_factory=dict)
    groups: dict[int, _GroupRow] = field(default_factory=dict)
    last_contact_id: int = 0
    last_group_id: int = 0

    def _contact(self, account_id: int, contact_id: int) -> _ContactRow | None:
        row = self.contacts.get(contact_id)
        return row if row is not None and row.account_id == account_id else None

    def _group(self, account_id: int, group_id: int) -> _GroupRow | None:
        row = self.groups.get(group_id)
        return row if row is not None and row.account_id == account_id else None

    def _by_number(self, account_id: int, number: str) -> _ContactRow | None:
        for row in self.contacts.values():
            if row.account_id == account_id and row.number == number:
                return row
        return None

    def _group_named(self, account_id: int, name: str) -> _GroupRow | None:
        for row in self.groups.values():
            if row.account_id == account_id and row.name == name:
                return row
        return None

    def _view(self, row: _ContactRow) -> Contact:
        names = sorted(g.name for g in self.groups.values() if row.id in g.members)
        return Contact(row.id, row.name, row.number, row.created_at, tuple(names))

    async def add_contact(self, account_id: int, contact: NewContact, at: float) -> int:
        if self._by_number(account_id, contact.number) is not None:
            raise number_taken()
        self.last_contact_id += 1
        row = _ContactRow(self.last_contact_id, account_id, contact.name, contact.number, at)
        self.contacts[row.id] = row
        return row.id

    async def update_contact(self, account_id: int, contact_id: int, contact: NewContact) -> bool:
        row = self._contact(account_id, contact_id)
        if row is None:
            return False
        other = self._by_number(account_id, contact.number)
        if other is not None and other.id != contact_id:
            raise number_taken()
        row.name, row.number = contact.name, contact.number
        return True

    async def delete_contact(self, account_id: int, contact_id: int) -> bool:
        if self._contact(account_id, contact_id) is None:
            return False
        del self.contacts[contact_id]
        for group in self.groups.values():
            group.members.discard(contact_id)
        return True

    async def find_contact(self, account_id: int, contact_id: int) -> Contact | None:
        row = self._contact(account_id, contact_id)
        return None if row is None else self._view(row)

    async def list_contacts(
        self, account_id: int, group_id: int | None, search: str, limit: int, offset: int
    ) -> list[Contact]:
        group = None if group_id is None else self._group(account_id, group_id)
        if group_id is not None and group is None:
            return []
        wanted = search.casefold()
        rows = [
            r
            for r in self.contacts.values()
            if r.account_id == account_id
            and (group is None or r.id in group.members)
            and (wanted in r.name.casefold() or wanted in r.number)
        ]
        rows.sort(key=lambda r: (r.name, r.number))
        return [self._view(r) for r in rows[offset : offset + limit]]

    async def create_group(self, account_id: int, name: str, at: float) -> int:
        if self._group_named(account_id, name) is not None:
            raise group_taken(name)
        self.last_group_id += 1
        self.groups[self.last_group_id] = _GroupRow(self.last_group_id, account_id, name, at)
        return self.last_group_id

    async def rename_group(self, account_id: int, group_id: int, name: str) -> bool:
        row = self._group(account_id, group_id)
        if row is None:
            return False
        other = self._group_named(account_id, name)
        if other is not None and other.id != group_id:
            raise group_taken(name)
        row.name = name
        return True

    async def delete_group(self, account_id: int, group_id: int) -> bool:
        if self._group(account_id, group_id) is None:
            return False
        del self.groups[group_id]
        return True

    async def find_group(self, account_id: int, group_id: int) -> Group | None:
        row = self._group(account_id, group_id)
        return None if row is None else Group(row.id, row.name, row.created_at, len(row.members))

    async def list_groups(self, account_id: int) -> list[Group]:
        rows = sorted(
            (g for g in self.groups.values() if g.account_id == account_id), key=lambda g: g.name
        )
        return [Group(g.id, g.name, g.created_at, len(g.members)) for g in rows]

    async def set_members(
        self, account_id: int, group_id: int, contact_ids: Sequence[int], member: bool
    ) -> int:
        group = self._group(account_id, group_id)
        if group is None:
            return 0
        changed = 0
        for contact_id in set(contact_ids):
            if self._contact(account_id, contact_id) is None:
                continue
            if member and contact_id not in group.members:
                group.members.add(contact_id)
                changed += 1
            elif not member and contact_id in group.members:
                group.members.discard(contact_id)
                changed += 1
        return changed

    async def import_contacts(
        self, account_id: int, group: str, contacts: Sequence[NewContact], at: float
    ) -> Imported:
        row = self._group_named(account_id, group)
        if row is None:
            row = self.groups[await self.create_group(account_id, group, at)]
        added = updated = 0
        for contact in contacts:
            existing = self._by_number(account_id, contact.number)
            if existing is None:
                contact_id = await self.add_contact(account_id, contact, at)
                added += 1
            else:
                if contact.name:
                    existing.name = contact.name
                contact_id = existing.id
                updated += 1
            row.members.add(contact_id)
        return Imported(added, updated, len(row.members))

    async def group_numbers(self, account_id: int, name: str) -> list[str] | None:
        row = self._group_named(account_id, name)
        if row is None:
            return None
        return [self.contacts[i].number for i in sorted(row.members)]
