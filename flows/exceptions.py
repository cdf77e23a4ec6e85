"""Errors of the orchestration layer, under ``engine.exceptions.ParcoursError``.

::

    OrchestrationError          root of what the flows raise on purpose
    ├── BatchFailed             a batch of work failed and was rolled back (ids and counts only)
    └── ServerUnavailable       no Prefect server answered

Prefect stores exception messages (state messages, logs, tracebacks) in its
own database. A message built here therefore carries identifiers, counts and
the *type* of the underlying error, never its text: the text of a database
or runtime error may quote a patient's values. The underlying error is
raised *outside* its ``except`` block, so no traceback chains to it.
"""

from __future__ import annotations

from engine.exceptions import ParcoursError


class OrchestrationError(ParcoursError):
    """Something the flows could not do."""


class BatchFailed(OrchestrationError):
    """A batch was rolled back as a whole; its items stay due/pending for the next run."""

    def __init__(self, what: str, number: int, size: int, error_type: str,
                 retryable: bool) -> None:
        self.what = what
        self.number = number
        self.size = size
        self.error_type = error_type
        self.retryable = retryable
        kind = "erreur transitoire" if retryable else "erreur"
        super().__init__(f"{what} {number} : {size} élément(s) non traité(s), annulé(s) en bloc "
                         f"({kind} {error_type}) ; ils seront repris au prochain passage")


class ServerUnavailable(OrchestrationError):
    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self.seconds = seconds
        super().__init__(f"le serveur Prefect {url} ne répond pas après {seconds:.0f} s")
