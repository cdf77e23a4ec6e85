"""Errors of the persistence layer (all under ``engine.exceptions.ParcoursError``).

::

    StoreError                  root of the persistence layer's errors
    ├── InputError              bad input from a user or a file; nothing was written
    │   ├── NotFoundError       unknown patient, professional, case, task, pathway
    │   └── ImportFileError     a malformed import file: every bad row is listed
    ├── ConcurrentUpdateError   the case moved under us (row version): retryable
    └── TransientStoreError     the database may succeed later: retryable
"""

from __future__ import annotations

from engine.exceptions import ParcoursError

_WHAT = {"patient": "patient", "professional": "professionnel", "case": "dossier",
         "task": "tâche", "pathway": "parcours", "pathway version": "version de parcours",
         "settings": "réglages", "migration run": "migration"}


class StoreError(ParcoursError):
    """A persistence operation failed."""


class InputError(StoreError):
    """Input refused; the message says what is allowed. Nothing was written."""


class NotFoundError(InputError):
    """An unknown patient, professional, case, task or pathway (``what``, ``ident``)."""

    def __init__(self, what: str, ident: object, hint: str = "") -> None:
        self.what = what
        self.ident = ident
        label = _WHAT.get(what, what)
        super().__init__(f"{label} inconnu(e) : {ident!r}{hint}")


class ImportFileError(InputError):
    """A malformed import file; ``problems`` lists every bad row. Nothing was imported."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        name = file if len(file) <= 80 else file[:77] + "…"
        super().__init__(f"{name} : {len(problems)} ligne(s) en erreur, rien n'a été importé :"
                         f"\n{lines}")


class ConcurrentUpdateError(StoreError):
    """Someone else changed the case since we read it (row version moved)."""

    retryable = True

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        super().__init__(f"le dossier {case_id} a été modifié par un autre processus")


class TransientStoreError(StoreError):
    """A database error that may pass (lock timeout, serialization failure, lost link)."""

    retryable = True
