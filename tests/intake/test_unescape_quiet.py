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



@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
def test_it_stays_quiet_once_logging_is_configured_again(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """``logging.config.dictConfig`` (Prefect's logging setup, in the flows) enables the
    loggers that already exist: what it does to python-hl7's, done here alone."""
    import hl7.util

    monkeypatch.setattr(logging.getLogger(hl7.util.__file__), "disabled", False)
    caplog.set_level(logging.DEBUG)
    _unescape("DUPONT\\\\MARIE\\Zunknown\\")
    assert not any("DUPONT" in r.getMessage() for r in caplog.records)
