"""Errors of the orchestration layer, under ``engine.exceptions.ParcoursError``.

::

    OrchestrationError          root of what the flows raise on purpose
    ├── BatchFailed             a batch of work failed and was rolled back (ids and counts only)
    ├── FlowInterrupted         a flow body failed outside any batch (its error type only)
    └── ServerUnavailable       no Prefect server answered

Prefect stores exception messages (state messages, logs, tracebacks) in its
own database. A message built here therefore carries identifiers, counts and
the *type* of the underlying error, never its text: the text of a database
or runtime error may quote a patient's values. The underlying error is
raised *outside* its ``except`` block, so no traceback chains to it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from engine.exceptions import ParcoursError

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("parcours.flows")


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


class FlowInterrupted(OrchestrationError):
    def __init__(self, flow: str, error_type: str, retryable: bool) -> None:
        self.flow = flow
        self.error_type = error_type
        self.retryable = retryable
        super().__init__(f"{flow} interrompu par une erreur {error_type}"
                         + (" transitoire" if retryable else "") + " ; rien n'est perdu, "
                         "le prochain passage reprend")


def run_batch(what: str, number: int, size: int, work: Callable[[], R], *,
              retryable: bool = True) -> R:
    """Run one batch of a flow; any error becomes ``BatchFailed`` carrying only its type.

    The batch's transaction was rolled back; the others stand. The exception is raised
    outside the ``except`` block so that no chained traceback (which may quote values)
    reaches Prefect. ``retryable=False`` when a retry cannot help whatever the error.
    """
    from engine.store.db import is_transient

    failure: BatchFailed | None = None
    try:
        return work()
    except Exception as exc:
        log.warning("%s %s (%d item(s)) rolled back: %s", what, number, size,
                    type(exc).__name__)
        log.debug("%s %s: details", what, number, exc_info=True)  # may quote values
        failure = BatchFailed(what, number, size, type(exc).__name__,
                              retryable and is_transient(exc))
    raise failure


def sanitized(function: Callable[P, R]) -> Callable[P, R]:
    """Wrap a flow body: any unexpected error reaches Prefect as its type only."""
    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from engine.store.db import is_transient

        failure: FlowInterrupted | None = None
        try:
            return function(*args, **kwargs)
        except OrchestrationError:
            raise
        except Exception as exc:
            log.warning("%s interrupted: %s", function.__name__, type(exc).__name__)
            log.debug("%s: details", function.__name__, exc_info=True)  # may quote values
            failure = FlowInterrupted(function.__name__, type(exc).__name__, is_transient(exc))
        raise failure  # outside the except block: no chained traceback
    return run
