"""A malformed escape sequence in a field is read without logging the field's value
(python-hl7 logs it at warning level: a patient's name must not reach a log)."""

from __future__ import annotations

import logging

import pytest

from engine.intake.hl7v2 import _unescape


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
def test_a_malformed_escape_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    value = _unescape("DUPONT\\\\MARIE\\Zunknown\\")
    assert "DUPONT" in value
    assert not any("DUPONT" in r.getMessage() for r in caplog.records)
