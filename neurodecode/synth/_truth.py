"""Ground-truth feature spaces: pure, deterministic functions of pixels.

They work on any uint8 RGB batch (generated stimuli, or images a decoder synthesises later);
every image is first resampled to a canonical 64x64 by area averaging. The simulated brain's
responses are linear in these spaces, so they define what a perfect encoding model sees.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from neurodecode.synth._captions import WORDS
from neurodecode.synth._glyphs import BACKGROUND_RGB, COLOUR_RGB, render

__all__ = ["CATEGORY_FEATURES", "COLOUR_FEATURES", "PRF_GRID", "TRUTH_SPACES", "truth_features"]

_CANON = 64
#: Cells per side of the contrast-energy grid ('prf_energy' has PRF_GRID**2 columns).
PRF_GRID = 16
#: Columns of the 'category' space.
CATEGORY_FEATURES: tuple[str, ...] = ("face", "place", "body", "word")
_PALETTE_RGB = {**COLOUR_RGB, **BACKGROUND_RGB}
#: Columns of the 'colour' space: every colour the generator paints, objects' then backgrounds'.
COLOUR_FEATURES: tuple[str, ...] = tuple(_PALETTE_RGB)
_NUISANCE_DIM = 32
_COLOUR_RADIUS = 60.0  # RGB distance under which a pixel counts as a palette colour
TRUTH_SPACES: dict[str, int] = {
    "prf_energy": PRF_GRID * PRF_GRID,
    "colour": len(COLOUR_FEATURES),
    "category": len(CATEGORY_FEATURES),
    "nuisance": _NUISANCE_DIM,
}


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix averaging input pixels by their overlap with each output pixel."""
    edges_in = np.arange(n_in + 1) / n_in
    edges_out = np.arange(n_out + 1) / n_out
    lo = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    hi = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    overlap = np.clip(hi - lo, 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def _canonical(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected a uint8 batch (n, H, W, 3), got {images.dtype} {images.shape}")
    x = images.astype(np.float32)
    h, w = x.shape[1:3]
    if (h, w) != (_CANON, _CANON):
        y = np.tensordot(_area_matrix(h, _CANON), x, axes=(1, 1))  # (64, n, W, 3)
        y = np.tensordot(y, _area_matrix(w, _CANON), axes=(2, 1))  # (64, n, 3, 64)
        x = np.ascontiguousarray(y.transpose(1, 0, 3, 2))
    return x


def _block_mean(x: np.ndarray, block: int) -> np.ndarray:
    n, h, w = x.shape
    return x.reshape(n, h // block, block, w // block, block).mean(axis=(2, 4))


def _contrast(x: np.ndarray) -> np.ndarray:
    """Colour gradient magnitude (n, 64, 64) in units of 255 (central differences)."""
    total = np.zeros(x.shape[:3], dtype=np.float32)
    for ch in range(3):
        plane = x[..., ch]
        gx = plane[:, 1:-1, 2:] - plane[:, 1:-1, :-2]
        gy = plane[:, 2:, 1:-1] - plane[:, :-2, 1:-1]
        total[:, 1:-1, 1:-1] += gx * gx + gy * gy
    return np.sqrt(total) / (2 * 255.0)


@lru_cache(maxsize=1)
def _colour_lut() -> np.ndarray:
    """Palette index (``COLOUR_FEATURES``, or one past it for none) of every 5-bit RGB bin."""
    centres = np.arange(32, dtype=np.float32) * 8 + 3.5
    r, g, b = np.meshgrid(centres, centres, centres, indexing="ij")
    rgb = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)
    palette = np.array(list(_PALETTE_RGB.values()), dtype=np.float32)
    d2 = ((rgb[:, None, :] - palette[None]) ** 2).sum(axis=-1)
    return np.where(d2.min(axis=1) < _COLOUR_RADIUS**2, d2.argmin(axis=1), len(palette))


def _colour_fractions(x: np.ndarray) -> np.ndarray:
    q = np.clip(np.rint(x), 0, 255).astype(np.int32) >> 3
    label = _colour_lut()[(q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]].reshape(len(x), -1)
    k = len(COLOUR_FEATURES) + 1
    counts = np.bincount((label + k * np.arange(len(x))[:, None]).ravel(), minlength=k * len(x))
    return counts.reshape(len(x), k)[:, :-1] / label.shape[1]


def _blur3(m: np.ndarray) -> np.ndarray:
    p = np.pad(m, ((0, 0), (1, 1), (1, 1)), mode="edge")
    p = (p[:, :-2] + p[:, 1:-1] + p[:, 2:]) / 3
    return (p[:, :, :-2] + p[:, :, 1:-1] + p[:, :, 2:]) / 3


def _shape_code(contrast: np.ndarray) -> np.ndarray:
    """Blurred 32x32 contrast map, zero-mean and unit-norm per image: (n, 1024)."""
    m = _blur3(_block_mean(contrast, 2)).reshape(contrast.shape[0], -1)
    m = m - m.mean(axis=1, keepdims=True)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-6)


def _glyph_attrs(category: str, pos: list[float], size: float, extra: dict) -> dict:
    shape = {"face": "face", "place": "house", "body": "figure", "word": "text"}[category]
    bg: dict[str, Any] = {"kind": "plain", "colour": "grey", "orientation": 0, "period": 0.1}
    bg["texture_seed"] = 0
    if category == "place":
        bg = {"kind": "scene", "horizon": extra["horizon"], "ground": "grass"}
    main = {"shape": shape, "colour": "white", "size": size, "position": pos}
    attrs: dict[str, Any] = {"background": bg, "objects": [main]}
    if category == "word":
        attrs["text"] = extra["text"]
    return attrs


@lru_cache(maxsize=1)
def _templates() -> tuple[np.ndarray, np.ndarray]:
    """Canonical glyph codes (1024, k) and the category index of each column."""
    codes, owner = [], []
    steps = (0.42, 0.5, 0.58)
    for c, category in enumerate(CATEGORY_FEATURES):
        batch = []
        if category == "face":
            batch = [_glyph_attrs("face", [x, y], s, {}) for x in steps for y in steps
                     for s in (0.55, 0.7)]  # fmt: skip
        elif category == "body":
            batch = [_glyph_attrs("body", [x, y], s, {}) for x in steps for y in steps
                     for s in (0.65, 0.8)]  # fmt: skip
        elif category == "place":
            for horizon in (0.62, 0.68, 0.74):
                for x in (0.4, 0.5, 0.6):
                    for s in (0.5, 0.6):
                        pos = [x, horizon - 0.22 * s]
                        batch.append(_glyph_attrs("place", pos, s, {"horizon": horizon}))
        else:
            # one template per position: the mean code of every word rendered there
            for y in (0.32, 0.42, 0.5, 0.58, 0.68):
                words = [_glyph_attrs("word", [0.5, y], 0.52, {"text": t}) for t in WORDS]
                imgs = np.stack([render(a, _CANON) for a in words])
                codes.append(_shape_code(_contrast(_canonical(imgs))).mean(axis=0))
                owner.append(c)
            continue
        imgs = np.stack([render(a, _CANON) for a in batch])
        codes.extend(_shape_code(_contrast(_canonical(imgs))))
        owner.extend([c] * len(batch))
    t = np.stack(codes, axis=1).astype(np.float64)
    t -= t.mean(axis=0, keepdims=True)
    t /= np.linalg.norm(t, axis=0, keepdims=True)
    return t, np.asarray(owner)


@lru_cache(maxsize=1)
def _nuisance_projection() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240611)
    w = rng.standard_normal((8 * 8 * 3, _NUISANCE_DIM))
    b = rng.uniform(0, 2 * np.pi, _NUISANCE_DIM)
    return w, b


