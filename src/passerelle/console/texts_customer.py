"""Texts of the customer pages (API SMS, settings, sending, history, credits, callbacks)."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    # API SMS - GATEWAY › Envoi SMS par http GET
    "api.intro": (
        "Activez l'option Gateway SMS pour envoyer des SMS depuis vos applications par "
        "l'API http (GET ou POST).",
        "Turn on the SMS Gateway option to send SMS from your applications through the "
        "http API (GET or POST).",
    ),
    "api.start": ("Commencer l'intégration", "Start the integration"),
    "api.started": ("Option Gateway SMS activée.", "SMS Gateway option turned on."),
    "api.base_url": ("Adresse de l'API", "API address"),
    "api.password_where": (
        "il n'est jamais réaffiché ; choisissez-le ou changez-le dans",
        "it is never shown again; choose or change it in",
    ),
    "api.no_password": (
        "Vous n'avez pas encore de mot de passe API : choisissez-en un dans",
        "You have no API password yet: choose one in",
    ),
    "api.curl": ("Exemple curl (http GET)", "curl example (http GET)"),
    "api.php": ("Exemple PHP (http POST)", "PHP example (http POST)"),
    "api.copy": ("Copier", "Copy"),
    "api.answers": (
        "Réponse : « msgid|Message envoyé » en cas de succès, sinon « code|erreur ».",
        'Answer: "msgid|Message envoyé" on success, else "code|error".',
    ),
    # Mon Compte › Paramètres
    "settings.callback_url": ("URL de Callback (API)", "Callback URL (API)"),
    "settings.callback_method": ("Méthode du callback", "Callback method"),
    "settings.api_password": ("Mot de passe API", "API password"),
    "settings.api_password_none": (
        "Aucun mot de passe API n'est défini.",
        "No API password is set.",
    ),
    "settings.api_password_set": (
        "Laissez vide pour garder le mot de passe API actuel.",
        "Leave empty to keep the current API password.",
    ),
    "settings.api_password_min": ("Longueur minimale :", "Minimum length:"),
    "settings.saved": ("Paramètres enregistrés.", "Settings saved."),
    "settings.secret": ("Secret de signature des callbacks", "Callback signing secret"),
    "settings.secret_intro": (
        "Chaque callback est signé avec ce secret : vérifiez la signature avant de lui "
        "faire confiance.",
        "Every callback is signed with this secret: check the signature before trusting it.",
    ),
    "settings.secret_ends": ("Le secret actuel se termine par", "The current secret ends with"),
    "settings.secret_once": (
        "Nouveau secret généré : copiez-le maintenant dans votre récepteur de callbacks, "
        "il ne sera plus affiché.",
        "New secret generated: copy it into your callback receiver now, it will not be "
        "shown again.",
    ),
    "settings.secret_rotate": ("Générer un nouveau secret", "Generate a new secret"),
    "settings.secret_confirm": (
        "L'ancien secret cessera immédiatement de signer les callbacks. Continuer ?",
        "The old secret stops signing callbacks at once. Continue?",
    ),
    "settings.rotated": ("Nouveau secret généré.", "New secret generated."),
    # sending from the page
    "send.dest": (
        "Destinataires (numéros séparés par des virgules)",
        "Recipients (numbers separated by commas)",
    ),
    "send.msg": ("Message", "Message"),
    "send.group": (
        "Groupe de contacts (avec ou à la place des numéros)",
        "Contact group (with or instead of the numbers)",
    ),
    "send.origine": ("Expéditeur (origine)", "Sender (origine)"),
    "send.sendertype": ("Type d'expéditeur", "Sender type"),
    "send.sendertype.5": ("5 - texte", "5 - text"),
    "send.sendertype.0": ("0 - numéro", "0 - number"),
    "send.sendertype.1": ("1 - mobile", "1 - mobile"),
    "send.type": ("Type de SMS", "SMS type"),
    "send.type.0": ("0 - normal", "0 - normal"),
    "send.type.1": ("1 - flash", "1 - flash"),
    "send.callback": ("Callback à la réception", "Callback on delivery"),
    "send.submit": ("Envoyer", "Send"),
    "send.refused": ("Envoi refusé :", "Sending refused:"),
    "send.code": ("code", "code"),
    "send.done": ("Message envoyé.", "Message sent."),
    # states (the manual's "SMS en cours", "SMS reçu par le destinataire")
    "state.en_cours": ("en cours", "in progress"),
    "state.recu": ("reçu", "delivered"),
    "state.non_recu": ("non reçu", "not delivered"),
    "state.echec": ("échec", "failed"),
    # history and one message
    "history.since": ("Depuis le", "From"),
    "history.until": ("Jusqu'au", "Until"),
    "history.state": ("État", "State"),
    "history.all": ("Tous", "All"),
    "history.number": ("Numéro", "Number"),
    "history.empty": ("Aucun message.", "No messages."),
    "history.others": ("autres", "more"),
    "history.recipients": ("Destinataires", "Recipients"),
    "history.bad_filter": (
        "Filtre invalide : les dates s'écrivent AAAA-MM-JJ.",
        "Invalid filter: dates are written YYYY-MM-DD.",
    ),
    "message.title": ("Message", "Message"),
    "message.msgid": ("msgid", "msgid"),
    "message.created": ("Créé le", "Created"),
    "message.sender": ("Expéditeur", "Sender"),
    "message.text": ("Texte", "Text"),
    "message.cost": ("Coût", "Cost"),
    "message.recipients": ("destinataires", "recipients"),
    "message.dest": ("Destinataire", "Recipient"),
    "message.stat": ("Statut opérateur", "Operator status"),
    "message.updated": ("Mis à jour", "Updated"),
    "live.busy": (
        "Trop de suivis en direct ouverts : réessayez dans un instant.",
        "Too many live views open: try again in a moment.",
    ),
    # credits
    "credits.date": ("Date", "Date"),
    "credits.delta": ("Crédits", "Credits"),
    "credits.kind": ("Type", "Kind"),
    "credits.reason": ("Motif", "Reason"),
    "credits.kind.grant": ("crédit", "grant"),
    "credits.kind.adjustment": ("ajustement", "adjustment"),
    "credits.kind.debit": ("envoi", "sending"),
    "credits.kind.refund": ("remboursement", "refund"),
    "credits.empty": ("Aucun mouvement.", "No entries."),
    # callbacks
    "callback.all": ("Tous les callbacks", "All callbacks"),
    "callback.failed_only": ("Échecs seulement", "Failures only"),
    "callback.created": ("Créé le", "Created"),
    "callback.state": ("État", "State"),
    "callback.attempts": ("Tentatives", "Attempts"),
    "callback.last": ("Dernière réponse", "Last answer"),
    "callback.replay": ("Renvoyer", "Send again"),
    "callback.replayed": ("Callback renvoyé.", "Callback sent again."),
    "callback.empty": ("Aucun callback.", "No callbacks."),
    "callback.state.pending": ("à envoyer", "pending"),
    "callback.state.delivered": ("reçu", "delivered"),
    "callback.state.failed": ("échec", "failed"),
    "callback.state.gone": ("abandonné (410)", "gone (410)"),
}
