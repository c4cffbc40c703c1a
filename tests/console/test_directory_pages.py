"""Contacts, groups and imports pages, over HTTP in-process."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl

from passerelle.core.console import NewContact
from passerelle.store.base import Store
from tests.consolekit import ConsoleClient, console_app
from tests.support import make_settings

UPLOAD = "/groupes/importer"


async def account_id(store: Store, login: str) -> int:
    account = await store.find_account(login)
    assert account is not None
    return account.id


async def add(client: ConsoleClient, name: str, number: str) -> int:
    """Add a contact through the page; its id."""
    answer = await client.post("/contacts", {"name": name, "number": number})
    assert answer.status_code == 303, answer.text[:800]
    listing = (await client.get("/contacts", params={"q": name})).text
    found = re.search(r'href="/contacts/(\d+)"', listing)
    assert found is not None
    return int(found.group(1))


async def upload(
    client: ConsoleClient, group: str, name: str, data: bytes, kind: str = "text/csv"
) -> object:
    token = await client.token(UPLOAD)
    files = {"file": (name, data, kind)}
    return await client.http.post(UPLOAD, data={"csrf_token": token, "group": group}, files=files)


async def test_add_edit_and_delete_contact(visitor: ConsoleClient) -> None:
    """A contact is added normalised, edited, listed with search, and deleted."""
    await visitor.customer("alice")
    contact_id = await add(visitor, "Alice Martin", "+33 6 12 34 56 78")
    page = await visitor.get("/contacts")
    assert page.status_code == 200 and "33612345678" in page.text
    edit = await visitor.get(f"/contacts/{contact_id}")
    assert edit.status_code == 200 and 'value="Alice Martin"' in edit.text
    saved = await visitor.post(
        f"/contacts/{contact_id}", {"name": "Alice M.", "number": "0033612345679"}
    )
    assert saved.status_code == 303
    owner = await account_id(visitor.store, "alice")
    contact = await visitor.store.find_contact(owner, contact_id)
    assert contact is not None and (contact.name, contact.number) == ("Alice M.", "33612345679")
    assert "Alice M." not in (await visitor.get("/contacts", params={"q": "zzz"})).text
    gone = await visitor.post(f"/contacts/{contact_id}/supprimer", page="/contacts")
    assert gone.status_code == 303
    assert await visitor.store.find_contact(owner, contact_id) is None


async def test_bad_and_duplicate_numbers_are_explained(visitor: ConsoleClient) -> None:
    """A number a send would refuse says why (API code); a duplicate number is explained."""
    await visitor.customer("bob")
    await add(visitor, "Bob", "33612345678")
    bad = await visitor.post("/contacts", {"name": "X", "number": "0612345678"})
    assert bad.status_code == 400 and "code 07" in bad.text
    short = await visitor.post("/contacts", {"name": "X", "number": "33612"})
    assert short.status_code == 400 and "code 06" in short.text
    again = await visitor.post("/contacts", {"name": "Bob 2", "number": "+33612345678"})
    assert again.status_code == 400 and "déjà ce numéro" in again.text
    empty = await visitor.post("/contacts", {"name": "", "number": "33612345679"})
    assert empty.status_code == 400 and "nom est obligatoire" in empty.text
    owner = await account_id(visitor.store, "bob")
    assert len(await visitor.store.list_contacts(owner, None, "", 100, 0)) == 1


async def test_group_create_rename_delete(visitor: ConsoleClient) -> None:
    """Groups are created, renamed (names unique per account) and deleted."""
    await visitor.customer("carol")
    made = await visitor.post("/groupes", {"name": "Clients"})
    assert made.status_code == 303
    group_path = made.headers["location"].split("?")[0]
    assert re.fullmatch(r"/groupes/\d+", group_path)
    await visitor.post("/groupes", {"name": "Staff"})
    taken = await visitor.post("/groupes", {"name": "Staff"})
    assert taken.status_code == 400 and "déjà un groupe" in taken.text
    long = await visitor.post("/groupes", {"name": "g" * 65})
    assert long.status_code == 400
    renamed = await visitor.post(group_path, {"action": "rename", "name": "Clients VIP"})
    assert renamed.status_code == 303
    listing = await visitor.get("/groupes")
    assert "Clients VIP" in listing.text
    assert "/sms/envoyer?groupe=Clients%20VIP" in listing.text
    clash = await visitor.post(group_path, {"action": "rename", "name": "Staff"})
    assert clash.status_code == 400
    deleted = await visitor.post(group_path + "/supprimer", page=group_path)
    assert deleted.status_code == 303
    assert (await visitor.get(group_path)).status_code == 404


async def test_membership(visitor: ConsoleClient) -> None:
    """Contacts are added to and removed from a group; its send link names it."""
    await visitor.customer("dave")
    first = await add(visitor, "Ann", "33612345678")
    second = await add(visitor, "Ben", "33612345679")
    group_path = (await visitor.post("/groupes", {"name": "Team"})).headers["location"]
    group_path = group_path.split("?")[0]
    added = await visitor.post(
        group_path, {"action": "add", "contact_ids": [str(first), str(second), "x"]}
    )
    assert added.status_code == 303
    owner = await account_id(visitor.store, "dave")
    assert await visitor.store.group_numbers(owner, "Team") == ["33612345678", "33612345679"]
    page = await visitor.get(group_path)
    assert 'href="/sms/envoyer?groupe=Team"' in page.text and "2 contacts" in page.text
    removed = await visitor.post(group_path, {"action": "remove", "contact_ids": str(first)})
    assert removed.status_code == 303
    assert await visitor.store.group_numbers(owner, "Team") == ["33612345679"]


async def test_csv_import_reports_bad_lines(visitor: ConsoleClient) -> None:
    """A CSV with bad lines imports the good ones and lists the others by line number."""
    await visitor.customer("erin")
    await add(visitor, "Old name", "33612345678")
    data = "numero;nom\n33612345678;New name\n0612345678;Bad\n33612345679;Zoé\n33612345679;Dup\n"
    answer = await upload(visitor, "Clients", "clients.csv", data.encode())
    assert answer.status_code == 200, answer.text[:800]
    assert "1 importés, 1 mis à jour" in answer.text
    table = answer.text.split('id="import-errors"')[1]
    assert "<td>3</td>" in table and "0612345678" in table and "code 07" in table
    assert "<td>5</td>" in table
    owner = await account_id(visitor.store, "erin")
    assert await visitor.store.group_numbers(owner, "Clients") == ["33612345678", "33612345679"]
    names = [c.name for c in await visitor.store.list_contacts(owner, None, "", 10, 0)]
    assert sorted(names) == ["New name", "Zoé"]


async def test_xlsx_import(visitor: ConsoleClient) -> None:
    """The first sheet of an XLSX file is imported into a new group."""
    await visitor.customer("fred")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Number"])
    sheet.append(["Ann", 33612345678])
    sheet.append(["Ben", "+44 7700 900123"])
    out = io.BytesIO()
    book.save(out)
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = await upload(visitor, "Export", "export.xlsx", out.getvalue(), kind)
    assert answer.status_code == 200 and "2 importés, 0 mis à jour" in answer.text
    owner = await account_id(visitor.store, "fred")
    assert await visitor.store.group_numbers(owner, "Export") == ["33612345678", "447700900123"]


async def test_hostile_uploads_are_refused(visitor: ConsoleClient) -> None:
    """A zip bomb is refused with 400, an oversized upload with 413; nothing is imported."""
    await visitor.customer("gina")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (9 * 1024 * 1024))
    refused = await upload(visitor, "Bomb", "bomb.xlsx", bomb.getvalue())
    assert refused.status_code == 400 and "8 Mio" in refused.text
    large = b"33612345678,x\n" * (2 * 1024 * 1024 // 14 + 10)
    too_large = await upload(visitor, "Large", "large.csv", large)
    assert too_large.status_code == 413
    owner = await account_id(visitor.store, "gina")
    assert await visitor.store.list_groups(owner) == []
    assert await visitor.store.list_contacts(owner, None, "", 10, 0) == []


async def test_other_accounts_ids_are_404(console_store: Store) -> None:
    """Another account's contact and group ids answer 404, and cannot join one's groups."""
    app, gateway = console_app(console_store, make_settings(signups_per_hour=0))
    owner = ConsoleClient.of(app, console_store)
    other = ConsoleClient.of(app, console_store)
    try:
        await owner.customer("hugo")
        contact_id = await add(owner, "Secret", "33612345678")
        group_path = (await owner.post("/groupes", {"name": "Mine"})).headers["location"]
        group_path = group_path.split("?")[0]
        await other.customer("ivan")
        for path in (f"/contacts/{contact_id}", group_path, "/contacts/999", "/groupes/x1"):
            answer = await other.get(path)
            assert answer.status_code == 404, path
            assert "Secret" not in answer.text
        token = await other.token("/contacts")
        for path in (
            f"/contacts/{contact_id}",
            f"/contacts/{contact_id}/supprimer",
            group_path,
            group_path + "/supprimer",
        ):
            data = {"csrf_token": token, "name": "Mine2", "number": "33612345679"}
            assert (await other.http.post(path, data=data)).status_code == 404, path
        theirs = (await other.post("/groupes", {"name": "Theirs"})).headers["location"]
        await other.post(theirs.split("?")[0], {"action": "add", "contact_ids": str(contact_id)})
        ivan = await account_id(console_store, "ivan")
        assert await console_store.group_numbers(ivan, "Theirs") == []
        hugo = await account_id(console_store, "hugo")
        assert await console_store.find_contact(hugo, contact_id) is not None
        assert await console_store.group_numbers(hugo, "Mine") == []
    finally:
        await owner.http.aclose()
        await other.http.aclose()
        gateway.close()


async def test_the_send_page_sends_to_a_group(visitor: ConsoleClient) -> None:
    """The send page offers the account's groups; sending to one charges one credit per
    member and stores a message to each of them."""
    await visitor.customer("gina")
    account = await visitor.store.find_account("gina")
    assert account is not None
    group_id = await visitor.store.create_group(account.id, "amis", 1.0)
    for number in ("33611111111", "33622222222"):
        contact = await visitor.store.add_contact(account.id, NewContact("x", number), 1.0)
        await visitor.store.set_members(account.id, group_id, [contact], True)
    form = await visitor.get("/sms/envoyer", params={"groupe": "amis"})
    assert '<option value="amis" selected>' in form.text
    sent = await visitor.post(
        "/sms/envoyer", {"groupe": "amis", "msg": "Salut", "origine": "Gina"}, page="/sms/envoyer"
    )
    assert sent.status_code == 303
    msgid = int(sent.headers["location"].split("/")[2].split("?")[0])
    states = await visitor.store.states_of(account.id, [msgid])
    assert sorted(r.dest for r in states[msgid]) == ["33611111111", "33622222222"]
    assert await visitor.store.balance(account.id) == 8


async def test_many_members_are_added_in_one_post(visitor: ConsoleClient) -> None:
    """A group page takes as many ticked contacts as it lists (not only 100 fields)."""
    await visitor.customer("hector")
    account = await visitor.store.find_account("hector")
    assert account is not None
    group_id = await visitor.store.create_group(account.id, "tous", 1.0)
    ids = [
        await visitor.store.add_contact(account.id, NewContact(f"c{n}", f"336{n:08d}"), 1.0)
        for n in range(150)
    ]
    path = f"/groupes/{group_id}"
    token = await visitor.token(path)
    form = [("csrf_token", token), ("action", "add"), *(("contact_ids", str(i)) for i in ids)]
    answer = await visitor.http.post(
        path,
        content="&".join(f"{k}={v}" for k, v in form),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 303, answer.text[:300]
    group = await visitor.store.find_group(account.id, group_id)
    assert group is not None and group.members == 150
