"""Import files as French offices produce them: encodings, byte-order marks, separators;
and files that cannot be read, refused with a French message and nothing written."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from engine.store.db import transaction
from engine.store.exceptions import ImportFileError
from engine.store.imports import import_patients, import_professionals
from engine.store.tables import Patient, Professional
from tests.db.world import PATIENTS, PROFESSIONALS, T0

ACCENTED = PROFESSIONALS.replace("Bernard,Anne", "Bérénice,Anne-Hélène")


def _count(engine: Engine, table: type) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(("encoding", "bom", "separator"), [
    ("utf-8", b"", ","), ("utf-8", codecs.BOM_UTF8, ";"), ("cp1252", b"", ";"),
    ("latin-1", b"", ","), ("utf-16", b"", "\t"), ("utf-16-le", codecs.BOM_UTF16_LE, ";"),
], ids=["utf8", "utf8-bom-semicolon", "cp1252-semicolon", "latin1", "utf16-tab",
        "utf16le-bom-semicolon"])
def test_spreadsheet_exports_are_read(engine: Engine, tmp_path: Path, encoding: str,
                                      bom: bytes, separator: str) -> None:
    path = tmp_path / "pros.csv"
    path.write_bytes(bom + ACCENTED.replace(",", separator).encode(encoding))
    with transaction(engine) as session:
        assert import_professionals(session, str(path)) == (4, 0)
    with transaction(engine) as session:
        names = set(session.scalars(select(Professional.family_name)))
    assert "Bérénice" in names


def test_a_declared_encoding_wins(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes(PATIENTS.replace("Durand", "Dürrenmatt").encode("cp1252"))
    with transaction(engine) as session:
        import_patients(session, str(path), T0, encoding="cp1252")
    with transaction(engine) as session:
        assert "Dürrenmatt" in set(session.scalars(select(Patient.family_name)))


@pytest.mark.parametrize(("content", "message"), [
    (None, "est un dossier"),
    (PROFESSIONALS.replace("Martin", "Mar\x00tin").encode(), "ligne 2 : caractère nul"),
    (b"rpps,family_name\n" + b"\xff\xfe\xfa\x00\x81\x8d", "ligne"),
], ids=["folder", "nul-byte", "binary"])
def test_unreadable_files_are_refused_and_nothing_is_written(
        engine: Engine, tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "pros.csv"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message), transaction(engine) as session:
        import_professionals(session, str(path))
    assert _count(engine, Professional) == 0


def test_an_unknown_declared_encoding_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "pros.csv"
    path.write_text(PROFESSIONALS, encoding="utf-8")
    with pytest.raises(ImportFileError, match="encodage inconnu 'klingon'"), \
            transaction(engine) as session:
        import_professionals(session, str(path), encoding="klingon")
    assert _count(engine, Professional) == 0


def test_texts_longer_than_their_column_are_listed_not_quoted(engine: Engine,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "pros.csv"
    long_name = "Martin" * 100
    path.write_text(PROFESSIONALS.replace("Martin", long_name), encoding="utf-8")
    with pytest.raises(ImportFileError, match="family_name : 600 caractères, au plus 120") \
            as caught, transaction(engine) as session:
        import_professionals(session, str(path))
    assert long_name not in str(caught.value)
    assert _count(engine, Professional) == 0
