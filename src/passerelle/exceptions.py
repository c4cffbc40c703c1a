"""The one error tree of Passerelle.

::

    PasserelleError
    ├── ApiError                    a request refused with a legacy return code
    │   ├── UnknownAction           11
    │   ├── RateLimited             16
    │   ├── BadCredentials          01
    │   ├── GatewayDisabled         14
    │   ├── DestMissing             03
    │   ├── SenderMissing           04
    │   ├── DestNotNumeric          05
    │   ├── DestTooShort            06
    │   ├── BadPrefix               07
    │   ├── MessageMissing          08
    │   ├── MessageTooLong          12
    │   ├── SenderInvalid           13
    │   ├── TooManyRecipients       15
    │   ├── InvalidParameter        17 (names the parameter)
    │   ├── TooManyFields           18 (more fields or parts than a request may carry)
    │   ├── NoCredit                02
    │   ├── MsgidMissing            09
    │   └── MsgidInvalid            10
    ├── AdminError                  an operator command that cannot be done
    │   ├── AccountExists
    │   ├── AccountNotFound
    │   ├── NameTaken               a login, e-mail, group name or contact number in use
    │   ├── NotFound
    │   │   └── UnknownConnector    a route names a connector that is not stored
    │   ├── ConnectorInUse          removing a connector that routes still name
    │   └── InvalidValue
    ├── SmppError                   the SMPP codec or session (smpp/)
    │   ├── PduError                a frame that cannot be read or written; carries the
    │   │   │                       status to answer
    │   │   └── _Malformed          (private to smpp/frame.py: a body error, before the
    │   │                           header is attached)
    │   ├── TlvStreamError          the optional part of a PDU is truncated (also a
    │   │                           ValueError)
    │   └── WindowFull              submit with the window full (a caller bug)
    ├── CallbackError               sending a callback (webhooks/)
    │   ├── Refused                 the URL may not be called (not http(s), private target)
    │   └── ProtocolError           the receiver's answer was not HTTP/1.x, or none came
    ├── Problem                     a JSON API refusal: status, type slug, detail (answered
    │                               as a problem document by api/v1_errors.py)
    ├── IdempotencyError            an Idempotency-Key that cannot be honoured (JSON API)
    │   ├── IdempotencyMismatch     the key was used for another request (answered 422)
    │   ├── IdempotencyBusy         the key's first request is still being sent (409)
    │   └── IdempotencyDuplicate    the reservation's message is already stored (its msgid)
    ├── ClientError                 the Python client (client/) could not get an answer
    │   ├── ApiRefused              the JSON API refused: status, code, title, detail
    │   │   ├── ClientBadRequest    400/422: the request (codes 03-08, 12, 13, 15, 17)
    │   │   ├── ClientBadCredentials  401: no valid API key (code 01)
    │   │   ├── ClientNoCredit      402: not enough credits (code 02)
    │   │   ├── ClientForbidden     403: the account may not use the API (code 14)
    │   │   ├── ClientNotFound      404: no such message (or another account's)
    │   │   ├── ClientConflict      409: the Idempotency-Key's request is still in progress
    │   │   ├── ClientTooLarge      413: the request body is too large
    │   │   └── ClientRateLimited   429: too many requests (code 16), `retry_after`
    │   └── ClientUnavailable       no usable answer: network errors, or retries exhausted
    ├── RequestIncomplete           the client left before its request was received whole
    ├── PageRefused                 a console page answered with an error page (status, text key)
    ├── ConfigError                 settings that cannot be used
    └── StoreError                  the storage failed (answered 99, request had no effect)

Front doors translate: `api/errors.py` turns an ApiError into ``<code>|<label>`` and
anything else into ``99|Erreur interne`` with a logged reference; the CLI prints an
AdminError's message and exits non-zero: every AdminError's message is a sentence a
person can act on, never a class name. SMPP and callback errors never reach a front
door: the link, the dispatcher and the sender turn them into outcomes (a PDU answered
with its status, a callback attempt recorded and retried). A refusal remembered under
an Idempotency-Key is kept as its legacy code alone; `api_error_of` gives it back.

The Python client (`passerelle.client`) raises ApiRefused subclasses for the JSON
API's problem documents (`refusal_class` picks one by status) and ClientUnavailable
when no attempt got a final answer.

Every class is defined here and nowhere else; the modules that raise them import them
from here, and the names they were first defined under still work
(``passerelle.smpp.frame.PduError``, ``passerelle.smpp.tlv.TlvStreamError``,
``passerelle.smpp.session.WindowFull``, ``passerelle.webhooks.guard.Refused``,
``passerelle.webhooks.client.ProtocolError``). `tests/unit/test_exceptions.py` walks
the package and fails on any exception class outside this tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from passerelle.core.codes import LegacyCode


class PasserelleError(Exception):
    """Base of every error Passerelle raises on purpose."""


class ApiError(PasserelleError):
    """A request refused with a legacy return code; nothing was stored or charged."""

    code: ClassVar[LegacyCode] = LegacyCode.INTERNAL

    def answer(self) -> str:
        """The response line, ``<code>|<label>``."""
        return f"{self.code.number}|{self.code.label}"


class UnknownAction(ApiError):
    code = LegacyCode.UNKNOWN_ACTION


class RateLimited(ApiError):
    code = LegacyCode.RATE_LIMITED


class BadCredentials(ApiError):
    code = LegacyCode.BAD_CREDENTIALS


class GatewayDisabled(ApiError):
    code = LegacyCode.GATEWAY_DISABLED


class DestMissing(ApiError):
    code = LegacyCode.DEST_MISSING


class SenderMissing(ApiError):
    code = LegacyCode.SENDER_MISSING


class DestNotNumeric(ApiError):
    code = LegacyCode.DEST_NOT_NUMERIC


class DestTooShort(ApiError):
    code = LegacyCode.DEST_TOO_SHORT


class BadPrefix(ApiError):
    code = LegacyCode.BAD_PREFIX


class MessageMissing(ApiError):
    code = LegacyCode.MSG_MISSING


class MessageTooLong(ApiError):
    code = LegacyCode.MSG_TOO_LONG


class SenderInvalid(ApiError):
    code = LegacyCode.SENDER_INVALID


class TooManyRecipients(ApiError):
    code = LegacyCode.TOO_MANY_RECIPIENTS


class InvalidParameter(ApiError):
    code = LegacyCode.INVALID_PARAMETER

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def answer(self) -> str:
        return f"{self.code.number}|{self.code.label} : {self.name}"


class TooManyFields(ApiError):
    """More name=value pairs, path pairs or multipart parts than a request may carry."""

    code = LegacyCode.TOO_MANY_FIELDS


class NoCredit(ApiError):
    code = LegacyCode.NO_CREDIT


class MsgidMissing(ApiError):
    code = LegacyCode.MSGID_MISSING


class MsgidInvalid(ApiError):
    code = LegacyCode.MSGID_INVALID


class AdminError(PasserelleError):
    """An operator command (CLI, console) that cannot be carried out."""


class AccountExists(AdminError):
    """The login is taken."""

    def __init__(self, login: str) -> None:
        super().__init__(f"an account named {login!r} already exists")
        self.login = login


class AccountNotFound(AdminError):
    """No account has this login."""

    def __init__(self, login: str) -> None:
        super().__init__(f"no account named {login!r}")
        self.login = login


class NameTaken(AdminError):
    """A unique name is in use: an operator's login, an e-mail address at sign-up, a
    group's name or a contact's number within one account. The message says which."""


class NotFound(AdminError):
    """The named connector, route or event does not exist."""


class UnknownConnector(NotFound):
    """A route may only name connectors that are stored; these are not."""

    def __init__(self, names: Sequence[str]) -> None:
        listed = ", ".join(repr(n) for n in names)
        noun = "connector" if len(names) == 1 else "connectors"
        super().__init__(
            f"no {noun} named {listed}: the route was not added (add the connector first)"
        )
        self.names = tuple(names)


class ConnectorInUse(AdminError):
    """Routes still name the connector: removing it would leave them pointing at nothing."""

    def __init__(self, name: str, routes: Sequence[str]) -> None:
        noun = "route" if len(routes) == 1 else "routes"
        super().__init__(
            f"connector {name!r} is named by {noun} {'; '.join(routes)}: remove or change "
            f"{'it' if len(routes) == 1 else 'them'} first, or use --force to remove "
            f"{'it' if len(routes) == 1 else 'them'} with the connector"
        )
        self.name = name
        self.routes = tuple(routes)


class InvalidValue(AdminError):
    """A value given to an operator command is not acceptable."""


class Problem(PasserelleError):
    """A JSON API request refused with an HTTP `status`: `slug` names its problem type
    (None for ``about:blank``), `code` is the legacy code when there is one; `headers`
    go with the answer and `extra` are more members of the problem document."""

    def __init__(
        self,
        status: int,
        slug: str | None,
        detail: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}


class IdempotencyError(PasserelleError):
    """A request's Idempotency-Key cannot be honoured (`service_idempotency.send_once`);
    the request had no effect."""


class IdempotencyMismatch(IdempotencyError):
    """The key was already used by the account for a request with another body."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the idempotency key {key!r} was used for another request")
        self.key = key


