"""SQLite contacts and contact groups (a mixin of `SqliteStore`; the twin is
`memory_directory.py`). Every statement names the account: an id of another account's
contact or group matches no row, so it behaves as absent. Writes go through the
group-commit writer, each operation in one transaction; a refusal (NameTaken) is
raised by the statement that would have written, so nothing is written."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from passerelle.core.console import Contact, Group, Imported, NewContact
from passerelle.store.memory_directory import group_taken, number_taken
from passerelle.store.writer import Writer

GROUP_COLUMNS = (
    "g.id, g.name, g.created_at, (SELECT count(*) FROM group_members gm WHERE gm.group_id = g.id)"
)
# the group names of some contacts (`?` placeholders for their ids)
CONTACT_GROUPS = (
    "SELECT gm.contact_id, g.name FROM group_members gm"
    " JOIN contact_groups g ON g.id = gm.group_id WHERE gm.contact_id IN ({})"
)


def group_of(row: Any) -> Group:
    """A `Group` from a row of `GROUP_COLUMNS`."""
    return Group(int(row[0]), row[1], row[2], int(row[3]))


def contacts_of(rows: Sequence[Any], names: Sequence[Any]) -> list[Contact]:
    """`Contact`s from (id, name, number, created_at) rows and (contact id, group name)
    rows: each contact with its groups' names, sorted."""
    groups: dict[int, list[str]] = {}
    for contact_id, name in names:
        groups.setdefault(int(contact_id), []).append(name)
    return [
        Contact(int(r[0]), r[1], r[2], r[3], tuple(sorted(groups.get(int(r[0]), ())))) for r in rows
    ]


def _add(conn: sqlite3.Connection, account_id: int, contact: NewContact, at: float) -> int:
    try:
        cur = conn.execute(
            "INSERT INTO contacts (account_id, name, number, created_at) VALUES (?, ?, ?, ?)",
            (account_id, contact.name, contact.number, at),
        )
    except sqlite3.IntegrityError:
        raise number_taken() from None
    return int(cur.lastrowid or 0)


def _create_group(conn: sqlite3.Connection, account_id: int, name: str, at: float) -> int:
    try:
        cur = conn.execute(
            "INSERT INTO contact_groups (account_id, name, created_at) VALUES (?, ?, ?)",
            (account_id, name, at),
        )
    except sqlite3.IntegrityError:
        raise group_taken(name) from None
    return int(cur.lastrowid or 0)


def _owns(conn: sqlite3.Connection, table: str, account_id: int, row_id: int) -> bool:
    sql = f"SELECT 1 FROM {table} WHERE id = ? AND account_id = ?"  # noqa: S608
    return conn.execute(sql, (row_id, account_id)).fetchone() is not None


