"""The directory half of the store contract, on every backend: an account's contacts and
groups, unique numbers and group names within an account, memberships, imports. Every
operation is scoped by the account: another account's ids behave as absent."""

from __future__ import annotations

import pytest

from passerelle import exceptions as exc
from passerelle.core.console import Contact, Group, Imported, NewContact
from passerelle.core.values import NewAccount
from passerelle.store.base import Store

T0 = 1_000_000.0


async def accounts(store: Store) -> tuple[int, int]:
    """Two accounts' ids."""
    made = [
        await store.create_account(NewAccount(login, f"{login}@x.fr", "h", "s", T0))
        for login in ("alice", "bob")
    ]
    return made[0].id, made[1].id


async def test_add_and_find_contact(store: Store) -> None:
    """A contact is found with its fields; another account's contact id is absent."""
    alice, bob = await accounts(store)
    first = await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    second = await store.add_contact(alice, NewContact("Ben", "33622222222"), T0 + 1)
    assert first != second
    assert await store.find_contact(alice, first) == Contact(first, "Ann", "33611111111", T0, ())
    assert await store.find_contact(bob, first) is None
    assert await store.find_contact(alice, second + 1000) is None


async def test_a_number_is_unique_within_an_account(store: Store) -> None:
    """A number is unique within an account (NameTaken), not across accounts."""
    alice, bob = await accounts(store)
    await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    with pytest.raises(exc.NameTaken):
        await store.add_contact(alice, NewContact("Other", "33611111111"), T0)
    assert await store.add_contact(bob, NewContact("Ann", "33611111111"), T0) > 0
    assert len(await store.list_contacts(alice, None, "", 10, 0)) == 1


async def test_update_contact(store: Store) -> None:
    """update_contact renames; NameTaken for a taken number; False for absent contacts."""
    alice, bob = await accounts(store)
    ann = await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    ben = await store.add_contact(alice, NewContact("Ben", "33622222222"), T0)
    assert await store.update_contact(alice, ann, NewContact("Anne", "33633333333"))
    assert await store.update_contact(alice, ann, NewContact("Anne", "33633333333"))  # same
    found = await store.find_contact(alice, ann)
    assert found is not None and (found.name, found.number) == ("Anne", "33633333333")
    with pytest.raises(exc.NameTaken):
        await store.update_contact(alice, ben, NewContact("Ben", "33633333333"))
    kept = await store.find_contact(alice, ben)
    assert kept is not None and kept.number == "33622222222"
    assert not await store.update_contact(bob, ann, NewContact("Bob's", "33699999999"))
    assert not await store.update_contact(alice, ben + 1000, NewContact("X", "33699999999"))
    still = await store.find_contact(alice, ann)
    assert still is not None and still.name == "Anne"


async def test_delete_contact_leaves_its_groups(store: Store) -> None:
    """Deleting a contact removes its memberships; False for absent contacts."""
    alice, bob = await accounts(store)
    ann = await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    group = await store.create_group(alice, "Team", T0)
    assert await store.set_members(alice, group, [ann], True) == 1
    assert not await store.delete_contact(bob, ann)
    assert await store.find_contact(alice, ann) is not None
    assert await store.delete_contact(alice, ann)
    assert await store.find_contact(alice, ann) is None
    assert not await store.delete_contact(alice, ann)
    found = await store.find_group(alice, group)
    assert found is not None and found.members == 0
    assert await store.group_numbers(alice, "Team") == []