class IdempotencyBusy(IdempotencyError):
    """The key's first request is still being sent (another call holds its lease): the
    client should retry later."""

    def __init__(self, key: str) -> None:
        super().__init__(f"a request with the idempotency key {key!r} is still in progress")
        self.key = key


class IdempotencyDuplicate(IdempotencyError):
    """The store refused a message whose reservation reference another message of the
    account already carries (a second owner of one reservation, after a take-over):
    nothing was stored or charged; `msgid` is the stored message's."""

    def __init__(self, msgid: int) -> None:
        super().__init__(f"the reservation's message is already stored: msgid {msgid}")
        self.msgid = msgid


class ClientError(PasserelleError):
    """A call of the Python client (`passerelle.client`) that did not succeed."""


class ApiRefused(ClientError):
    """The JSON API answered with a problem document: the HTTP `status`, the legacy
    `code` (``"05"``) when there is one, its `title` and `detail`."""

    def __init__(self, status: int, title: str, detail: str, code: str | None = None) -> None:
        shown = f"{status} {title}: {detail}" + (f" (code {code})" if code else "")
        super().__init__(shown)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code


class ClientBadRequest(ApiRefused):
    """400 or 422: the request cannot be sent as it is (codes 03-08, 12, 13, 15, 17, or a
    reused Idempotency-Key with another body)."""


