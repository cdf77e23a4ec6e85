"""Who an RPPS number is: the active professional of the ``professional`` table, if any."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from engine.store.tables import Professional


def active_professional_id(engine: Engine, rpps: str) -> int | None:
    """The id of the active professional with this RPPS number, else None (unknown or
    no longer active: both refuse the sign-in the same way)."""
    with Session(engine) as session:
        statement = select(Professional.id).where(col(Professional.rpps) == rpps,
                                                  col(Professional.active).is_(True))
        return session.exec(statement).first()
