"""Return codes of the legacy API: the manual's 01-10, our extensions 11-18 and 99."""

from __future__ import annotations

import enum


class LegacyCode(enum.Enum):
    """A return code and its label, verbatim from the manual (01-10) or docs/api.md."""

    BAD_CREDENTIALS = ("01", "Login, mot de passe non valide")
    NO_CREDIT = ("02", "Vous n'avez pas assez de crédit")
    DEST_MISSING = ("03", "Le numéro du destinataire n'est pas renseigné")
    SENDER_MISSING = ("04", "L'expéditeur n'est pas renseigné")
    DEST_NOT_NUMERIC = ("05", "Le numéro du destinataire est invalide")
    DEST_TOO_SHORT = ("06", "Le numéro du destinataire est invalide")
    BAD_PREFIX = ("07", "Préfixe international invalide")
    MSG_MISSING = ("08", "Le message n'est pas renseigné")
    MSGID_MISSING = ("09", "Le msgid n'est pas renseigne")  # sic: the manual's table, no accent
    MSGID_INVALID = ("10", "Le msgid est invalide")
    UNKNOWN_ACTION = ("11", "Action inconnue")
    MSG_TOO_LONG = ("12", "Message trop long")
    SENDER_INVALID = ("13", "L'expéditeur est invalide")
    GATEWAY_DISABLED = ("14", "Option Gateway SMS non activée")
    TOO_MANY_RECIPIENTS = ("15", "Trop de destinataires")
    RATE_LIMITED = ("16", "Trop de requêtes")
    INVALID_PARAMETER = ("17", "Paramètre invalide")
    TOO_MANY_FIELDS = ("18", "Trop de paramètres")
    INTERNAL = ("99", "Erreur interne")

    @property
    def number(self) -> str:
        """The two-digit code as answered."""
        return self.value[0]

    @property
    def label(self) -> str:
        """The label as answered after the `|`."""
        return self.value[1]


SENT_LABEL = "Message envoyé"

STATUS_LABELS: dict[int, str] = {
    0: "SMS en cours d'envoi",
    1: "SMS reçu par le destinataire",
    2: "SMS non délivré",
}
