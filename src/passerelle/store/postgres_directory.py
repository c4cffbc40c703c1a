"""PostgreSQL contacts and contact groups (a mixin of `PgStore`; the SQLite twin is
`sqlite_directory.py`). Every statement names the account, so another account's ids
match no row. The unique constraints (``contacts_account_number``,
``contact_groups_account_name``) decide between concurrent writers: a violation is
NameTaken, and an import creates its group and its contacts with ``ON CONFLICT``.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from passerelle.core.console import Contact, Group, Imported, NewContact
from passerelle.store.memory_directory import group_taken, number_taken
from passerelle.store.postgres_base import PgRole
from passerelle.store.postgres_console_reads import affected
from passerelle.store.sqlite_directory import GROUP_COLUMNS, contacts_of, group_of

_CONTACT_GROUPS = (
    "SELECT gm.contact_id, g.name FROM group_members gm"
    " JOIN contact_groups g ON g.id = gm.group_id WHERE gm.contact_id = ANY($1::bigint[])"
)
_OWNED_GROUP = "SELECT id FROM contact_groups WHERE id = $1 AND account_id = $2 FOR UPDATE"
# an import's contacts, in their order: new ones inserted, known ones renamed when a
# name is given
_UPSERT = (
    "INSERT INTO contacts (account_id, name, number, created_at)"
    " SELECT $1, t.name, t.number, $4"
    " FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(number, name, n) ORDER BY t.n"
    " ON CONFLICT ON CONSTRAINT contacts_account_number DO UPDATE SET name ="
    " CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE contacts.name END"
)


def _plan(contacts: Sequence[NewContact]) -> dict[str, str]:
    """Each number of an import once, in order, with the name it ends with (the last
    one given; ``""`` keeps a known contact's name)."""
    names: dict[str, str] = {}
    for contact in contacts:
        if contact.name or contact.number not in names:
            names[contact.number] = contact.name
    return names


class PgDirectory(PgRole):
    """Contacts and groups of the PostgreSQL store."""

    async def add_contact(self, account_id: int, contact: NewContact, at: float) -> int:
        try:
            contact_id = await self._pool.fetchval(
                "INSERT INTO contacts (account_id, name, number, created_at)"
                " VALUES ($1, $2, $3, $4) RETURNING id",
                account_id,
                contact.name,
                contact.number,
                at,
            )
        except asyncpg.UniqueViolationError:
            raise number_taken() from None
        return int(contact_id)

    async def update_contact(self, account_id: int, contact_id: int, contact: NewContact) -> bool:
        try:
            status = await self._pool.execute(
                "UPDATE contacts SET name = $3, number = $4 WHERE id = $1 AND account_id = $2",
                contact_id,
                account_id,
                contact.name,
                contact.number,
            )
        except asyncpg.UniqueViolationError:
            raise number_taken() from None
        return affected(status) == 1

    async def delete_contact(self, account_id: int, contact_id: int) -> bool:
        async with self._tx() as conn:
            owned = await conn.fetchval(
                "SELECT id FROM contacts WHERE id = $1 AND account_id = $2 FOR UPDATE",
                contact_id,
                account_id,
            )
            if owned is None:
                return False
            await conn.execute("DELETE FROM group_members WHERE contact_id = $1", contact_id)
            await conn.execute("DELETE FROM contacts WHERE id = $1", contact_id)
        return True

    async def _contacts(self, sql: str, *args: object) -> list[Contact]:
        rows = await self._pool.fetch(sql, *args)
        ids = [int(r[0]) for r in rows]
        names = await self._pool.fetch(_CONTACT_GROUPS, ids) if ids else []
        return contacts_of(rows, names)

    async def find_contact(self, account_id: int, contact_id: int) -> Contact | None:
        found = await self._contacts(
            "SELECT id, name, number, created_at FROM contacts WHERE id = $1 AND account_id = $2",
            contact_id,
            account_id,
        )
        return found[0] if found else None

    async def list_contacts(
        self, account_id: int, group_id: int | None, search: str, limit: int, offset: int
    ) -> list[Contact]:
        in_group = (
            ""
            if group_id is None
            else " AND c.id IN (SELECT gm.contact_id FROM group_members gm"
            " JOIN contact_groups g ON g.id = gm.group_id WHERE g.id = $5 AND g.account_id = $1)"
        )
        sql = (
            "SELECT c.id, c.name, c.number, c.created_at FROM contacts c WHERE c.account_id = $1"  # noqa: S608
            f"{in_group} AND (strpos(lower(c.name), lower($2)) > 0"
            " OR strpos(c.number, lower($2)) > 0)"
            ' ORDER BY c.name COLLATE "C", c.number COLLATE "C" LIMIT $3 OFFSET $4'
        )
        args: tuple[object, ...] = (account_id, search, limit, offset)
        return await self._contacts(sql, *args, *(() if group_id is None else (group_id,)))

    async def create_group(self, account_id: int, name: str, at: float) -> int:
        try:
            group_id = await self._pool.fetchval(
                "INSERT INTO contact_groups (account_id, name, created_at)"
                " VALUES ($1, $2, $3) RETURNING id",
                account_id,
                name,
                at,
            )
        except asyncpg.UniqueViolationError:
            raise group_taken(name) from None
        return int(group_id)

    async def rename_group(self, account_id: int, group_id: int, name: str) -> bool:
        try:
            status = await self._pool.execute(
                "UPDATE contact_groups SET name = $3 WHERE id = $1 AND account_id = $2",
                group_id,
                account_id,
                name,
            )
        except asyncpg.UniqueViolationError:
            raise group_taken(name) from None
        return affected(status) == 1

    async def delete_group(self, account_id: int, group_id: int) -> bool:
        async with self._tx() as conn:
            if await conn.fetchval(_OWNED_GROUP, group_id, account_id) is None:
                return False
            await conn.execute("DELETE FROM group_members WHERE group_id = $1", group_id)
            await conn.execute("DELETE FROM contact_groups WHERE id = $1", group_id)
        return True

    async def find_group(self, account_id: int, group_id: int) -> Group | None:
        row = await self._pool.fetchrow(
            f"SELECT {GROUP_COLUMNS} FROM contact_groups g"  # noqa: S608
            " WHERE g.id = $1 AND g.account_id = $2",
            group_id,
            account_id,
        )
        return None if row is None else group_of(row)

    async def list_groups(self, account_id: int) -> list[Group]:
        rows = await self._pool.fetch(
            f"SELECT {GROUP_COLUMNS} FROM contact_groups g"  # noqa: S608
            ' WHERE g.account_id = $1 ORDER BY g.name COLLATE "C"',
            account_id,
        )
        return [group_of(row) for row in rows]

    async def set_members(
        self, account_id: int, group_id: int, contact_ids: Sequence[int], member: bool
    ) -> int:
        ids = sorted(set(contact_ids))
        sql = (
            "INSERT INTO group_members (group_id, contact_id) SELECT $1, c.id FROM contacts c"
            " WHERE c.account_id = $2 AND c.id = ANY($3::bigint[]) ORDER BY c.id"
            " ON CONFLICT DO NOTHING"
            if member
            else "DELETE FROM group_members gm USING contacts c WHERE gm.group_id = $1"
            " AND gm.contact_id = c.id AND c.account_id = $2 AND c.id = ANY($3::bigint[])"
        )
        async with self._tx() as conn:
            if await conn.fetchval(_OWNED_GROUP, group_id, account_id) is None:
                return 0
            return affected(await conn.execute(sql, group_id, account_id, ids))

    async def import_contacts(
        self, account_id: int, group: str, contacts: Sequence[NewContact], at: float
    ) -> Imported:
        plan = _plan(contacts)
        numbers, names = list(plan), list(plan.values())
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO contact_groups (account_id, name, created_at) VALUES ($1, $2, $3)"
                " ON CONFLICT ON CONSTRAINT contact_groups_account_name DO NOTHING",
                account_id,
                group,
                at,
            )
            group_id = await conn.fetchval(
                "SELECT id FROM contact_groups WHERE account_id = $1 AND name = $2 FOR UPDATE",
                account_id,
                group,
            )
            known = await conn.fetchval(
                "SELECT count(*) FROM contacts WHERE account_id = $1 AND number = ANY($2::text[])",
                account_id,
                numbers,
            )
            await conn.execute(_UPSERT, account_id, numbers, names, at)
            await conn.execute(
                "INSERT INTO group_members (group_id, contact_id) SELECT $1, id FROM contacts"
                " WHERE account_id = $2 AND number = ANY($3::text[]) ORDER BY id"
                " ON CONFLICT DO NOTHING",
                group_id,
                account_id,
                numbers,
            )
            members = await conn.fetchval(
                "SELECT count(*) FROM group_members WHERE group_id = $1", group_id
            )
        added = len(numbers) - int(known)
        return Imported(added, len(contacts) - added, int(members))

    async def group_numbers(self, account_id: int, name: str) -> list[str] | None:
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            group_id = await conn.fetchval(
                "SELECT id FROM contact_groups WHERE account_id = $1 AND name = $2",
                account_id,
                name,
            )
            if group_id is None:
                return None
            rows = await conn.fetch(
                "SELECT c.number FROM group_members gm JOIN contacts c ON c.id = gm.contact_id"
                " WHERE gm.group_id = $1 ORDER BY c.id",
                group_id,
            )
        return [r[0] for r in rows]
