"""Confidence intervals shared by every metric: each figure comes with n and a 95% CI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "bootstrap_mean"]


@dataclass(frozen=True)
class Estimate:
    """A summary statistic with its sample size and a percentile bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    level: float = 0.95

    def as_dict(self) -> dict[str, float | int]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "level": self.level,
        }


def bootstrap_mean(
    values: np.ndarray,
    *,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    statistic: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Estimate:
    """Mean (or ``statistic`` along axis 1 of resamples) of ``values`` with a bootstrap CI.

    NaN values are dropped first; ``n`` counts what remains. With ``n == 0`` every field is NaN.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, level)
    stat = statistic or (lambda a: a.mean(axis=-1))
    rng = np.random.default_rng(seed)
    resamples = values[rng.integers(0, n, size=(n_bootstrap, n))]
    boot = stat(resamples)
    tail = (1.0 - level) / 2.0
    return Estimate(
        value=float(stat(values[None, :])[0]),
        ci_low=float(np.quantile(boot, tail)),
        ci_high=float(np.quantile(boot, 1.0 - tail)),
        n=int(n),
        level=level,
    )