class DirectoryOps:
    """Contacts and groups of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def add_contact(self, account_id: int, contact: NewContact, at: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return _add(conn, account_id, contact, at)

        contact_id: int = await self._writer.submit(op)
        return contact_id

    async def update_contact(self, account_id: int, contact_id: int, contact: NewContact) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            try:
                cur = conn.execute(
                    "UPDATE contacts SET name = ?, number = ? WHERE id = ? AND account_id = ?",
                    (contact.name, contact.number, contact_id, account_id),
                )
            except sqlite3.IntegrityError:
                raise number_taken() from None
            return cur.rowcount == 1

        changed: bool = await self._writer.submit(op)
        return changed

    async def delete_contact(self, account_id: int, contact_id: int) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            if not _owns(conn, "contacts", account_id, contact_id):
                return False
            conn.execute("DELETE FROM group_members WHERE contact_id = ?", (contact_id,))
            conn.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))
            return True

        deleted: bool = await self._writer.submit(op)
        return deleted

    def _contacts(self, sql: str, args: Sequence[object]) -> list[Contact]:
        conn = self._read()
        rows = conn.execute(sql, args).fetchall()
        ids = [int(r[0]) for r in rows]
        names = conn.execute(CONTACT_GROUPS.format(", ".join("?" * len(ids))), ids).fetchall()
        return contacts_of(rows, names)

    async def find_contact(self, account_id: int, contact_id: int) -> Contact | None:
        found = self._contacts(
            "SELECT id, name, number, created_at FROM contacts WHERE id = ? AND account_id = ?",
            (contact_id, account_id),
        )
        return found[0] if found else None

    async def list_contacts(
        self, account_id: int, group_id: int | None, search: str, limit: int, offset: int
    ) -> list[Contact]:
        sql = "SELECT c.id, c.name, c.number, c.created_at FROM contacts c WHERE c.account_id = ?"
        args: list[object] = [account_id]
        if group_id is not None:
            sql += (
                " AND c.id IN (SELECT gm.contact_id FROM group_members gm"
                " JOIN contact_groups g ON g.id = gm.group_id WHERE g.id = ? AND g.account_id = ?)"
            )
            args += [group_id, account_id]
        sql += " AND (instr(lower(c.name), lower(?)) > 0 OR instr(c.number, lower(?)) > 0)"
        sql += " ORDER BY c.name, c.number LIMIT ? OFFSET ?"
        return self._contacts(sql, [*args, search, search, limit, offset])

    async def create_group(self, account_id: int, name: str, at: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return _create_group(conn, account_id, name, at)

        group_id: int = await self._writer.submit(op)
        return group_id

    async def rename_group(self, account_id: int, group_id: int, name: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            try:
                cur = conn.execute(
                    "UPDATE contact_groups SET name = ? WHERE id = ? AND account_id = ?",
                    (name, group_id, account_id),
                )
            except sqlite3.IntegrityError:
                raise group_taken(name) from None
            return cur.rowcount == 1

        renamed: bool = await self._writer.submit(op)
        return renamed

    async def delete_group(self, account_id: int, group_id: int) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            if not _owns(conn, "contact_groups", account_id, group_id):
                return False
            conn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            conn.execute("DELETE FROM contact_groups WHERE id = ?", (group_id,))
            return True

        deleted: bool = await self._writer.submit(op)
        return deleted

    async def find_group(self, account_id: int, group_id: int) -> Group | None:
        row = (
            self._read()
            .execute(
                f"SELECT {GROUP_COLUMNS} FROM contact_groups g"  # noqa: S608
                " WHERE g.id = ? AND g.account_id = ?",
                (group_id, account_id),
            )
            .fetchone()
        )
        return None if row is None else group_of(row)

    async def list_groups(self, account_id: int) -> list[Group]:
        rows = self._read().execute(
            f"SELECT {GROUP_COLUMNS} FROM contact_groups g"  # noqa: S608
            " WHERE g.account_id = ? ORDER BY g.name",
            (account_id,),
        )
        return [group_of(row) for row in rows.fetchall()]

    async def set_members(
        self, account_id: int, group_id: int, contact_ids: Sequence[int], member: bool
    ) -> int:
        wanted = sorted(set(contact_ids))

        def op(conn: sqlite3.Connection) -> int:
            if not _owns(conn, "contact_groups", account_id, group_id):
                return 0
            changed = 0
            for contact_id in wanted:
                if not _owns(conn, "contacts", account_id, contact_id):
                    continue
                sql = (
                    "INSERT OR IGNORE INTO group_members (group_id, contact_id) VALUES (?, ?)"
                    if member
                    else "DELETE FROM group_members WHERE group_id = ? AND contact_id = ?"
                )
                changed += conn.execute(sql, (group_id, contact_id)).rowcount
            return changed

        changed: int = await self._writer.submit(op)
        return changed

    async def import_contacts(
        self, account_id: int, group: str, contacts: Sequence[NewContact], at: float
    ) -> Imported:
        def op(conn: sqlite3.Connection) -> Imported:
            row = conn.execute(
                "SELECT id FROM contact_groups WHERE account_id = ? AND name = ?",
                (account_id, group),
            ).fetchone()
            group_id = int(row[0]) if row else _create_group(conn, account_id, group, at)
            added = updated = 0
            for contact in contacts:
                found = conn.execute(
                    "SELECT id FROM contacts WHERE account_id = ? AND number = ?",
                    (account_id, contact.number),
                ).fetchone()
                if found is None:
                    contact_id = _add(conn, account_id, contact, at)
                    added += 1
                else:
                    contact_id = int(found[0])
                    if contact.name:
                        conn.execute(
                            "UPDATE contacts SET name = ? WHERE id = ?", (contact.name, contact_id)
                        )
                    updated += 1
                conn.execute(
                    "INSERT OR IGNORE INTO group_members (group_id, contact_id) VALUES (?, ?)",
                    (group_id, contact_id),
                )
            size = conn.execute(
                "SELECT count(*) FROM group_members WHERE group_id = ?", (group_id,)
            ).fetchone()
            return Imported(added, updated, int(size[0]))

        imported: Imported = await self._writer.submit(op)
        return imported

    async def group_numbers(self, account_id: int, name: str) -> list[str] | None:
        conn = self._read()
        row = conn.execute(
            "SELECT id FROM contact_groups WHERE account_id = ? AND name = ?", (account_id, name)
        ).fetchone()
        if row is None:
            return None
        rows = conn.execute(
            "SELECT c.number FROM group_members gm JOIN contacts c ON c.id = gm.contact_id"
            " WHERE gm.group_id = ? ORDER BY c.id",
            (int(row[0]),),
        )
        return [r[0] for r in rows.fetchall()]
