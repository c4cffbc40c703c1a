"""The directory pages of the console: contacts, groups, their members, and importing a
CSV or XLSX file into a group. Every page is a customer's and reads through
`service_directory.Directory` with the visitor's account, so another account's
contact or group id is answered ``404`` like a missing one."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.responses import Response

from passerelle import exceptions as exc
from passerelle.console.imports import MAX_UPLOAD, read_upload
from passerelle.console.web import FORM_BYTES, MAX_ID_DIGITS, Access, Ctx, Owns, Page, Refusal
from passerelle.core import contacts
from passerelle.core.console import Contact, Group
from passerelle.service_directory import Directory, checked_group

PER_PAGE = 50
MEMBERS = 1000  # members listed on a group's page
PICK = 200  # contacts offered to add to a group on its page
SHOWN_ERRORS = 500  # refused lines listed after an import
GET_POST = ("GET", "POST")


def directory(ctx: Ctx) -> Directory:
    """The directory service of the gateway."""
    return Directory(ctx.gateway)


async def own_contact(ctx: Ctx) -> Contact:
    """The visitor's contact named by the path, else Refusal 404."""
    found = await directory(ctx).find_contact(ctx.customer, ctx.path_id("contact_id"))
    if found is None:
        raise Refusal(404, "error.404")
    return found


async def own_group(ctx: Ctx) -> Group:
    """The visitor's group named by the path, else Refusal 404."""
    found = await directory(ctx).find_group(ctx.customer, ctx.path_id("group_id"))
    if found is None:
        raise Refusal(404, "error.404")
    return found


def explain(ctx: Ctx, error: exc.InvalidValue) -> str:
    """A refused value's sentence in the visitor's language."""
    problem = contacts.problem_of(str(error))
    return ctx.t("dir.problem." + problem) if problem is not None else str(error)


def page_number(ctx: Ctx) -> int:
    """The ``page`` query parameter (1 and up)."""
    raw = ctx.request.query_params.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 6 and raw != "0" else 1


def ids_of(ctx: Ctx, name: str) -> list[int]:
    """The ids posted in the repeated field `name` (anything else ignored)."""
    values = [] if ctx.form is None else ctx.form.getlist(name)
    return [
        int(v)
        for v in values
        if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= MAX_ID_DIGITS
    ]


def send_link(group: str) -> str:
    """The send page with a group as its recipients."""
    return "/sms/envoyer?groupe=" + quote(group, safe="")


# --- contacts ---------------------------------------------------------------------------


async def contacts_page(ctx: Ctx) -> Response:
    """``/contacts``: the list (search ``q``, pages) and the form to add one."""
    values = {"name": "", "number": ""}
    error = ""
    status = 200
    if ctx.request.method == "POST":
        values = {"name": ctx.field("name"), "number": ctx.field("number")}
        try:
            await directory(ctx).add_contact(ctx.customer, values["name"], values["number"])
        except exc.InvalidValue as invalid:
            error = explain(ctx, invalid)
        except exc.NameTaken:
            error = ctx.t("dir.number_taken")
        else:
            return ctx.redirect("/contacts", ok="dir.contact_added")
        status = 400
    search = ctx.request.query_params.get("q", "").strip()[:100]
    page = page_number(ctx)
    found = await directory(ctx).list_contacts(
        ctx.customer, search, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
    )
    return ctx.render(
        "directory_contacts.html",
        status=status,
        contacts=found[:PER_PAGE],
        more=len(found) > PER_PAGE,
        page=page,
        q=search,
        values=values,
        error=error,
    )


async def contact_page(ctx: Ctx) -> Response:
    """``/contacts/{contact_id}``: the form to change a contact; posted, saved."""
    contact = await own_contact(ctx)
    if ctx.request.method != "POST":
        values = {"name": contact.name, "number": contact.number}
        return ctx.render("directory_contact.html", contact=contact, values=values)
    values = {"name": ctx.field("name"), "number": ctx.field("number")}
    try:
        done = await directory(ctx).update_contact(
            ctx.customer, contact.id, values["name"], values["number"]
        )
    except exc.InvalidValue as invalid:
        error = explain(ctx, invalid)
    except exc.NameTaken:
        error = ctx.t("dir.number_taken")
    else:
        if not done:
            raise Refusal(404, "error.404")
        return ctx.redirect("/contacts", ok="dir.contact_saved")
    return ctx.render(
        "directory_contact.html", status=400, contact=contact, values=values, error=error
    )


async def contact_delete(ctx: Ctx) -> Response:
    """``/contacts/{contact_id}/supprimer`` (POST): delete the contact."""
    contact = await own_contact(ctx)
    if not await directory(ctx).delete_contact(ctx.customer, contact.id):
        raise Refusal(404, "error.404")
    return ctx.redirect("/contacts", ok="dir.contact_deleted")


# --- groups -----------------------------------------------------------------------------


async def groups_page(ctx: Ctx) -> Response:
    """``/groupes``: the groups and the form to create one."""
    name = ""
    error = ""
    if ctx.request.method == "POST":
        name = ctx.field("name")
        try:
            group_id = await directory(ctx).create_group(ctx.customer, name)
        except exc.InvalidValue as invalid:
            error = explain(ctx, invalid)
        except exc.NameTaken:
            error = ctx.t("dir.group_taken")
        else:
            return ctx.redirect(f"/groupes/{group_id}", ok="dir.group_created")
    groups = await directory(ctx).list_groups(ctx.customer)
    return ctx.render(
        "directory_groups.html",
        status=400 if error else 200,
        groups=[(g, send_link(g.name)) for g in groups],
        name=name,
        error=error,
    )


