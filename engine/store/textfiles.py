"""Reading the text files French offices really produce, for the imports.

Spreadsheet software exports CSV in UTF-8 (with or without a byte-order mark),
Windows-1252, ISO-8859-1/15 or UTF-16, separated by commas, semicolons or tabs.
The encoding is the one declared (``--encoding``), else given by a byte-order
mark, else UTF-8 when the bytes are valid UTF-8, else detected with
``charset-normalizer`` among the encodings such files use. Whatever cannot be
read is refused with a French message; nothing is guessed silently.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

from engine.exceptions import os_reason
from engine.store.exceptions import ImportFileError

#: Encodings accepted from detection (a declared ``--encoding`` may be any Python codec).
DETECTABLE = ("utf_8", "cp1252", "latin_1", "iso8859_15", "utf_16", "utf_16_le", "utf_16_be")
MAX_BYTES = 50 * 1024 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def read_text(path: str, encoding: str | None = None) -> str:
    """The decoded text of an import file; ``ImportFileError`` when it cannot be read."""
    raw = _read_bytes(path)
    name = encoding or _encoding_of(path, raw)
    try:
        text = raw.decode(name)
    except LookupError:
        raise ImportFileError(path, [f"encodage inconnu {encoding!r} ; par exemple utf-8, "
                                     "cp1252, latin-1, utf-16"]) from None
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ImportFileError(path, [f"ligne {line} : octets illisibles en {name} ; "
                                     "indiquez l'encodage avec --encoding"]) from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportFileError(path, [f"ligne {line} : caractère nul (octet 0) ; le fichier "
                                     "est-il bien un fichier texte ?"])
    return text


def delimiter(text: str) -> str:
    """The separator of a CSV text: comma, semicolon or tab, read from its first line."""
    first = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        return max(",;\t", key=first.count)


def _read_bytes(path: str) -> bytes:
    file = Path(path)
    try:
        if file.is_dir():
            raise ImportFileError(path, [f"{path[:200]} est un dossier, pas un fichier"])
        if not file.exists():
            raise ImportFileError(path, [f"fichier introuvable : {path[:200]}"])
        with file.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ImportFileError(path, [f"fichier illisible : {os_reason(exc)}"]) from None
    if len(raw) > MAX_BYTES:
        raise ImportFileError(path, [f"fichier trop grand (plus de {MAX_BYTES // 2**20} Mio)"])
    return raw


def _encoding_of(path: str, raw: bytes) -> str:
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=list(DETECTABLE)).best()
    if best is None:
        raise ImportFileError(path, ["encodage non reconnu ; enregistrez le fichier en UTF-8 "
                                     "ou indiquez l'encodage avec --encoding"])
    return best.encoding
