"""The console half of the store contract, on every backend: sign-up with its link and
e-mail in one transaction, one-time links (activation, password reset), console
passwords, sessions, the purge, operators. The reads of the console's pages are in
`test_store_console_reads_contract.py`."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import exceptions as exc
from passerelle.core.console import LinkPurpose, NewLink, NewOperator, NewSession, Role
from passerelle.core.values import NewAccount, NewMail
from passerelle.store.base import Store

T0 = 1_000_000.0
DAY = 86_400.0


def new_account(login: str = "alice", email: str | None = None, credits: int = 0) -> NewAccount:
    return NewAccount(
        login=login,
        email=email or f"{login}@example.com",
        api_password_hash="api-hash",
        callback_secret="s",
        created_at=T0,
        credits=credits,
        activated=False,
        console_password_hash=f"console-hash-{login}",
    )


def link(digest: str, login: str = "alice", purpose: LinkPurpose = LinkPurpose.ACTIVATE) -> NewLink:
    return NewLink(digest, purpose, login, T0, T0 + DAY)


def mail(to: str = "alice@example.com", subject: str = "Activate") -> NewMail:
    return NewMail(to, subject, "https://x.test/link", T0)


def session(digest: str, login: str = "alice", role: Role = Role.CUSTOMER) -> NewSession:
    return NewSession(digest, role, login, f"csrf-{digest}", T0, T0 + 3600)


async def signed_up(store: Store, login: str = "alice", digest: str = "act-1") -> int:
    """An account signed up with the ACTIVATE link `digest`; its id."""
    account = await store.sign_up(new_account(login), link(digest, login), mail(f"{login}@x.fr"))
    return account.id


async def test_sign_up_stores_account_link_and_mail(store: Store) -> None:
    """Sign-up stores the account (console hash kept), a usable link and a queued e-mail."""
    account = await store.sign_up(new_account(), link("act-1"), mail())
    assert (account.login, account.activated, account.credits) == ("alice", False, 0)
    assert account.console_password_hash == "console-hash-alice"
    assert await store.find_account("alice") == account
    [job] = await store.claim_mails(T0, 30.0, 10)
    assert (job.to_addr, job.subject) == ("alice@example.com", "Activate")
    activated = await store.activate_account("act-1", T0 + 1, 0)
    assert activated is not None and activated.activated


async def test_create_account_stores_the_console_password_hash(store: Store) -> None:
    """create_account keeps NewAccount.console_password_hash (None when not given)."""
    account = await store.create_account(new_account())
    assert account.console_password_hash == "console-hash-alice"
    plain = NewAccount("bob", "bob@example.com", "h", "s", T0)
    assert (await store.create_account(plain)).console_password_hash is None


async def test_sign_up_refuses_a_taken_login_storing_nothing(store: Store) -> None:
    """A taken login: AccountExists, and neither the link nor the e-mail is stored."""
    await store.create_account(new_account())
    with pytest.raises(exc.AccountExists):
        await store.sign_up(new_account(email="other@example.com"), link("act-2"), mail())
    assert await store.claim_mails(T0, 30.0, 10) == []
    assert await store.activate_account("act-2", T0 + 1, 50) is None
    assert await store.find_account_by_email("other@example.com") is None


async def test_sign_up_refuses_a_taken_email_in_any_case_storing_nothing(store: Store) -> None:
    """An e-mail another account has, whatever its case: NameTaken, nothing stored."""
    first = await store.create_account(new_account("alice", "Alice@Example.COM"))
    with pytest.raises(exc.NameTaken):
        await store.sign_up(
            new_account("bob", "aLiCe@example.com"), link("act-2", "bob"), mail("a@x.fr")
        )
    assert await store.find_account("bob") is None
    assert await store.claim_mails(T0, 30.0, 10) == []
    assert await store.activate_account("act-2", T0 + 1, 50) is None
    assert await store.find_account_by_email("ALICE@example.com") == first
    assert await store.find_account_by_email("nobody@example.com") is None


async def test_request_link_stores_the_link_and_its_mail(store: Store) -> None:
    """request_link stores a usable link and queues its e-mail."""
    await store.create_account(new_account())
    await store.request_link(link("reset-1", purpose=LinkPurpose.RESET), mail(subject="Reset"))
    [job] = await store.claim_mails(T0, 30.0, 10)
    assert job.subject == "Reset"
    assert await store.reset_console_password("reset-1", "new-hash", T0 + 1) is not None


async def test_activation_grants_credits_once_with_a_ledger_entry(store: Store) -> None:
    """Activation works once: account activated, credits granted with a grant ledger entry."""
    account_id = await signed_up(store)
    account = await store.activate_account("act-1", T0 + 10, 20)
    assert account is not None
    assert (account.id, account.activated, account.credits) == (account_id, True, 20)
    assert await store.find_account("alice") == account
    [entry] = await store.ledger(account_id)
    assert (entry.delta, entry.kind, entry.actor, entry.reason, entry.at) == (
        20,
        "grant",
        "activation",
        "free test credits",
        T0 + 10,
    )
    assert await store.balance(account_id) == await store.ledger_sum(account_id) == 20
    assert await store.activate_account("act-1", T0 + 11, 20) is None
    assert await store.balance(account_id) == await store.ledger_sum(account_id) == 20


async def test_activation_without_credits_writes_no_ledger_entry(store: Store) -> None:
    """Activating with 0 credits activates and writes no ledger entry."""
    account_id = await signed_up(store)
    account = await store.activate_account("act-1", T0 + 10, 0)
    assert account is not None and account.activated and account.credits == 0
    assert await store.ledger(account_id) == []


async def test_activation_refuses_expired_unknown_and_reset_links(store: Store) -> None:
    """No activation by an expired, unknown or RESET link: nothing changes."""
    await signed_up(store)
    await store.request_link(link("reset-1", purpose=LinkPurpose.RESET), mail())
    assert await store.activate_account("act-1", T0 + DAY, 20) is None
    assert await store.activate_account("nope", T0 + 1, 20) is None
    assert await store.activate_account("reset-1", T0 + 1, 20) is None
    account = await store.find_account("alice")
    assert account is not None and not account.activated and account.credits == 0


async def test_reset_sets_the_password_once_and_ends_customer_sessions(store: Store) -> None:
    """A reset works once: password set, only the account's customer sessions ended."""
    await signed_up(store)
    await signed_up(store, "bob", "act-2")
    await store.request_link(link("reset-1", purpose=LinkPurpose.RESET), mail())
    for s in (
        session("a1"),
        session("a2"),
        session("op", role=Role.OPERATOR),
        session("b1", "bob"),
    ):
        await store.create_session(s)
    account = await store.reset_console_password("reset-1", "new-hash", T0 + 5)
    assert account is not None and account.console_password_hash == "new-hash"
    assert await store.find_account("alice") == account
    assert await store.find_session("a1", T0 + 6) is None
    assert await store.find_session("a2", T0 + 6) is None
    assert await store.find_session("op", T0 + 6) is not None
    assert await store.find_session("b1", T0 + 6) is not None
    assert await store.reset_console_password("reset-1", "other-hash", T0 + 7) is None
    again = await store.find_account("alice")
    assert again is not None and again.console_password_hash == "new-hash"


