"""Texts of the layout and of the visitor pages (sign-up, activation, log-in, reset)."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    # layout and menus
    "brand": ("Passerelle", "Passerelle"),
    "menu.api": ("API SMS - GATEWAY", "SMS API - GATEWAY"),
    "menu.api_get": ("Envoi SMS par http GET", "Sending SMS by http GET"),
    "menu.account": ("Mon Compte", "My Account"),
    "menu.settings": ("Paramètres", "Settings"),
    "menu.send": ("Envoyer un SMS", "Send an SMS"),
    "menu.messages": ("Historique", "History"),
    "menu.credits": ("Crédits", "Credits"),
    "menu.callbacks": ("Callbacks", "Callbacks"),
    "menu.contacts": ("Contacts", "Contacts"),
    "menu.groups": ("Groupes", "Groups"),
    "menu.password": ("Mot de passe", "Password"),
    "menu.operator": ("Opérateur", "Operator"),
    "menu.accounts": ("Comptes", "Accounts"),
    "menu.connectors": ("Connecteurs et routes", "Connectors and routes"),
    "menu.traffic": ("Trafic", "Traffic"),
    "menu.login": ("Connexion", "Log in"),
    "menu.logout": ("Déconnexion", "Log out"),
    "menu.signup": ("Inscription", "Sign up"),
    "lang.fr": ("Français", "Français"),
    "lang.en": ("English", "English"),
    "balance": ("Solde", "Balance"),
    "sms": ("SMS", "SMS"),
    "save": ("Enregistrer", "Save"),
    "cancel": ("Annuler", "Cancel"),
    "delete": ("Supprimer", "Delete"),
    "edit": ("Modifier", "Edit"),
    "search": ("Rechercher", "Search"),
    "previous": ("Précédent", "Previous"),
    "next": ("Suivant", "Next"),
    "none": ("Aucun", "None"),
    # errors
    "error.title": ("Erreur", "Error"),
    "error.403": ("Accès refusé.", "Access denied."),
    "error.csrf": (
        "Formulaire expiré ou invalide : rechargez la page et recommencez.",
        "Form expired or invalid: reload the page and try again.",
    ),
    "error.404": ("Page introuvable.", "Page not found."),
    "error.405": ("Méthode non autorisée.", "Method not allowed."),
    "error.too_large": ("Envoi trop volumineux.", "Upload too large."),
    "error.bad_form": ("Formulaire illisible.", "Unreadable form."),
    "error.public_url": (
        "Cette adresse ne peut pas recevoir de lien par e-mail : l'opérateur doit régler "
        "PASSERELLE_PUBLIC_URL.",
        "E-mail links cannot be made for this address: the operator must set "
        "PASSERELLE_PUBLIC_URL.",
    ),
    "error.429": (
        "Trop de tentatives : réessayez dans quelques minutes.",
        "Too many attempts: try again in a few minutes.",
    ),
    "error.500": (
        "Erreur interne : l'opération n'a pas été faite.",
        "Internal error: nothing was done.",
    ),
    # sign-up
    "signup.title": ("Inscription", "Sign up"),
    "signup.intro": (
        "Créez votre compte : un e-mail d'activation vous sera envoyé.",
        "Create your account: an activation e-mail will be sent to you.",
    ),
    "field.login": ("Identifiant", "Login"),
    "field.email": ("E-mail", "E-mail"),
    "field.password": ("Mot de passe", "Password"),
    "field.new_password": ("Nouveau mot de passe", "New password"),
    "field.current_password": ("Mot de passe actuel", "Current password"),
    "signup.submit": ("Créer mon compte", "Create my account"),
    "signup.sent": (
        "Compte créé. Un e-mail d'activation a été envoyé : cliquez sur son lien pour "
        "activer votre compte.",
        "Account created. An activation e-mail was sent: open its link to activate your account.",
    ),
    "signup.login_taken": ("Cet identifiant est déjà pris.", "This login is taken."),
    "signup.email_taken": (
        "Un compte utilise déjà cette adresse e-mail.",
        "An account already uses this e-mail address.",
    ),
    "signup.invalid": ("Valeur invalide : ", "Invalid value: "),
    # activation
    "activate.title": ("Activation du compte", "Account activation"),
    "activate.done": (
        "Votre compte est activé. Des crédits de test vous ont été offerts (COMPTE TEST). "
        "Connectez-vous.",
        "Your account is activated, with free test credits (COMPTE TEST). Log in.",
    ),
    "activate.bad": (
        "Ce lien d'activation est invalide, expiré ou déjà utilisé.",
        "This activation link is invalid, expired or already used.",
    ),
    "activate.submit": ("Activer mon compte", "Activate my account"),
    # log-in
    "login.title": ("Connexion", "Log in"),
    "login.submit": ("Se connecter", "Log in"),
    "login.bad": ("Identifiant ou mot de passe incorrect.", "Wrong login or password."),
    "login.inactive": (
        "Ce compte n'est pas encore activé : ouvrez le lien de l'e-mail d'activation.",
        "This account is not activated yet: open the link of the activation e-mail.",
    ),
    "login.forgot": ("Mot de passe oublié ?", "Forgot your password?"),
    "login.no_account": ("Pas encore de compte ?", "No account yet?"),
    "logout.done": ("Vous êtes déconnecté.", "You are logged out."),
    # reset
    "reset.title": ("Mot de passe oublié", "Forgotten password"),
    "reset.intro": (
        "Indiquez l'adresse e-mail de votre compte : un lien pour choisir un nouveau mot "
        "de passe vous sera envoyé.",
        "Give your account's e-mail address: a link to choose a new password will be sent to you.",
    ),
    "reset.submit": ("Envoyer le lien", "Send the link"),
    "reset.sent": (
        "Si un compte utilise cette adresse, un e-mail vient de lui être envoyé.",
        "If an account uses this address, an e-mail has just been sent to it.",
    ),
    "reset.choose": ("Choisissez un nouveau mot de passe", "Choose a new password"),
    "reset.done": (
        "Mot de passe changé : connectez-vous.",
        "Password changed: log in.",
    ),
    "reset.bad": (
        "Ce lien est invalide, expiré ou déjà utilisé.",
        "This link is invalid, expired or already used.",
    ),
    # password change
    "password.title": ("Changer le mot de passe", "Change the password"),
    "password.done": (
        "Mot de passe changé ; vos autres sessions sont fermées.",
        "Password changed; your other sessions are closed.",
    ),
    "password.bad": ("Mot de passe actuel incorrect.", "Wrong current password."),
    # home
    "home.title": ("Tableau de bord", "Dashboard"),
    "home.welcome": ("Bienvenue", "Welcome"),
}
