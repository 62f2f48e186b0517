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
        description="Fit a scenario (conf/scenario/calibrated_<name>.yaml and "
                    "conf/outcomes/calibrated_<name>.yaml) to an order history — the whole "
                    "history, or since=/until= — and validate it twice: a random split "
                    "(structure) and a later-period split (forecasting, drift).",
        epilog="example: exsim-calibrate orders.csv --preset olist --name myshop "
               "--reviews reviews.csv since=2018-01-01 late_definition=after_timestamp")  # fmt: skip
    p.add_argument("orders", help="order history, CSV or Parquet")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="override any calibration setting, e.g. columns.purchase=created_at "
                        "date_format='%%d-%%m-%%Y %%H:%%M' delimiter=';' since=2018-01-01 "
                        "replications=10")
    p.add_argument("--preset", default=None,
                   help="column mapping conf/calibration/<preset>.yaml (or a YAML path)")
    p.add_argument("--name", default=None, help="scenario name: calibrated_<name> (default: preset's)")
    p.add_argument("--tracking", default=None, help="tracking events CSV/Parquet "
                   "(tracking_no, time, status, location)")
    p.add_argument("--reviews", default=None,
                   help="reviews CSV/Parquet (stars, promised and delivered dates; columns in "
                        "the preset's reviews.columns): fits the customer model")
    p.add_argument("--config-dir", default=None,
                   help="scenario folder to write into (default: the repo's conf/scenario; the "
                        "outcome config goes to its sibling outcomes/)")
    p.add_argument("--out", default=None,
                   help="report folder (default: outputs/calibration/<name>)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    return p


def _row(r) -> str:
    return (f"  {r.figure:38s} obs {r.observed:7.3f} [{r.obs_lo:7.3f}, {r.obs_hi:7.3f}]  "
            f"sim {r.simulated:7.3f} [{r.sim_lo:7.3f}, {r.sim_hi:7.3f}]  "
            f"{'ok' if r.within else 'FAILS'}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)
    overrides = list(args.overrides)
    if args.name:
        overrides.append(f"name={args.name}")
    try:
        settings = load_settings(args.preset, overrides)
        out = Path(args.out or Path("outputs") / "calibration" / settings.name)
        res = calibrate(args.orders, settings, tracking_path=args.tracking,
                        reviews_path=args.reviews, config_dir=args.config_dir, out_dir=out,
                        plots=not args.no_plots,
                        progress=lambda text: print(f"... {text}", file=sys.stderr, flush=True))
    except (DataError, ConfigError, FileNotFoundError, ValueError) as err:
        print(f"exsim-calibrate: error: {err}", file=sys.stderr)
        return 2
    h = res.history
    n_cens = res.censored[0]
    print(f"{h.n_rows} rows: {int(h.orders['complete'].sum())} complete"
          + (f" ({n_cens} of them right-censored, left out of the fit)" if n_cens else "")
          + f", {h.issues.total()} skipped or partial "
          f"({', '.join(f'{r}: {n} (first line {f})' for r, n, f in h.issues.table()) or 'none'})")
    if settings.since or settings.until:
        e = res.estimates
        print(f"window since={settings.since} until={settings.until}: {res.n_window} orders "
              f"placed {e.start:%Y-%m-%d} .. {e.end:%Y-%m-%d}, {e.n_complete} complete fit")
    for q, f in res.fits.items():
        b = f.best
        print(f"  {q:16s} {b.family:9s} median {b.median:8.2f} h  shape {b.shape:.3f}  "
              f"KS {b.ks:.3f}")
    lf = res.model.lateness
    print(f"lateness: rho {lf.rho:.3f}, late component "
          + (f"p {lf.late_prob:.3f} median {lf.late_median_hours / 24:.1f} d" if lf.kept
             else "not kept") + f" (J plain {lf.plain_j:.1f}, with component {lf.component_j:.1f})")
    for v in res.validations:
        ok = sum(r.within for r in v.rows)
        print(f"{v.title}: {ok}/{len(v.rows)} figures pass at family-wise "
              f"{settings.alpha:.0%}" + (f"; drift: {', '.join(v.drift)}" if v.drift else ""))
        for r in v.rows:
            print(_row(r))
    if res.reviews is not None:
        ok = sum(r.within for r in res.reviews.holdout)
        print(f"review hold-out: {ok}/{len(res.reviews.holdout)} pass")
    if res.world_stars:
        on, late = res.world_stars["on time"][0], res.world_stars["late"][0]
        print(f"stars in the calibrated world: on time {on:.2f}, late {late:.2f} "
              "(Olist public: 4.28 vs 2.55)")
    name = res.overrides["name"]
    print(f"scenario: {res.scenario_path}\noutcomes: {res.outcomes_path}\n"
          f"  run: exsim scenario={name} +outcomes={name}")
    print(f"report:   {res.report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
