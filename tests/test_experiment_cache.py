"""The world cache: keyed by (scenario, seed, replication), safe across processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from exp_helpers import TINY

import sim
from sim.experiment import WorldCache, world_key
from sim.experiment.cache import WorldCacheWarning, entries
from sim.experiment.cache import main as cache_main
from sim.pipeline import run_once


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
    assert not list(tmp_path.glob(".tmp-*"))  # atomic: no temporary folder left behind
    assert not list(tmp_path.glob(".*.lock"))  # lock files removed by their holder


def test_cached_world_equals_fresh_and_key_tracks_the_world(tmp_path):
    cfg = sim.load_config(*TINY)
    cache = WorldCache(tmp_path)
    first = cache.get(cfg, 1)
    again = WorldCache(tmp_path).get(cfg, 1)
    fresh = sim.simulate_world(cfg, replication=1)
    for name, df in fresh.tables().items():
        pd.testing.assert_frame_equal(again.tables()[name], df, check_exact=True)
        pd.testing.assert_frame_equal(first.tables()[name], df, check_exact=True)
    pd.testing.assert_frame_equal(again.observation.alerts, fresh.observation.alerts)
    assert again.observation.horizon == fresh.observation.horizon
    # the policy stage cannot tell a reloaded world from a fresh one
    assert run_once(cfg, 1, again).kpis == run_once(cfg, 1, fresh).kpis
    other = sim.load_config(*TINY, "scenario.carrier.scan_miss_prob=0.05")
    k = world_key(cfg.scenario, cfg.seed, 1)
    assert k != world_key(other.scenario, cfg.seed, 1)
    assert k != world_key(cfg.scenario, cfg.seed + 1, 1)
    assert k != world_key(cfg.scenario, cfg.seed, 2)
    # settings that change no world field share the key
    same = sim.load_config(*TINY, "write_tables=false", "replications=7")
    assert k == world_key(same.scenario, same.seed, 1)


# ------------------------------------------------------------------ faults and housekeeping
def _entry(root: Path) -> Path:
    (entry,) = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return entry


def _flip(path: Path, n: int = 64) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for i in range(mid, mid + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _same_world(a, b) -> None:
    for name, df in a.tables().items():
        pd.testing.assert_frame_equal(b.tables()[name], df, check_exact=True)


@pytest.mark.parametrize("target", ["truth.orders.parquet", "manifest.json"])
def test_flipped_bytes_are_detected_quarantined_and_resimulated(tmp_path, target):
    cfg = sim.load_config(*TINY)
    fresh = WorldCache(tmp_path).get(cfg, 0)
    _flip(_entry(tmp_path) / target)
    cache = WorldCache(tmp_path)
    with pytest.warns(WorldCacheWarning, match="failed verification"):
        again = cache.get(cfg, 0)
    assert (cache.quarantined, cache.misses, cache.hits) == (1, 1, 0)
    _same_world(fresh, again)
    assert run_once(cfg, 0, again).kpis == run_once(cfg, 0, fresh).kpis
    assert len(list((tmp_path / ".quarantine").iterdir())) == 1
    assert "quarantined" in (tmp_path / "simulated.log").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the re-simulated entry is served cleanly
        third = WorldCache(tmp_path)
        _same_world(fresh, third.get(cfg, 0))
    assert third.hits == 1


class _Bomb:
    """Unpickling this runs a shell command (what a planted pickle would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_files_are_never_executed(tmp_path):
    cfg = sim.load_config(*TINY)
    root, marker = tmp_path / "cache", tmp_path / "PWNED"
    root.mkdir()
    key = world_key(cfg.scenario, cfg.seed, 0)
    bomb = pickle.dumps(_Bomb(marker))
    (root / f"{key}.pkl").write_bytes(bomb)  # the old cache format's file name
    (root / key).mkdir()
    (root / key / "manifest.json").write_bytes(bomb)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    (root / "simulated.log").symlink_to(outside)  # a log planted as a symlink
    with pytest.warns(WorldCacheWarning) as caught:
        world = WorldCache(root).get(cfg, 0)
    assert not marker.exists()
    _same_world(sim.simulate_world(cfg), world)
    assert outside.read_text() == "keep\n"  # nothing written through the link
    text = " ".join(str(w.message) for w in caught)
    assert "failed verification" in text and "simulated.log" in text


def test_symlinked_entry_is_quarantined_not_followed(tmp_path):
    cfg = sim.load_config(*TINY)
    root, target = tmp_path / "cache", tmp_path / "elsewhere"
    target.mkdir()
    (target / "precious").write_text("x")
    root.mkdir()
    (root / world_key(cfg.scenario, cfg.seed, 0)).symlink_to(target)
    with pytest.warns(WorldCacheWarning, match="symlink"):
        WorldCache(root).get(cfg, 0)
    assert (target / "precious").read_text() == "x"
    assert not _entry(root).is_symlink()


def test_size_cap_evicts_least_recently_used_and_cleans_orphans(tmp_path, capsys):
    cfg = sim.load_config(*TINY)
    probe = WorldCache(tmp_path / "probe")
    probe.get(cfg, 0)
    size = sum(f.stat().st_size for f in _entry(tmp_path / "probe").iterdir())
    root = tmp_path / "cache"
    root.mkdir()
    (root / ".tmp-deadbeef-somehost-1").mkdir()  # a writer's temporary folder, long dead
    os.utime(root / ".tmp-deadbeef-somehost-1", (0, 0))
    (root / ".deadbeef.lock").write_text("")  # a lock nobody holds
    cache = WorldCache(root, max_bytes=int(2.5 * size))
    assert not (root / ".tmp-deadbeef-somehost-1").exists()
    assert not (root / ".deadbeef.lock").exists()
    keys = [world_key(cfg.scenario, cfg.seed, r) for r in range(4)]
    for r in (0, 1):
        cache.get(cfg, r)
    time.sleep(0.05)
    cache.get(cfg, 0)  # a hit: world 0 is now more recently used than world 1
    cache.get(cfg, 2)  # over the cap: world 1 goes
    live = {e["key"] for e in entries(root) if e["kind"] == "live"}
    assert live == {keys[0], keys[2]}
    assert not list(root.glob(".*.lock")) and not list(root.glob(".tmp-*"))
    assert cache_main(["list", str(root)]) == 0
    out = capsys.readouterr().out
    assert keys[0] in out and keys[2] in out and "2 entries" in out
    (root / "notes.txt").write_text("not the cache's")  # a foreign file is left alone
    assert cache_main(["clear", str(root)]) == 0
    assert entries(root) == [] and (root / "notes.txt").exists()
    other = tmp_path / "home"  # a folder that is no cache: refused, nothing removed
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    assert cache_main(["clear", str(other)]) == 2
    assert (other / "thesis.tex").exists()