async def test_list_contacts_searches_sorts_and_pages(store: Store) -> None:
    """list_contacts searches name/number, sorts by name then number, pages, filters by group."""
    alice, bob = await accounts(store)
    ids = {}
    for name, number in (("Zoe", "33611111111"), ("ann", "33622222222"),
                         ("Ann", "33633333333"), ("Ann", "33600000000")):  # fmt: skip
        ids[number] = await store.add_contact(alice, NewContact(name, number), T0)
    await store.add_contact(bob, NewContact("Ann", "33644444444"), T0)
    listed = await store.list_contacts(alice, None, "", 10, 0)
    assert [(c.name, c.number) for c in listed] == [
        ("Ann", "33600000000"),
        ("Ann", "33633333333"),
        ("Zoe", "33611111111"),
        ("ann", "33622222222"),
    ]
    assert [c.number for c in await store.list_contacts(alice, None, "ANN", 10, 0)] == [
        "33600000000",
        "33633333333",
        "33622222222",
    ]
    assert [c.name for c in await store.list_contacts(alice, None, "1111", 10, 0)] == ["Zoe"]
    assert [c.number for c in await store.list_contacts(alice, None, "", 2, 1)] == [
        "33633333333",
        "33611111111",
    ]
    group = await store.create_group(alice, "Team", T0)
    await store.set_members(alice, group, [ids["33611111111"], ids["33622222222"]], True)
    members = await store.list_contacts(alice, group, "", 10, 0)
    assert [c.name for c in members] == ["Zoe", "ann"]
    assert all(c.groups == ("Team",) for c in members)
    assert [c.name for c in await store.list_contacts(alice, group, "zo", 10, 0)] == ["Zoe"]
    assert await store.list_contacts(bob, group, "", 10, 0) == []  # not bob's group


async def test_groups_create_find_list_and_unique_names(store: Store) -> None:
    """Groups are found and listed by name with sizes; names unique per account."""
    alice, bob = await accounts(store)
    team = await store.create_group(alice, "Team", T0)
    club = await store.create_group(alice, "Club", T0 + 1)
    with pytest.raises(exc.NameTaken):
        await store.create_group(alice, "Team", T0 + 2)
    await store.create_group(bob, "Team", T0)
    assert await store.find_group(alice, team) == Group(team, "Team", T0, 0)
    assert await store.find_group(bob, team) is None
    assert await store.list_groups(alice) == [
        Group(club, "Club", T0 + 1, 0),
        Group(team, "Team", T0, 0),
    ]
    assert [g.name for g in await store.list_groups(bob)] == ["Team"]


async def test_rename_group(store: Store) -> None:
    """rename_group renames; NameTaken for a taken name; False for absent groups."""
    alice, bob = await accounts(store)
    team = await store.create_group(alice, "Team", T0)
    await store.create_group(alice, "Club", T0)
    assert await store.rename_group(alice, team, "Crew")
    assert await store.rename_group(alice, team, "Crew")  # its own name
    with pytest.raises(exc.NameTaken):
        await store.rename_group(alice, team, "Club")
    assert not await store.rename_group(bob, team, "Mine")
    assert not await store.rename_group(alice, team + 1000, "Other")
    found = await store.find_group(alice, team)
    assert found is not None and found.name == "Crew"


async def test_delete_group_keeps_its_contacts(store: Store) -> None:
    """Deleting a group keeps its contacts; False for absent groups."""
    alice, bob = await accounts(store)
    ann = await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    team = await store.create_group(alice, "Team", T0)
    await store.set_members(alice, team, [ann], True)
    assert not await store.delete_group(bob, team)
    assert await store.delete_group(alice, team)
    assert not await store.delete_group(alice, team)
    assert await store.find_group(alice, team) is None
    assert await store.find_contact(alice, ann) == Contact(ann, "Ann", "33611111111", T0, ())
    assert await store.group_numbers(alice, "Team") is None