async def test_reset_refuses_expired_and_activation_links(store: Store) -> None:
    """No reset with an expired link or an ACTIVATE link; the password is kept."""
    await signed_up(store)
    await store.request_link(link("reset-1", purpose=LinkPurpose.RESET), mail())
    assert await store.reset_console_password("reset-1", "x", T0 + DAY + 1) is None
    assert await store.reset_console_password("act-1", "x", T0 + 1) is None
    account = await store.find_account("alice")
    assert account is not None and account.console_password_hash == "console-hash-alice"


async def test_set_console_password_ends_other_sessions_but_keep(store: Store) -> None:
    """Setting the password ends customer sessions but `keep`; AccountNotFound if unknown."""
    await signed_up(store)
    for digest in ("a1", "a2", "a3"):
        await store.create_session(session(digest))
    await store.set_console_password("alice", "changed", T0 + 5, "a2")
    account = await store.find_account("alice")
    assert account is not None and account.console_password_hash == "changed"
    assert account.updated_at == T0 + 5
    assert [await store.find_session(d, T0 + 6) is not None for d in ("a1", "a2", "a3")] == [
        False,
        True,
        False,
    ]
    await store.set_console_password("alice", "again", T0 + 7, None)
    assert await store.find_session("a2", T0 + 8) is None
    with pytest.raises(exc.AccountNotFound):
        await store.set_console_password("nobody", "x", T0, None)


async def test_sessions_are_found_until_they_expire_or_end(store: Store) -> None:
    """A session is found with its fields until its expiry, and not after it ends."""
    await store.create_session(session("s1"))
    found = await store.find_session("s1", T0 + 3599)
    assert found is not None
    assert (found.digest, found.role, found.login, found.csrf) == (
        "s1",
        Role.CUSTOMER,
        "alice",
        "csrf-s1",
    )
    assert (found.created_at, found.expires_at) == (T0, T0 + 3600)
    assert await store.find_session("s1", T0 + 3600) is None
    await store.end_session("s1")
    assert await store.find_session("s1", T0) is None
    await store.end_session("s1")  # ending it again changes nothing
    assert await store.find_session("unknown", T0) is None


