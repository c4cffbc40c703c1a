"""One table from exceptions to legacy answers: ApiError → its code, anything else → 99."""

from __future__ import annotations

import logging
import secrets

from passerelle.core.codes import LegacyCode
from passerelle.exceptions import ApiError

log = logging.getLogger("passerelle.api")


def answer_for(error: BaseException, target: str) -> tuple[str, str]:
    """The response line and the code label for metrics.

    An unexpected error is logged with a reference (never shown with its trace to the
    client) and answered ``99|Erreur interne (ref <ref>)``.
    """
    if isinstance(error, ApiError):
        return error.answer(), error.code.number
    ref = secrets.token_hex(4)
    log.error(
        "internal error",
        exc_info=(type(error), error, error.__traceback__),
        extra={"ref": ref, "target": target},
    )
    code = LegacyCode.INTERNAL
    return f"{code.number}|{code.label} (ref {ref})", code.number
