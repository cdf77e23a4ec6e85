"""Comparing names typed any way: lower case, accents removed (« Lefèvre » = « lefevre »)."""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Lower case without accents, for comparing names typed any way."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