async def test_set_members_counts_changes_and_ignores_other_accounts(store: Store) -> None:
    """set_members counts changed memberships and ignores other accounts' ids."""
    alice, bob = await accounts(store)
    ann = await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    ben = await store.add_contact(alice, NewContact("Ben", "33622222222"), T0)
    bobs = await store.add_contact(bob, NewContact("Bo", "33633333333"), T0)
    team = await store.create_group(alice, "Team", T0)
    assert await store.set_members(alice, team, [ann, ann, bobs, 99_999], True) == 1
    assert await store.set_members(alice, team, [ann, ben], True) == 1
    assert await store.set_members(bob, team, [bobs], True) == 0
    found = await store.find_contact(alice, ann)
    assert found is not None and found.groups == ("Team",)
    club = await store.create_group(alice, "Club", T0)
    await store.set_members(alice, club, [ann], True)
    again = await store.find_contact(alice, ann)
    assert again is not None and again.groups == ("Club", "Team")
    assert await store.set_members(alice, team, [ann, bobs], False) == 1
    assert await store.set_members(alice, team, [ann], False) == 0
    assert await store.group_numbers(alice, "Team") == ["33622222222"]


async def test_import_creates_the_group_and_upserts_contacts(store: Store) -> None:
    """An import creates the group, adds new numbers, renames known ones given a name."""
    alice, bob = await accounts(store)
    ann = await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    ben = await store.add_contact(alice, NewContact("Ben", "33622222222"), T0)
    await store.add_contact(bob, NewContact("Bob's", "33633333333"), T0)
    imported = await store.import_contacts(
        alice,
        "Team",
        [
            NewContact("Anne", "33611111111"),
            NewContact("", "33622222222"),
            NewContact("Cleo", "33633333333"),
            NewContact("", "33644444444"),
        ],
        T0 + 5,
    )
    assert imported == Imported(added=2, updated=2, members=4)
    [team] = await store.list_groups(alice)
    assert (team.name, team.members, team.created_at) == ("Team", 4, T0 + 5)
    renamed, kept = await store.find_contact(alice, ann), await store.find_contact(alice, ben)
    assert renamed is not None and (renamed.name, renamed.groups) == ("Anne", ("Team",))
    assert kept is not None and kept.name == "Ben"
    names = [(c.name, c.number) for c in await store.list_contacts(alice, team.id, "", 10, 0)]
    assert ("Cleo", "33633333333") in names and ("", "33644444444") in names
    bobs = await store.list_contacts(bob, None, "", 10, 0)
    assert [(c.name, c.groups) for c in bobs] == [("Bob's", ())]  # bob's contact untouched


async def test_import_into_an_existing_group_and_twice(store: Store) -> None:
    """Importing into an existing group or twice adds nothing twice; a number twice is one."""
    alice, _ = await accounts(store)
    ann = await store.add_contact(alice, NewContact("Ann", "33611111111"), T0)
    team = await store.create_group(alice, "Team", T0)
    await store.set_members(alice, team, [ann], True)
    rows = [NewContact("Cleo", "33633333333"), NewContact("", "33633333333")]
    assert await store.import_contacts(alice, "Team", rows, T0) == Imported(1, 1, 2)
    assert await store.import_contacts(alice, "Team", rows, T0) == Imported(0, 2, 2)
    assert [g.id for g in await store.list_groups(alice)] == [team]
    assert await store.import_contacts(alice, "Empty", [], T0) == Imported(0, 0, 0)
    assert await store.group_numbers(alice, "Empty") == []
    listed = await store.list_contacts(alice, None, "", 10, 0)
    assert [(c.name, c.number) for c in listed] == [("Ann", "33611111111"), ("Cleo", "33633333333")]


async def test_group_numbers_in_contact_id_order(store: Store) -> None:
    """group_numbers: members' numbers in contact id order; None for an absent group."""
    alice, bob = await accounts(store)
    first = await store.add_contact(alice, NewContact("Zed", "33699999999"), T0)
    second = await store.add_contact(alice, NewContact("Amy", "33611111111"), T0)
    await store.add_contact(alice, NewContact("Out", "33655555555"), T0)
    team = await store.create_group(alice, "Team", T0)
    await store.set_members(alice, team, [second, first], True)
    assert await store.group_numbers(alice, "Team") == ["33699999999", "33611111111"]
    assert await store.group_numbers(bob, "Team") is None
    assert await store.group_numbers(alice, "team") is None
    await store.create_group(alice, "Empty", T0)
    assert await store.group_numbers(alice, "Empty") == []
