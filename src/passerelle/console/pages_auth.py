"""Visitor pages: sign-up, activation, log-in and log-out, password reset and change,
the home page and the language switch."""

from __future__ import annotations

from starlette.responses import Response

from passerelle import exceptions as exc
from passerelle.console.i18n import LANGS
from passerelle.console.web import LANG_COOKIE, SESSION_COOKIE, Access, Ctx, Page, Refusal
from passerelle.core.console import Role


def local_path(value: str, default: str = "/") -> str:
    """`value` when it is a path of this site (no scheme, no host, no ``//``), else
    `default`: a ``next`` parameter never sends a visitor elsewhere."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


async def home(ctx: Ctx) -> Response:
    """The dashboard of a customer, the operator's pages for an operator, else log-in."""
    if ctx.session is None:
        return ctx.redirect("/user/login")
    if ctx.session.role is Role.OPERATOR:
        return ctx.redirect("/operateur/comptes")
    return ctx.render("home.html")


async def sign_up(ctx: Ctx) -> Response:
    """``/user/create``: the form; posted, the account and its activation e-mail."""
    if ctx.request.method != "POST":
        return ctx.render("signup.html", login="", email="")
    login, email = ctx.field("login"), ctx.field("email")
    password = ctx.secret("password")
    try:
        await ctx.console.sign_up(login, email, password, ctx.address, ctx.link_base)
    except exc.AccountExists:
        error = ctx.t("signup.login_taken")
    except exc.NameTaken:
        error = ctx.t("signup.email_taken")
    except exc.InvalidValue as invalid:
        error = ctx.t("signup.invalid") + str(invalid)
    except exc.RateLimited:
        raise Refusal(429, "error.429") from None
    else:
        return ctx.render("signup.html", done=True)
    return ctx.render("signup.html", status=400, error=error, login=login, email=email)


async def activate(ctx: Ctx) -> Response:
    """The link of the activation e-mail: a button (mail scanners that open links do not
    use them up); posted, the account activated with its free credits."""
    if ctx.request.method != "POST":
        return ctx.render("activate.html", state="ask")
    token = ctx.request.path_params["token"]
    account = await ctx.console.activate(token)
    if account is None:
        return ctx.render("activate.html", status=400, state="bad")
    return ctx.render("activate.html", state="done")


async def log_in(ctx: Ctx) -> Response:
    """``/user/login``: the form; posted, a session cookie and the next page."""
    next_path = local_path(ctx.field("next"))
    if ctx.request.method != "POST":
        return ctx.render("login.html", login="", next=next_path)
    login = ctx.field("login")
    try:
        opened = await ctx.console.log_in(login, ctx.secret("password"), ctx.address)
    except exc.RateLimited:
        raise Refusal(429, "error.429") from None
    except exc.GatewayDisabled:
        error = "login.inactive"
    except exc.BadCredentials:
        error = "login.bad"
    else:
        ctx.set_cookie(SESSION_COOKIE, opened.token, int(ctx.settings.session_ttl_s))
        if opened.session.role is Role.OPERATOR and next_path == "/":
            next_path = "/operateur/comptes"
        return ctx.redirect(next_path)
    return ctx.render("login.html", status=400, error=error, login=login, next=next_path)


async def log_out(ctx: Ctx) -> Response:
    """``/user/logout``: a button (GET); posted, the session ended (server side)."""
    if ctx.request.method != "POST":
        return ctx.render("logout.html")
    if ctx.session is not None:
        await ctx.console.log_out(ctx.session)
    ctx.set_cookie(SESSION_COOKIE, "", 0)
    return ctx.redirect("/user/login", ok="logout.done")


async def reset_request(ctx: Ctx) -> Response:
    """``/user/reset``: the e-mail address; posted, a reset link sent if it is known."""
    if ctx.request.method != "POST":
        return ctx.render("reset_request.html")
    try:
        await ctx.console.request_reset(ctx.field("email"), ctx.address, ctx.link_base)
    except exc.RateLimited:
        raise Refusal(429, "error.429") from None
    return ctx.render("reset_request.html", done=True)


async def reset_choose(ctx: Ctx) -> Response:
    """The link of the reset e-mail: a new password."""
    if ctx.request.method != "POST":
        return ctx.render("reset_choose.html", state="ask")
    token = ctx.request.path_params["token"]
    try:
        account = await ctx.console.reset_password(token, ctx.secret("password"), ctx.address)
    except exc.RateLimited:
        raise Refusal(429, "error.429") from None
    except exc.InvalidValue as invalid:
        return ctx.render("reset_choose.html", status=400, state="ask", error=str(invalid))
    if account is None:
        return ctx.render("reset_choose.html", status=400, state="bad")
    ctx.set_cookie(SESSION_COOKIE, "", 0)
    return ctx.redirect("/user/login", ok="reset.done")


async def change_password(ctx: Ctx) -> Response:
    """``/compte/mot-de-passe``: change the console password; other sessions end."""
    if ctx.request.method != "POST":
        return ctx.render("password.html")
    assert ctx.session is not None
    try:
        await ctx.console.change_password(
            ctx.session, ctx.secret("current_password"), ctx.secret("password"), ctx.address
        )
    except exc.RateLimited:
        raise Refusal(429, "error.429") from None
    except exc.BadCredentials:
        return ctx.render("password.html", status=400, error=ctx.t("password.bad"))
    except exc.InvalidValue as invalid:
        return ctx.render("password.html", status=400, error=str(invalid))
    return ctx.redirect("/compte/mot-de-passe", ok="password.done")


async def language(ctx: Ctx) -> Response:
    """``/lang/fr`` or ``/lang/en``: remember the language, back to ``next``."""
    lang = ctx.request.path_params["lang"]
    if lang not in LANGS:
        raise Refusal(404, "error.404")
    ctx.set_cookie(LANG_COOKIE, lang, 365 * 86400)
    return ctx.redirect(local_path(ctx.field("next")))


GET_POST = ("GET", "POST")

PAGES: list[Page] = [
    Page("/", home, access=Access.PUBLIC, name="home"),
    Page("/user/create", sign_up, GET_POST, Access.PUBLIC),
    Page("/user/activate/{token}", activate, GET_POST, Access.PUBLIC),
    Page("/user/login", log_in, GET_POST, Access.PUBLIC),
    Page("/user/logout", log_out, GET_POST, Access.PUBLIC),
    Page("/user/reset", reset_request, GET_POST, Access.PUBLIC),
    Page("/user/reset/{token}", reset_choose, GET_POST, Access.PUBLIC),
    Page("/compte/mot-de-passe", change_password, GET_POST, Access.CUSTOMER),
    Page("/lang/{lang}", language, access=Access.PUBLIC),
]
