"""Calibrate a scenario from a user's order history (and optional tracking events).

    >>> from sim.calibrate import calibrate, load_settings
    >>> res = calibrate("orders.csv", load_settings("olist", ["name=shop"]))
    >>> res.scenario_path, res.report_path

Modules, one job each: :mod:`.settings` (column mapping and options), :mod:`.dates`
(date formats), :mod:`.load` (reading, row screening, :class:`DataError`),
:mod:`.estimate` (shares, profiles, tracking statistics), :mod:`.fit` (families, AIC, KS,
bootstrap), :mod:`.lateness` (late definition, how-late figures, late component fitted by
simulated moments), :mod:`.scenario` (scenario and outcome YAML), :mod:`.holdout`
(validation tables with simultaneous intervals), :mod:`.reviews` (stars by days late),
:mod:`.report` (markdown and PNGs), :mod:`.export` (a simulated world as CSV),
:mod:`.run` (orchestration), :mod:`.cli` (``exsim-calibrate``).
"""

from sim.calibrate.load import DataError
from sim.calibrate.run import CalibrationResult, calibrate
from sim.calibrate.settings import CalibrationSettings, load_settings

__all__ = ["CalibrationResult", "CalibrationSettings", "DataError", "calibrate", "load_settings"]