async def group_page(ctx: Ctx) -> Response:
    """``/groupes/{group_id}``: the members; posted, ``action`` ``rename`` (``name``),
    ``add`` or ``remove`` (``contact_ids``)."""
    group = await own_group(ctx)
    service = directory(ctx)
    error = ""
    name = group.name
    if ctx.request.method == "POST":
        action = ctx.field("action") or ("rename" if ctx.field("name") else "")
        if action == "rename":
            name = ctx.field("name")
            try:
                if not await service.rename_group(ctx.customer, group.id, name):
                    raise Refusal(404, "error.404")
            except exc.InvalidValue as invalid:
                error = explain(ctx, invalid)
            except exc.NameTaken:
                error = ctx.t("dir.group_taken")
            else:
                return ctx.redirect(f"/groupes/{group.id}", ok="dir.group_renamed")
        elif action in ("add", "remove"):
            ids = ids_of(ctx, "contact_ids")
            await service.set_members(ctx.customer, group.id, ids, action == "add")
            ok = "dir.members_added" if action == "add" else "dir.members_removed"
            return ctx.redirect(f"/groupes/{group.id}", ok=ok)
        else:
            raise Refusal(400, "error.bad_form")
    members = await service.list_contacts(ctx.customer, group_id=group.id, limit=MEMBERS)
    search = ctx.request.query_params.get("q", "").strip()[:100]
    member_ids = {c.id for c in members}
    offered = await service.list_contacts(ctx.customer, search, limit=PICK + len(member_ids))
    others = [c for c in offered if c.id not in member_ids][:PICK]
    return ctx.render(
        "directory_group.html",
        status=400 if error else 200,
        group=group,
        name=name,
        members=members,
        others=others,
        q=search,
        send=send_link(group.name),
        error=error,
    )


async def group_delete(ctx: Ctx) -> Response:
    """``/groupes/{group_id}/supprimer`` (POST): delete the group (its contacts stay)."""
    group = await own_group(ctx)
    if not await directory(ctx).delete_group(ctx.customer, group.id):
        raise Refusal(404, "error.404")
    return ctx.redirect("/groupes", ok="dir.group_deleted")


# --- import -----------------------------------------------------------------------------


async def import_page(ctx: Ctx) -> Response:
    """``/groupes/importer``: a CSV or XLSX file into a group (created if missing); the
    page then says how many contacts were added and updated, and lists the refused
    lines with their numbers."""
    group = ctx.field("group")
    if ctx.request.method != "POST":
        return ctx.render("directory_import.html", group=group)
    upload = ctx.file("file")
    if upload is None:
        error = ctx.t("dir.import.no_file")
        return ctx.render("directory_import.html", status=400, group=group, error=error)
    data = await upload.read(MAX_UPLOAD + 1)
    await upload.close()
    if len(data) > MAX_UPLOAD:
        raise Refusal(413, "error.too_large")
    service = directory(ctx)
    try:
        group = checked_group(group)  # before the file is read
    except exc.InvalidValue as invalid:
        error = explain(ctx, invalid)
        return ctx.render("directory_import.html", status=400, group=group, error=error)
    try:
        parsed = await asyncio.to_thread(read_upload, data)
    except exc.InvalidValue as unreadable:  # its message is the key of a text
        error = ctx.t(str(unreadable))
        return ctx.render("directory_import.html", status=400, group=group, error=error)
    imported = None
    if parsed.contacts:
        imported = await service.import_contacts(ctx.customer, group, parsed.contacts)
    groups = await service.list_groups(ctx.customer)
    target = next((g for g in groups if g.name == group), None)
    return ctx.render(
        "directory_import.html",
        status=200 if imported is not None else 400,
        group=group,
        imported=imported,
        target=target,
        send=send_link(group),
        errors=parsed.errors[:SHOWN_ERRORS],
        more_errors=max(0, len(parsed.errors) - SHOWN_ERRORS),
        done=True,
    )


UPLOAD_BODY = MAX_UPLOAD + FORM_BYTES  # the file and the form around it

PAGES: list[Page] = [
    Page("/contacts", contacts_page, GET_POST, Access.CUSTOMER),
    Page("/contacts/{contact_id}", contact_page, GET_POST, Access.CUSTOMER, Owns.CONTACT),
    Page(
        "/contacts/{contact_id}/supprimer",
        contact_delete,
        ("POST",),
        Access.CUSTOMER,
        Owns.CONTACT,
    ),
    Page("/groupes", groups_page, GET_POST, Access.CUSTOMER),
    Page(
        "/groupes/importer",
        import_page,
        GET_POST,
        Access.CUSTOMER,
        max_body=UPLOAD_BODY,
        max_files=1,
    ),
    Page(
        "/groupes/{group_id}",
        group_page,
        GET_POST,
        Access.CUSTOMER,
        Owns.GROUP,
        max_fields=MEMBERS + 10,  # a checkbox per member listed, and the form's own fields
    ),
    Page("/groupes/{group_id}/supprimer", group_delete, ("POST",), Access.CUSTOMER, Owns.GROUP),
]
