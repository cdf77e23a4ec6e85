"""Scenario tests that pathway authors write in YAML (format in ``pathways/README.md``)."""

from __future__ import annotations

from engine.authoring.scenarios.runner import (
    SUFFIX,
    Result,
    ScenarioError,
    read_scenario,
    run_file,
    scenario_files,
)

__all__ = ["SUFFIX", "Result", "ScenarioError", "read_scenario", "run_file", "scenario_files"]
