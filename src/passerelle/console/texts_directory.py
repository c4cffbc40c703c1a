"""Texts of the contacts and groups pages."""

from __future__ import annotations

from passerelle.core.contacts import MAX_CELL, MAX_GROUP, MAX_NAME, MAX_ROWS

TEXTS: dict[str, tuple[str, str]] = {
    # fields
    "dir.field.name": ("Nom", "Name"),
    "dir.field.number": ("Numéro", "Number"),
    "dir.field.groups": ("Groupes", "Groups"),
    "dir.field.group": ("Groupe", "Group"),
    "dir.field.members": ("contacts", "contacts"),
    "dir.number_help": (
        "Au format international, indicatif du pays compris : 33612345678 ou +33 6 12 34 56 78.",
        "In international format, country code included: 33612345678 or +33 6 12 34 56 78.",
    ),
    # contacts
    "dir.contacts.title": ("Contacts", "Contacts"),
    "dir.contacts.add": ("Ajouter un contact", "Add a contact"),
    "dir.contacts.none": ("Aucun contact.", "No contacts."),
    "dir.contacts.confirm_delete": ("Supprimer ce contact ?", "Delete this contact?"),
    "dir.contact.title": ("Modifier le contact", "Edit contact"),
    "dir.contact_added": ("Contact ajouté.", "Contact added."),
    "dir.contact_saved": ("Contact enregistré.", "Contact saved."),
    "dir.contact_deleted": ("Contact supprimé.", "Contact deleted."),
    "dir.number_taken": (
        "Un de vos contacts a déjà ce numéro.",
        "One of your contacts already has this number.",
    ),
    # groups
    "dir.groups.title": ("Groupes", "Groups"),
    "dir.groups.create": ("Créer le groupe", "Create the group"),
    "dir.groups.none": ("Aucun groupe.", "No groups."),
    "dir.groups.send": ("Envoyer un SMS à ce groupe", "Send an SMS to this group"),
    "dir.groups.delete": ("Supprimer le groupe", "Delete the group"),
    "dir.groups.confirm_delete": (
        "Supprimer ce groupe ? Ses contacts sont conservés.",
        "Delete this group? Its contacts are kept.",
    ),
    "dir.group.title": ("Groupe", "Group"),
    "dir.group.rename": ("Renommer", "Rename"),
    "dir.group.members": ("Membres", "Members"),
    "dir.group.first_members": ("Premiers membres affichés :", "First members shown:"),
    "dir.group.empty": ("Ce groupe n'a aucun contact.", "This group has no contacts."),
    "dir.group.remove": ("Retirer du groupe", "Remove from the group"),
    "dir.group.add": ("Ajouter au groupe", "Add to the group"),
    "dir.group.no_others": (
        "Aucun autre contact à ajouter.",
        "No other contacts to add.",
    ),
    "dir.group_created": ("Groupe créé.", "Group created."),
    "dir.group_renamed": ("Groupe renommé.", "Group renamed."),
    "dir.group_deleted": ("Groupe supprimé.", "Group deleted."),
    "dir.group_taken": (
        "Vous avez déjà un groupe de ce nom.",
        "You already have a group with this name.",
    ),
    "dir.members_added": ("Contacts ajoutés au groupe.", "Contacts added to the group."),
    "dir.members_removed": ("Contacts retirés du groupe.", "Contacts removed from the group."),
    # import
    "dir.import.title": ("Importer des contacts", "Import contacts"),
    "dir.import.file": ("Fichier CSV ou XLSX", "CSV or XLSX file"),
    "dir.import.help": (
        "Une ligne par contact : le numéro et, si vous voulez, le nom. Une première ligne "
        "d'en-têtes (numero, nom) est reconnue. CSV séparé par des virgules ou des "
        f"points-virgules, ou la première feuille d'un fichier Excel (.xlsx). Au plus 2 Mio "
        f"et {MAX_ROWS} lignes. Les numéros déjà connus sont mis à jour.",
        "One line per contact: the number and, optionally, the name. A first line of "
        "headers (number, name) is recognised. CSV separated by commas or semicolons, or "
        f"the first sheet of an Excel file (.xlsx). At most 2 MiB and {MAX_ROWS} lines. "
        "Numbers you already have are updated.",
    ),
    "dir.import.submit": ("Importer", "Import"),
    "dir.import.added": ("importés", "imported"),
    "dir.import.updated": ("mis à jour", "updated"),
    "dir.import.nothing": (
        "Aucun contact importé : aucune ligne valable.",
        "No contacts imported: no valid line.",
    ),
    "dir.import.errors": ("Lignes refusées", "Refused lines"),
    "dir.import.line": ("Ligne", "Line"),
    "dir.import.line_of": ("ligne", "line"),
    "dir.import.value": ("Valeur", "Value"),
    "dir.import.reason": ("Motif", "Reason"),
    "dir.import.more_errors": ("Autres lignes refusées :", "Other refused lines:"),
    "dir.import.no_file": ("Choisissez un fichier.", "Choose a file."),
    "dir.import.empty": ("Le fichier est vide.", "The file is empty."),
    "dir.import.unreadable": (
        "Fichier illisible : envoyez un CSV ou un fichier Excel .xlsx.",
        "Unreadable file: send a CSV or an Excel .xlsx file.",
    ),
    "dir.import.xls": (
        "L'ancien format Excel .xls n'est pas lu : enregistrez le fichier en .xlsx ou en CSV.",
        "The old Excel .xls format is not read: save the file as .xlsx or CSV.",
    ),
    "dir.import.bomb": (
        "Fichier refusé : une fois décompressé, il dépasse 8 Mio ou 1000 éléments.",
        "File refused: unpacked, it is over 8 MiB or 1000 entries.",
    ),
    "dir.import.too_many_lines": (
        "Fichier refusé : la feuille a trop de lignes.",
        "File refused: the sheet has too many lines.",
    ),
    # why a value or a line is refused (core.contacts.Problem)
    "dir.problem.name_empty": ("Le nom est obligatoire.", "The name is required."),
    "dir.problem.name_too_long": (
        f"Le nom a plus de {MAX_NAME} caractères.",
        f"The name is longer than {MAX_NAME} characters.",
    ),
    "dir.problem.name_control": (
        "Le nom contient des caractères de contrôle (retour à la ligne, tabulation…).",
        "The name contains control characters (line break, tab...).",
    ),
    "dir.problem.group_empty": ("Le nom du groupe est obligatoire.", "The group name is required."),
    "dir.problem.group_too_long": (
        f"Le nom du groupe a plus de {MAX_GROUP} caractères.",
        f"The group name is longer than {MAX_GROUP} characters.",
    ),
    "dir.problem.group_control": (
        "Le nom du groupe contient des caractères de contrôle.",
        "The group name contains control characters.",
    ),
    "dir.problem.number_missing": (
        "Numéro manquant (code 03 de l'API : Le numéro du destinataire n'est pas renseigné).",
        "Number missing (API code 03: Le numéro du destinataire n'est pas renseigné).",
    ),
    "dir.problem.not_numeric": (
        "Le numéro ne doit contenir que des chiffres, après un + ou un 00 facultatif "
        "(code 05 de l'API : Le numéro du destinataire est invalide).",
        "The number must have digits only, after an optional + or 00 "
        "(API code 05: Le numéro du destinataire est invalide).",
    ),
    "dir.problem.too_short": (
        "Le numéro doit avoir de 10 à 15 chiffres, indicatif du pays compris "
        "(code 06 de l'API : Le numéro du destinataire est invalide).",
        "The number must have 10 to 15 digits, country code included "
        "(API code 06: Le numéro du destinataire est invalide).",
    ),
    "dir.problem.bad_prefix": (
        "Le numéro doit commencer par un indicatif de pays, par exemple 33 pour la France "
        "(code 07 de l'API : Préfixe international invalide).",
        "The number must start with a country calling code, e.g. 33 for France "
        "(API code 07: Préfixe international invalide).",
    ),
    "dir.problem.duplicate": (
        "Numéro déjà présent plus haut dans le fichier",
        "Number already on an earlier line of the file",
    ),
    "dir.problem.cell_too_long": (
        f"Une cellule a plus de {MAX_CELL} caractères.",
        f"A cell is longer than {MAX_CELL} characters.",
    ),
    "dir.problem.too_many_rows": (
        f"Seules les {MAX_ROWS} premières lignes sont lues : celle-ci et les suivantes ne "
        "sont pas importées.",
        f"Only the first {MAX_ROWS} lines are read: this one and the following ones are "
        "not imported.",
    ),
}
