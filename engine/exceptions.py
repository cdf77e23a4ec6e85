"""Every error the engine raises, under one root.

::

    ParcoursError                       root of everything raised on purpose
    ├── PathwayError                    a pathway definition is wrong
    │   └── PathwayDefinitionError      carries every Diagnostic of a file
    ├── ExpressionError                 a guard or fact expression failed to compile
    ├── EvaluationError                 an expression failed while a case was being run
    ├── DurationError                   a text is not an ISO-8601 duration
    ├── RuntimeEventError               an event cannot be applied to a case
    │   ├── UnknownEventError           no such event in this pathway
    │   ├── ClosedCaseError             the case has ended
    │   ├── InvalidEventDataError       the event's data is not what the pathway expects
    │   ├── UnitError                   an observation's unit cannot be converted
    │   └── GuardCostError              a guard went over its evaluation budget
    └── TimelineError                   a replay timeline file is wrong

Each exception says whether retrying can help (``retryable``), so callers
(the Prefect flows) retry only what can succeed.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass


class ParcoursError(Exception):
    """Root of every error Parcours raises on purpose."""

    retryable: bool = False


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in a pathway file, at a line and column (1-based)."""

    file: str
    line: int
    column: int
    message: str
    check: str = "schema"
    #: The id of the offending state, transition or task, when there is one.
    element: str | None = None
    #: ``error`` (the file is refused) or ``warning`` (reported, the file is usable)
    severity: str = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        label = "" if self.is_error else f"{self.severity}: "
        return f"{self.file}:{self.line}:{self.column}: {label}{self.message} [{self.check}]"


class PathwayError(ParcoursError):
    """A pathway definition is wrong."""


class PathwayDefinitionError(PathwayError):
    """A pathway file has one or more errors; all of them are in ``diagnostics``."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class ExpressionError(ParcoursError):
    """An expression does not parse; ``column`` is 1-based within the expression."""

    def __init__(self, expression: str, message: str, column: int | None = None) -> None:
        self.expression = expression
        self.column = column
        super().__init__(message)


class EvaluationError(ParcoursError):
    """An eligibility or fact expression raised while it was evaluated for a case.

    (A guard that fails is not an error: the runtime reports it as a
    ``GuardFailed`` effect and does not take the transition.)
    """

    def __init__(self, expression: str, error: BaseException, where: str = "") -> None:
        self.expression = expression
        self.error = error
        self.where = where
        super().__init__(f"{where + ': ' if where else ''}expression {expression!r} failed: "
                         f"{type(error).__name__}: {error}")


class DurationError(ParcoursError, ValueError):
    """A text is not a valid ISO-8601 duration (``reason`` says why, when it parses)."""

    def __init__(self, text: object, reason: str | None = None) -> None:
        self.text = text
        self.reason = reason
        super().__init__(
            f"invalid duration {text!r}: "
            + (f"{reason}; " if reason else "")
            + "expected ISO-8601 such as P3M (three calendar months), P1Y, P2W, P14D or PT12H"
        )


class RuntimeEventError(ParcoursError):
    """An event cannot be applied to a case."""


class UnknownEventError(RuntimeEventError):
    """No event of this name in the pathway; ``allowed`` lists the ones it knows."""

    def __init__(self, event: str, allowed: list[str]) -> None:
        self.event = event
        self.allowed = allowed
        super().__init__(f"unknown event {event!r}; this pathway knows: {', '.join(allowed)}")


class ClosedCaseError(RuntimeEventError):
    """The case reached a final ``state``: nothing more can happen to it."""

    def __init__(self, state: str) -> None:
        self.state = state
        super().__init__(f"the case has ended (final state {state!r}); no event can be applied")


class InvalidEventDataError(RuntimeEventError):
    """The event's payload is not what the pathway expects (wrong type, out of range)."""


class UnitError(RuntimeEventError):
    """An observation's unit cannot be converted to the unit its pathway declares.

    The message (in French: coordinators and labs read it) lists the accepted units.
    """

    def __init__(self, title: str, unit: str, declared: str, accepted: list[str]) -> None:
        self.title, self.unit, self.declared, self.accepted = title, unit, declared, accepted
        super().__init__(f"{title} : unité {unit!r} non convertible en {declared!r} ; "
                         f"unités acceptées : {', '.join(accepted)}")


class GuardCostError(RuntimeEventError):
    """A guard went over its evaluation budget (too much text, too many items, too much work).

    The event is refused and the case left untouched: a guard that cannot be evaluated must
    not silently send the case down another branch. The message is in French (it reaches the
    coordinator's queue with the refused event).
    """

    def __init__(self, transition: str, expression: str, reason: str) -> None:
        self.transition, self.expression, self.reason = transition, expression, reason
        super().__init__(f"la condition de la transition {transition!r} ({expression!r}) "
                         "dépasse le coût autorisé (valeur trop grande ou calcul trop long) : "
                         "événement refusé, dossier inchangé ; le parcours doit être corrigé")


class TimelineError(ParcoursError):
    """A timeline file for ``parcours run`` is wrong."""


_ERRNO_FR = {errno.ENOENT: "introuvable", errno.EACCES: "accès refusé",
             errno.EPERM: "accès refusé", errno.EISDIR: "c'est un dossier, pas un fichier",
             errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
             errno.ENAMETOOLONG: "nom trop long", errno.ELOOP: "liens symboliques en boucle"}


def os_reason(exc: OSError) -> str:
    """Why a file cannot be used, in French (for coordinators: « accès refusé »…)."""
    return _ERRNO_FR.get(exc.errno or 0, "illisible")


def file_problem(exc: OSError) -> str:
    """A file the user named cannot be used: its name (shortened) and why, in French."""
    name = str(exc.filename)
    name = name if len(name) <= 80 else name[:77] + "…"
    return f"fichier {name!r} : {os_reason(exc)}"