async def test_end_sessions_ends_one_login_in_one_role_but_keep(store: Store) -> None:
    """end_sessions ends the sessions of the login in the role, except `keep`; how many."""
    for s in (session("a1"), session("a2"), session("a3"), session("op", role=Role.OPERATOR)):
        await store.create_session(s)
    await store.create_session(session("b1", "bob"))
    assert await store.end_sessions(Role.CUSTOMER, "alice", keep="a3") == 2
    assert await store.find_session("a3", T0) is not None
    assert await store.end_sessions(Role.CUSTOMER, "alice") == 1
    assert await store.find_session("op", T0) is not None
    assert await store.find_session("b1", T0) is not None
    assert await store.end_sessions(Role.OPERATOR, "alice") == 1
    assert await store.end_sessions(Role.OPERATOR, "alice") == 0


async def test_purge_deletes_expired_sessions_and_links(store: Store) -> None:
    """purge_console deletes the sessions and links expired before now; how many rows."""
    await signed_up(store)  # link act-1 expires at T0 + DAY
    await store.request_link(NewLink("short", LinkPurpose.RESET, "alice", T0, T0 + 60), mail())
    await store.create_session(NewSession("old", Role.CUSTOMER, "alice", "c", T0, T0 + 30))
    await store.create_session(session("live"))  # expires at T0 + 3600
    assert await store.purge_console(T0 + 100) == 2
    assert await store.find_session("live", T0 + 100) is not None
    assert await store.reset_console_password("short", "x", T0 + 10) is None  # purged
    assert await store.purge_console(T0 + 100) == 0
    assert await store.purge_console(T0 + DAY) == 2  # the live session and act-1
    assert await store.activate_account("act-1", T0 + 1, 0) is None


async def test_operators_are_unique_by_login(store: Store) -> None:
    """An operator is found by login with its fields; a taken login raises NameTaken."""
    first = await store.create_operator(NewOperator("root", "root@x.fr", "op-hash", T0))
    second = await store.create_operator(NewOperator("ops", "ops@x.fr", "op-hash-2", T0 + 1))
    assert (first.login, first.email, first.password_hash, first.created_at) == (
        "root",
        "root@x.fr",
        "op-hash",
        T0,
    )
    assert first.id != second.id
    assert await store.find_operator("root") == first
    assert await store.find_operator("ops") == second
    assert await store.find_operator("nobody") is None
    with pytest.raises(exc.NameTaken):
        await store.create_operator(NewOperator("root", "other@x.fr", "h", T0 + 2))
    assert await store.find_operator("root") == first


async def test_concurrent_uses_of_one_link_activate_once(store: Store) -> None:
    """Five activations with one link at once: one succeeds, the credits are granted once."""
    account_id = await signed_up(store)
    results = await asyncio.gather(*(store.activate_account("act-1", T0 + 1, 20) for _ in range(5)))
    assert sum(r is not None for r in results) == 1
    assert await store.balance(account_id) == await store.ledger_sum(account_id) == 20
    assert len(await store.ledger(account_id)) == 1


async def test_concurrent_sign_ups_with_one_email_store_one(store: Store) -> None:
    """Two sign-ups at once with one e-mail (cases differ): one stored, one NameTaken."""
    results = await asyncio.gather(
        store.sign_up(new_account("ann", "Same@x.fr"), link("a", "ann"), mail()),
        store.sign_up(new_account("bea", "same@X.fr"), link("b", "bea"), mail()),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Account", "NameTaken"]
    assert len(await store.list_accounts("", 10, 0)) == 1
    assert len(await store.claim_mails(T0, 30.0, 10)) == 1


async def test_a_new_password_makes_other_reset_links_useless(store: Store) -> None:
    """Once a password is set (by a reset or a change), every other reset link of that
    login still unused stops working; another login's links keep working."""
    await signed_up(store)
    await signed_up(store, "bob", "act-2")
    for digest in ("r-1", "r-2", "r-3"):
        await store.request_link(link(digest, purpose=LinkPurpose.RESET), mail())
    await store.request_link(link("b-1", "bob", LinkPurpose.RESET), mail("bob@example.com"))
    assert await store.reset_console_password("r-1", "h1", T0 + 5) is not None
    assert await store.reset_console_password("r-2", "h2", T0 + 6) is None
    await store.request_link(link("r-4", purpose=LinkPurpose.RESET), mail())
    await store.set_console_password("alice", "h3", T0 + 7, keep=None)
    assert await store.reset_console_password("r-3", "h4", T0 + 8) is None
    assert await store.reset_console_password("r-4", "h4", T0 + 8) is None
    assert await store.reset_console_password("b-1", "hb", T0 + 8) is not None
    alice = await store.find_account("alice")
    assert alice is not None and alice.console_password_hash == "h3"
