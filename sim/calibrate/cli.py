"""``exsim-calibrate``: calibrate a scenario from an order history.  Sits on top."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.calibrate.load import DataError
from sim.calibrate.run import calibrate
from sim.calibrate.settings import load_settings
from sim.config import ConfigError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="exsim-calibrate",
        description="Fit a scenario (conf/scenario/calibrated_<name>.yaml) to an order history "
                    "and check it on the held-out later part of the history.",
        epilog="example: exsim-calibrate orders.csv --preset olist --name myshop "
               "columns.region=customer_state fit_fraction=0.8")  # fmt: skip
    p.add_argument("orders", help="order history, CSV or Parquet")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="override any calibration setting, e.g. columns.purchase=created_at "
                        "date_format='%%d-%%m-%%Y %%H:%%M' replications=10")
    p.add_argument("--preset", default=None,
                   help="column mapping conf/calibration/<preset>.yaml (or a YAML path)")
    p.add_argument("--name", default=None, help="scenario name: calibrated_<name> (default: preset's)")
    p.add_argument("--tracking", default=None, help="tracking events CSV/Parquet "
                   "(tracking_no, time, status, location)")
    p.add_argument("--config-dir", default=None,
                   help="scenario folder to write into (default: the repo's conf/scenario)")
    p.add_argument("--out", default=None,
                   help="report folder (default: outputs/calibration/<name>)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)
    overrides = list(args.overrides)
    if args.name:
        overrides.append(f"name={args.name}")
    try:
        settings = load_settings(args.preset, overrides)
        out = Path(args.out or Path("outputs") / "calibration" / settings.name)
        res = calibrate(args.orders, settings, tracking_path=args.tracking,
                        config_dir=args.config_dir, out_dir=out, plots=not args.no_plots)
    except (DataError, ConfigError, FileNotFoundError, ValueError) as err:
        print(f"exsim-calibrate: error: {err}", file=sys.stderr)
        return 2
    h = res.history
    print(f"{h.n_rows} rows: {int(h.orders['complete'].sum())} complete, "
          f"{h.issues.total()} skipped or partial ({', '.join(f'{r}: {n}' for r, n, _ in h.issues.table()) or 'none'})")
    for q, f in res.fits.items():
        b = f.best
        print(f"  {q:16s} {b.family:9s} median {b.median:8.2f} h  shape {b.shape:.3f}  "
              f"KS {b.ks:.3f}")
    if res.holdout:
        ok = sum(r.within for r in res.holdout)
        print(f"held-out check: {ok}/{len(res.holdout)} simulated figures within the observed CI")
        for r in res.holdout[:5]:
            print(f"  {r.figure:22s} observed {r.observed:8.3f} [{r.obs_lo:.3f}, {r.obs_hi:.3f}]"
                  f"  simulated {r.simulated:8.3f} [{r.sim_lo:.3f}, {r.sim_hi:.3f}]"
                  f"  {'ok' if r.within else 'OUTSIDE'}")
    print(f"scenario: {res.scenario_path}  (exsim scenario={res.overrides['name']})")
    print(f"report:   {res.report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
