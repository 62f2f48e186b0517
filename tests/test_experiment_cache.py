"""The world cache: keyed by (scenario, seed, replication), safe across processes."""

from __future__ import annotations

import multiprocessing as mp

import pandas as pd
from exp_helpers import TINY

import sim
from sim.experiment import WorldCache, world_key


def _get(root: str, barrier, out) -> None:
    cfg = sim.load_config(*TINY)
    barrier.wait()  # both processes ask for the same world at the same moment
    cache = WorldCache(root)
    w = cache.get(cfg, 3)
    out.put((cache.misses, cache.hits, len(w.truth.orders), float(w.truth.orders["placed_at"].sum())))


def test_two_processes_simulate_a_world_once(tmp_path):
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_get, args=(str(tmp_path), barrier, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    res = [out.get(timeout=5) for _ in procs]
    assert all(p.exitcode == 0 for p in procs)
    assert sum(r[0] for r in res) == 1 and sum(r[1] for r in res) == 2  # 1 simulated, 2 loaded
    assert len({r[2:] for r in res}) == 1
    assert len((tmp_path / "simulated.log").read_text().splitlines()) == 1
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temporary file left behind


def test_cached_world_equals_fresh_and_key_tracks_the_world(tmp_path):
    cfg = sim.load_config(*TINY)
    cache = WorldCache(tmp_path)
    first = cache.get(cfg, 1)
    again = WorldCache(tmp_path).get(cfg, 1)
    fresh = sim.simulate_world(cfg, replication=1)
    for name, df in fresh.tables().items():
        pd.testing.assert_frame_equal(again.tables()[name], df)
        pd.testing.assert_frame_equal(first.tables()[name], df)
    other = sim.load_config(*TINY, "scenario.carrier.scan_miss_prob=0.05")
    k = world_key(cfg.scenario, cfg.seed, 1)
    assert k != world_key(other.scenario, cfg.seed, 1)
    assert k != world_key(cfg.scenario, cfg.seed + 1, 1)
    assert k != world_key(cfg.scenario, cfg.seed, 2)
    # settings that change no world field share the key
    same = sim.load_config(*TINY, "write_tables=false", "replications=7")
    assert k == world_key(same.scenario, same.seed, 1)
