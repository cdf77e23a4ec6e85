"""The CSV helper: BOM, ``;``, CRLF, French values, formula starts neutralised."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from web.csv_export import BOM, cell_text, csv_response, csv_text


def _parse(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM):], newline=""), delimiter=";"))


def test_bom_separator_crlf_and_french_headers() -> None:
    text = csv_text(["Patient", "Échéance", "Valeur"],
                    [("Hélène ÉLOI; fille", datetime(2026, 3, 12, 7, 30, tzinfo=UTC), 7.8)])
    assert text.startswith("\ufeffPatient;Échéance;Valeur\r\n")
    assert _parse(text) == [["Patient", "Échéance", "Valeur"],
                            ["Hélène ÉLOI; fille", "12/03/2026 08:30", "7,8"]]


@pytest.mark.parametrize("evil", ["=HYPERLINK(\"http://x\")", "+33612", "-2+3", "@SUM(A1)",
                                  "\tcmd", "\rcmd"])
def test_formula_starts_are_prefixed(evil: str) -> None:
    assert cell_text(evil) == "'" + evil
    assert _parse(csv_text(["Nom"], [(evil,)]))[1] == ["'" + evil]


def test_values_as_a_french_spreadsheet_reads_them() -> None:
    assert cell_text(None) == ""
    assert cell_text(True) == "oui" and cell_text(False) == "non"
    assert cell_text(date(2026, 1, 5)) == "05/01/2026"
    assert cell_text(3) == "3" and cell_text(-3) == "-3"   # numbers are not formulas
    assert cell_text(2.0) == "2" and cell_text(7.5) == "7,5" and cell_text(-0.25) == "-0,25"


def test_row_length_must_match_headers() -> None:
    with pytest.raises(ValueError, match="2 cells, headers have 1"):
        csv_text(["A"], [("x", "y")])


def test_response_is_a_download_without_patient_data_in_its_name() -> None:
    response = csv_response("Tâches en retard", ["A"], [("x",)], day=date(2026, 3, 1))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == \
        'attachment; filename="taches-en-retard-2026-03-01.csv"'
    assert bytes(response.body).startswith(b"\xef\xbb\xbfA\r\n")
