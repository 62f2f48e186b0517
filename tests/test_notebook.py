"""The planner notebook runs end to end (on a tiny world), so it cannot rot."""

from __future__ import annotations

import pytest
from exp_helpers import ROOT, run_notebook

NOTEBOOK = ROOT / "notebooks" / "compare_detection_windows.ipynb"


@pytest.mark.notebook
def test_compare_detection_windows_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("EXSIM_NB_N", "3")
    monkeypatch.setenv("EXSIM_NB_HOURS", "24,48")
    monkeypatch.setenv("EXSIM_NB_EXTRA", "scenario.days=3 scenario.orders.per_day=300")
    outputs, text = run_notebook(NOTEBOOK, tmp_path)
    assert "baseline: 48 h vs 24 h (paired, N = 3)" in text
    assert "winter storm: 48 h vs 24 h" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the figures were drawn
