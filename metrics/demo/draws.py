"""Random draws for the simulation, fast enough for the tens of millions a large build makes.

Each takes the ``random.Random`` stream of one service, so a service's history
depends on the seed and that service only: ``pick`` from a list, a long-tailed
duration or size (``lognormal``, from a table of normal quantiles), a count
per day (``poisson``) and a git sha (``fake_sha``).
"""

from __future__ import annotations

import math
import random
from statistics import NormalDist


def pick[T](rng: random.Random, items: list[T]) -> T:
    # rng.choice costs several times more; this is the hot path of a large build.
    return items[int(rng.random() * len(items))]


# Standard normal quantiles: a log-normal draw is a table look-up and a multiplication.
_NORMAL = [NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096)]
_SPREADS: dict[float, list[float]] = {}


def lognormal(rng: random.Random, median: float, sigma: float) -> int:
    spread = _SPREADS.get(sigma)
    if spread is None:
        spread = _SPREADS[sigma] = [math.exp(sigma * z) for z in _NORMAL]
    return int(median * spread[int(rng.random() * 4096)])


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the means here are a handful per day.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def fake_sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"
