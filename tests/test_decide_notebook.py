"""The choose-a-policy notebook runs end to end on a tiny world, so it cannot rot."""

from __future__ import annotations

import json

import pytest
from exp_helpers import ROOT, run_notebook

NOTEBOOK = ROOT / "notebooks" / "choose_a_policy.ipynb"


@pytest.mark.notebook
def test_choose_a_policy_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("EXSIM_NB_EXTRA", "scenario.days=3 scenario.orders.per_day=300")
    monkeypatch.setenv("EXSIM_NB_TRIALS", "3")
    monkeypatch.setenv("EXSIM_NB_WORLDS", "2")
    monkeypatch.setenv("EXSIM_NB_N0", "3")
    monkeypatch.setenv("EXSIM_NB_ANALYSTS_MAX", "2")
    monkeypatch.setenv("EXSIM_NB_OUT", str(tmp_path / "out"))
    outputs, text = run_notebook(NOTEBOOK, tmp_path)
    assert "Recommended:" in text and "reproduce:  exsim " in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # Pareto, staffing
    rec = json.loads((tmp_path / "out" / "recommendation.json").read_text())
    assert rec["worlds_search"] == 2 and rec["policy_overrides"]
