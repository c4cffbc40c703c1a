"""Texts of the API-key pages ("Mon Compte" › "Clés API")."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "menu.keys": ("Clés API", "API keys"),
    "keys.intro": (
        "Une clé API identifie vos applications auprès de l'API JSON (en-tête "
        "« Authorization: Bearer … »). Créez une clé par application : vous pourrez la "
        "révoquer sans toucher aux autres.",
        "An API key identifies your applications to the JSON API (header "
        '"Authorization: Bearer …"). Create one key per application: you can revoke it '
        "without touching the others.",
    ),
    "keys.name": ("Nom (facultatif)", "Name (optional)"),
    "keys.name_hint": ("par exemple : site web, CRM", "for example: website, CRM"),
    "keys.create": ("Créer une clé", "Create a key"),
    "keys.once": (
        "Voici votre nouvelle clé. Copiez-la maintenant : elle ne sera plus jamais affichée.",
        "Here is your new key. Copy it now: it will never be shown again.",
    ),
    "keys.copy": ("Copier", "Copy"),
    "keys.empty": ("Aucune clé API pour l'instant.", "No API key yet."),
    "keys.col_name": ("Nom", "Name"),
    "keys.col_prefix": ("Début de la clé", "Key begins with"),
    "keys.col_created": ("Créée le", "Created"),
    "keys.col_used": ("Dernière utilisation", "Last used"),
    "keys.col_state": ("État", "State"),
    "keys.active": ("active", "active"),
    "keys.revoked_on": ("révoquée le", "revoked on"),
    "keys.never": ("jamais", "never"),
    "keys.revoke": ("Révoquer", "Revoke"),
    "keys.revoke_confirm": (
        "Révoquer cette clé ? Les applications qui l'utilisent seront refusées.",
        "Revoke this key? The applications that use it will be refused.",
    ),
    "keys.revoked": ("Clé révoquée.", "Key revoked."),
}