class ClientBadCredentials(ApiRefused):
    """401: no API key, or not a valid one (code 01)."""


class ClientNoCredit(ApiRefused):
    """402: the account has not enough credits (code 02)."""


class ClientForbidden(ApiRefused):
    """403: the account may not use the API (code 14)."""


class ClientNotFound(ApiRefused):
    """404: no such message, or another account's."""


class ClientConflict(ApiRefused):
    """409: the first request with this Idempotency-Key is still being sent."""


class ClientTooLarge(ApiRefused):
    """413: the request body is larger than the API accepts."""


class ClientRateLimited(ApiRefused):
    """429: too many requests (code 16); `retry_after` is the seconds asked, if given."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, title, detail, code)
        self.retry_after = retry_after


class ClientUnavailable(ClientError):
    """No attempt got a final answer: the server could not be reached, or it kept
    answering 409, 429 or 5xx until the retries ran out. `last` is the last refusal seen
    (None when the last attempt got no answer at all)."""

    def __init__(self, message: str, last: ApiRefused | None = None) -> None:
        super().__init__(message)
        self.last = last


_REFUSALS: dict[int, type[ApiRefused]] = {
    400: ClientBadRequest,
    401: ClientBadCredentials,
    402: ClientNoCredit,
    403: ClientForbidden,
    404: ClientNotFound,
    409: ClientConflict,
    413: ClientTooLarge,
    422: ClientBadRequest,
    429: ClientRateLimited,
}


def refusal_class(status: int) -> type[ApiRefused]:
    """The ApiRefused subclass of an HTTP status (ApiRefused itself for the others)."""
    return _REFUSALS.get(status, ApiRefused)


class RequestIncomplete(PasserelleError):
    """The client went away before its request (body) was received in full: the request
    has no effect (nothing stored, nothing charged) and gets no answer."""


class PageRefused(PasserelleError):
    """A console page cannot be shown: answered with `status` and the error page of the
    text `key` (console/i18n.py). Raised by the console's pages, answered by its app
    (``passerelle.console.web.Refusal`` is this class)."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


class ConfigError(PasserelleError):
    """Settings that cannot be used; the message says which and why."""


class StoreError(PasserelleError):
    """The storage failed; the operation had no effect."""


class SmppError(PasserelleError):
    """The SMPP codec or session refused something (smpp/)."""


class PduError(SmppError):
    """A frame that cannot be read, or a PDU that cannot be written.

    `status` is the command_status to answer with (``ESME_RSYSERR`` for a PDU that
    cannot be written: a bug of ours); `sequence` and `command_id` are those of the
    offending header when it could be read.
    """

    def __init__(
        self, message: str, status: int, sequence: int | None = None, command_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.sequence = sequence
        self.command_id = command_id


class TlvStreamError(SmppError, ValueError):
    """The optional part of a PDU body is truncated (a ValueError too, as it always was)."""


class WindowFull(SmppError):
    """`submit` was called with the window full (a caller bug: check `can_submit`)."""


class CallbackError(PasserelleError):
    """A callback could not be sent; the sender records the attempt and retries."""


class Refused(CallbackError):
    """The URL may not be called; the message says why."""


class ProtocolError(CallbackError):
    """The receiver's answer was not HTTP/1.x, or the connection closed before it."""


# the refusals by code number: the direct subclasses of ApiError, those defined above
_API_ERRORS: dict[str, type[ApiError]] = {cls.code.number: cls for cls in ApiError.__subclasses__()}


def api_error_of(code: str) -> ApiError:
    """The refusal answered with the legacy code number `code` (``"02"``: NoCredit), as
    an answer remembered under an Idempotency-Key is given back; an unknown code (or 17,
    whose answer names a parameter the code alone cannot) is a bare ApiError (99)."""
    cls = _API_ERRORS.get(code)
    if cls is None or cls is InvalidParameter:
        return ApiError()
    return cls()
