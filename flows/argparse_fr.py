"""argparse in French: its own words (``usage:``, ``positional arguments``, ``error:``, the
messages of a bad command line) through the gettext hook argparse calls them with.

argparse looks every one of its messages up with ``gettext`` (module functions ``_`` and
``ngettext``); ``french()`` points them at ``FRENCH`` while the command line is built and
parsed, then puts them back (the process may be a test runner with parsers of its own).
``tests/test_cli_french.py`` checks that every message of the running Python's argparse
has a translation here, so a new Python version cannot bring English back silently.
"""

from __future__ import annotations

import argparse
import gettext
from collections.abc import Iterator
from contextlib import contextmanager

FRENCH: dict[str, str] = {
    "usage: ": "utilisation : ",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "positional arguments": "arguments",
    "options": "options",
    "show this help message and exit": "afficher cette aide et quitter",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "choix invalide : %(value)r (possibles : %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "au plus une valeur attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "expected %s argument": "%s valeur attendue",
    "expected %s arguments": "%s valeurs attendues",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r",
    "ambiguous option: %(option)s could match %(matches)s":
        "option ambiguë : %(option)s peut désigner %(matches)s",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "one of the arguments %s is required": "un des arguments %s est obligatoire",
    "ignored explicit argument %r": "valeur %r ignorée : cette option n'en prend pas",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir '%(filename)s' : %(error)s",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "commande inconnue %(parser_name)r (possibles : %(choices)s)",
    "unexpected option string: %s": "option inattendue : %s",
    # errors of the program itself (a parser declared wrongly), translated all the same
    "'required' is an invalid argument for positionals":
        "'required' ne s'applique pas à un argument positionnel",
    "%r is not callable": "%r n'est pas appelable",
    ".__call__() not defined": ".__call__() non défini",
    'argument "-" with mode %r': "argument « - » avec le mode %r",
    "cannot have multiple subparser arguments": "un seul groupe de sous-commandes possible",
    "cannot merge actions - two groups are named %r":
        "fusion impossible : deux groupes s'appellent %r",
    "conflicting subparser alias: %s": "alias de sous-commande en conflit : %s",
    "conflicting subparser: %s": "sous-commande en conflit : %s",
    "dest= is required for options like %r": "dest= est obligatoire pour une option comme %r",
    "invalid conflict_resolution value: %r": "valeur de conflict_resolution invalide : %r",
    "mutually exclusive arguments must be optional":
        "des arguments exclusifs doivent être des options",
    "conflicting option string: %s": "option en conflit : %s",
    "conflicting option strings: %s": "options en conflit : %s",
}


class French(gettext.NullTranslations):
    """The catalogue above as a gettext translation."""

    def gettext(self, message: str) -> str:
        return FRENCH.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)


@contextmanager
def french(enabled: bool = True) -> Iterator[None]:
    """argparse speaks French inside the block (when ``enabled``)."""
    if not enabled:
        yield
        return
    catalogue = French()
    # argparse's gettext hooks are module functions, absent from its type stubs
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._ = catalogue.gettext  # type: ignore[attr-defined]
    argparse.ngettext = catalogue.ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


#: option destinations → the French placeholder shown in help (``--now DATE_HEURE``)
METAVARS = {
    "patient": "PATIENT", "pathway": "PARCOURS", "event_id": "IDENTIFIANT",
    "now": "DATE_HEURE", "at": "DATE_HEURE", "start": "DATE", "end": "DATE",
    "limit": "NOMBRE", "offset": "NOMBRE", "batch_size": "NOMBRE", "workers": "NOMBRE",
    "patients": "NOMBRE", "weeks": "SEMAINES", "seed": "GRAINE", "code": "CODE",
    "value": "VALEUR", "unit": "UNITE", "source": "SOURCE", "case": "DOSSIER",
    "stay": "SEJOUR", "reason": "MOTIF", "assignee": "PROFESSIONNEL", "role": "ROLE",
    "status": "STATUT", "kind": "TYPE", "by": "RPPS", "professional": "PROFESSIONNEL",
    "encoding": "ENCODAGE", "system": "SYSTEME", "task": "TACHE",
    "recipient": "DESTINATAIRE", "message": "TEXTE", "host": "HOTE", "port": "PORT",
    "timeout": "SECONDES", "database": "BASE", "base_url": "ADRESSE", "out": "DOSSIER",
    "id": "NUMERO", "search": "TEXTE", "limit_runs": "NOMBRE", "only": "DEPLOIEMENT",
}


class FrenchHelpFormatter(argparse.HelpFormatter):
    """Placeholders of options and arguments in French when the parser does not name them."""

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return METAVARS.get(action.dest, "VALEUR")

    def _get_default_metavar_for_positional(self, action: argparse.Action) -> str:
        return METAVARS.get(action.dest, action.dest.upper())


class FrenchParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` (and sub-parsers) with French placeholders."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", FrenchHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