def truth_features(images: np.ndarray, chunk: int = 512) -> dict[str, np.ndarray]:
    """Ground-truth feature spaces of a uint8 image batch.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, H, W, 3)
        Any RGB images; they are area-resampled to 64x64 first.
    chunk : int
        Images processed at once (bounds memory).

    Returns
    -------
    dict of str to ndarray of float32
        ``'prf_energy'`` (n, 256): mean colour-gradient magnitude (units of 255) in each cell of
        a 16x16 grid, row-major from the top-left. ``'colour'`` (n, 11): fraction of pixels
        within 60 RGB units of each colour of ``COLOUR_FEATURES`` (the six object colours, then
        the five background colours; pixels binned to 5 bits per channel). ``'category'``
        (n, 4): for face, place, body, word, the maximum normalised correlation of the blurred
        32x32 contrast map with canonical glyph templates at several positions and scales.
        ``'nuisance'`` (n, 32): fixed, seeded random cosine features of an 8x8 thumbnail
        (hash-like; unrelated to the tuning by construction).
    """
    images = np.asarray(images)
    n = images.shape[0] if images.ndim == 4 else 0
    out = {name: np.empty((n, p), dtype=np.float32) for name, p in TRUTH_SPACES.items()}
    templates, owner = _templates()
    w, b = _nuisance_projection()
    if n == 0:
        _canonical(images)  # validates the input
        return out
    for start in range(0, n, chunk):
        x = _canonical(images[start : start + chunk])
        sl = slice(start, start + x.shape[0])
        contrast = _contrast(x)
        out["prf_energy"][sl] = _block_mean(contrast, _CANON // PRF_GRID).reshape(x.shape[0], -1)
        # float64 products: a row's result does not depend on the batch it came in (BLAS blocking)
        scores = _shape_code(contrast).astype(np.float64) @ templates
        for c in range(len(CATEGORY_FEATURES)):
            out["category"][sl, c] = scores[:, owner == c].max(axis=1)
        out["colour"][sl] = _colour_fractions(x)
        thumb = x.reshape(x.shape[0], 8, 8, 8, 8, 3).mean(axis=(2, 4)).reshape(x.shape[0], -1)
        out["nuisance"][sl] = np.cos((thumb.astype(np.float64) * (40.0 / 255.0)) @ w + b)
    return out
