"""Random streams: one per purpose (and per entity where entities are few).

Why: common random numbers.  Two runs that differ in one part of the config must see the
same draws everywhere else, so that a difference in outcomes is caused by the change and
not by reshuffled luck.  Every draw is therefore taken from a stream keyed by
``(seed, replication, purpose[, entity...])`` through :class:`numpy.random.SeedSequence`:

* world draws come in arrays indexed by order id (row ``i`` belongs to order ``i``); numpy
  fills arrays in order, so order ``i``'s draws do not depend on how many orders exist;
* rare entities (reshipments, exception cases) get their own keyed generator, e.g.
  ``streams.generator("reship.carrier", order_id, attempt)``.

Streams never depend on process scheduling or on the number of workers, so the same seed
gives bit-identical tables at any parallelism.
"""

from __future__ import annotations

import hashlib

import numpy as np


def purpose_key(purpose: str) -> int:
    """A stable 32-bit integer for a purpose name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(purpose.encode(), digest_size=4).digest(), "little")


class Streams:
    """Factory of independent generators for one ``(seed, replication)``."""

    def __init__(self, seed: int, replication: int = 0):
        if seed < 0 or replication < 0:
            raise ValueError(f"seed and replication must be >= 0, got {seed}, {replication}")
        self.seed = int(seed)
        self.replication = int(replication)

    def generator(self, purpose: str, *entity: int) -> np.random.Generator:
        ss = np.random.SeedSequence(
            entropy=self.seed,
            spawn_key=(self.replication, purpose_key(purpose), *(int(e) for e in entity)),
        )
        return np.random.Generator(np.random.PCG64(ss))

    def uniforms(self, purpose: str, n: int, width: int = 1) -> np.ndarray:
        """``(n, width)`` uniforms on [0, 1); row ``i`` is entity ``i``'s, whatever ``n`` is."""
        return self.generator(purpose).random((n, width))

    def __repr__(self) -> str:
        return f"Streams(seed={self.seed}, replication={self.replication})"
