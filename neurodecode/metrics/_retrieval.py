"""N-way retrieval between brain-predicted and stimulus embeddings (pure numpy).

The protocol follows MindEye: draw ``n_way`` test samples at random, compare every predicted
embedding with every candidate embedding by cosine similarity, and count a query as correct
when its own partner is ranked first. Both directions are reported:

* **image given brain** (MindEye's "image retrieval"): the query is a brain embedding, the
  candidates are the ``n_way`` image embeddings;
* **brain given image** ("brain retrieval"): the query is an image embedding, the candidates are
  the ``n_way`` brain embeddings.

Ties are counted against the query (a candidate that is exactly as similar as the true partner
outranks it), so a degenerate predictor that outputs one constant vector scores 0, not 100%.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["RetrievalResult", "cosine_similarity", "rank_candidates", "retrieval_accuracy"]

#: Standard normal 0.975 quantile.


@dataclasses.dataclass(frozen=True)
class RetrievalResult:
    """Outcome of :func:`retrieval_accuracy`.

    Attributes
    ----------
    n_way : int
        Number of candidates per draw (``min(requested n_way, n_samples)``).
    n_draws : int
        Number of random draws averaged.
    n_samples : int
        Number of paired samples the draws were taken from.
    image_given_brain, brain_given_image : float
        Top-1 accuracy (fraction in [0, 1]) averaged over draws.
    image_given_brain_ci, brain_given_image_ci : tuple of float
        95% confidence interval of the mean over draws (Student t). It describes the
        variability due to the random choice of candidates, not the sampling of the test set.
    chance : float
        Top-1 accuracy of a random ranking, ``1 / n_way``.
    topk_image_given_brain, topk_brain_given_image : ndarray of shape (n_way,)
        Top-k accuracy for k = 1..n_way, averaged over draws (entry ``k - 1`` is top-k).
    draws_image_given_brain, draws_brain_given_image : ndarray of shape (n_draws,)
        Top-1 accuracy of each draw.
    """

    n_way: int
    n_draws: int
    n_samples: int
    image_given_brain: float
    brain_given_image: float
    image_given_brain_ci: tuple[float, float]
    brain_given_image_ci: tuple[float, float]
    chance: float
    topk_image_given_brain: np.ndarray
    topk_brain_given_image: np.ndarray
    draws_image_given_brain: np.ndarray
    draws_brain_given_image: np.ndarray

    def topk(self, k: int) -> tuple[float, float]:
        """Top-k accuracy ``(image_given_brain, brain_given_image)``."""
        if not 1 <= k <= self.n_way:
            raise ValueError(f"k must be in [1, {self.n_way}], got {k}")
        return float(self.topk_image_given_brain[k - 1]), float(self.topk_brain_given_image[k - 1])

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary (arrays become lists)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of ``a`` (n, d) and of ``b`` (m, d) -> (n, m).

    Rows of zero norm get similarity 0 with everything.
    """
    a = _normalise(np.asarray(a, dtype=np.float64))
    b = _normalise(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding sizes differ: {a.shape[1]} vs {b.shape[1]}")
    return a @ b.T


def rank_candidates(queries: np.ndarray, candidates: np.ndarray, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` candidates most similar (cosine) to each query, best first.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, d)
    candidates : ndarray of shape (n_candidates, d)
    k : int
        Number of candidates returned per query (at most ``n_candidates``).

    Returns
    -------
    ndarray of int of shape (n_queries, k)
    """
    sim = cosine_similarity(_check_2d(queries, "queries"), _check_2d(candidates, "candidates"))
    k = min(int(k), sim.shape[1])
    if k < 1:
        raise ValueError("k must be >= 1")
    # A stable sort on the negated similarity keeps the lower index first among ties.
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


def retrieval_accuracy(
    brain: np.ndarray,
    image: np.ndarray,
    n_way: int = 300,
    n_draws: int = 30,
    seed: int | None = 0,
) -> RetrievalResult:
    """N-way top-1 (and top-k) retrieval in both directions, averaged over random draws.

    Parameters
    ----------
    brain : ndarray of shape (n_samples, d)
        Embeddings predicted from brain activity; row ``i`` pairs with ``image[i]``.
    image : ndarray of shape (n_samples, d)
        Stimulus embeddings (e.g. CLIP image embeddings of the seen images).
    n_way : int, default=300
        Candidates per draw. When larger than ``n_samples`` every draw uses all samples.
    n_draws : int, default=30
        Number of random draws of ``n_way`` samples (without replacement).
    seed : int or None, default=0
        Seed of the numpy generator that draws the candidate sets.

    Returns
    -------
    RetrievalResult
        Accuracies are fractions in [0, 1]; chance is ``1 / n_way``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = rng.normal(size=(500, 16))
    >>> res = retrieval_accuracy(img + 0.1 * rng.normal(size=img.shape), img)
    >>> res.n_way, res.image_given_brain > 0.9
    (300, True)
    """
    brain = _check_2d(brain, "brain")
    image = _check_2d(image, "image")
    if brain.shape != image.shape:
        raise ValueError(
            f"brain and image must have the same shape, got {brain.shape} and {image.shape}"
        )
    n_samples = brain.shape[0]
    if n_samples < 2:
        raise ValueError("retrieval needs at least 2 paired samples")
    if int(n_way) < 2:
        raise ValueError(f"n_way must be >= 2, got {n_way}")
    if int(n_draws) < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    n_way = min(int(n_way), n_samples)
    n_draws = int(n_draws)

    sim_full = cosine_similarity(brain, image)
    rng = np.random.default_rng(seed)
    ranks_ib = np.empty((n_draws, n_way), dtype=np.int64)
    ranks_bi = np.empty((n_draws, n_way), dtype=np.int64)
    drawn = np.empty((n_draws, n_way), dtype=np.int64)
    for d in range(n_draws):
        idx = rng.choice(n_samples, size=n_way, replace=False)
        drawn[d] = idx
        sim = sim_full[np.ix_(idx, idx)]
        ranks_ib[d] = _ranks_of_diagonal(sim)
        ranks_bi[d] = _ranks_of_diagonal(sim.T)

    top1_ib = (ranks_ib == 0).mean(axis=1)
    top1_bi = (ranks_bi == 0).mean(axis=1)
    return RetrievalResult(
        n_way=n_way,
        n_draws=n_draws,
        n_samples=n_samples,
        image_given_brain=float(top1_ib.mean()),
        brain_given_image=float(top1_bi.mean()),
        image_given_brain_ci=_query_ci(ranks_ib == 0, drawn, n_samples, seed),
        brain_given_image_ci=_query_ci(ranks_bi == 0, drawn, n_samples, seed),
        chance=1.0 / n_way,
        topk_image_given_brain=_topk_curve(ranks_ib, n_way),
        topk_brain_given_image=_topk_curve(ranks_bi, n_way),
        draws_image_given_brain=top1_ib,
        draws_brain_given_image=top1_bi,
    )


def _check_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _ranks_of_diagonal(sim: np.ndarray) -> np.ndarray:
    """Rank of the true partner (the diagonal) in each row; 0 is best, ties count against."""
    own = np.diag(sim)[:, None]
    return (sim >= own).sum(axis=1) - 1


def _topk_curve(ranks: np.ndarray, n_way: int) -> np.ndarray:
    counts = np.apply_along_axis(np.bincount, 1, ranks, minlength=n_way)
    return (np.cumsum(counts, axis=1) / ranks.shape[1]).mean(axis=0)


def _query_ci(
    hits: np.ndarray, drawn: np.ndarray, n_samples: int, seed: int | None
) -> tuple[float, float]:
    """95% CI of top-1 over the population of queries (percentile bootstrap, 2000 resamples).

    Each query's accuracy is its hit rate over the draws it appeared in; resampling queries
    captures the uncertainty that averaging draws does not (with ``n_way == n_samples`` every
    draw is the same set, and the spread over draws is zero).
    """
    from neurodecode.metrics._stats import bootstrap_mean

    count = np.bincount(drawn.ravel(), minlength=n_samples)
    hit = np.bincount(drawn.ravel(), weights=hits.ravel().astype(np.float64), minlength=n_samples)
    per_query = hit[count > 0] / count[count > 0]
    est = bootstrap_mean(per_query, n_bootstrap=2000, seed=0 if seed is None else int(seed))
    return est.ci_low, est.ci_high
