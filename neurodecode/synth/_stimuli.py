"""The stimulus pool: symbolic descriptions, pixels and captions, generated lazily per id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neurodecode.synth._captions import CATEGORIES, WORDS, make_captions
from neurodecode.synth._glyphs import BACKGROUND_RGB, COLOURS, GLYPHS, SHAPES, render

__all__ = ["StimulusSet"]

# stream tags keep the per-id generators of descriptions, captions and categories independent
_ATTR, _CAPTION, _CATEGORY = 11, 12, 13
_BG_KINDS = ("plain", "stripes", "checker", "noise")


class StimulusSet:
    """A pool of ``n`` procedural stimuli, each generated on demand from ``(seed, stim_id)``.

    Categories are balanced exactly: every block of five consecutive ids holds each category
    once, in a seeded order. Nothing is generated until asked for.

    Parameters
    ----------
    n : int
        Pool size; ids are ``0..n-1``.
    seed : int
        World seed.
    image_size : int
        Side of the rendered images in pixels.
    """

    def __init__(self, n: int, seed: int, image_size: int = 64) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.image_size = int(image_size)

    def __len__(self) -> int:
        return self.n

    def _check(self, stim_id: int) -> int:
        i = int(stim_id)
        if not 0 <= i < self.n:
            raise IndexError(f"stimulus id {stim_id} outside the pool 0..{self.n - 1}")
        return i

    def category(self, stim_id: int) -> str:
        """Primary category of one stimulus (cheap: no description or pixels are made)."""
        i = self._check(stim_id)
        order = np.random.default_rng([self.seed, _CATEGORY, i // 5]).permutation(5)
        return CATEGORIES[order[i % 5]]

    def categories(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Primary categories of several stimuli, as an array of str."""
        return np.array([self.category(i) for i in np.asarray(ids).ravel()])

    def attributes(self, stim_id: int) -> dict[str, Any]:
        """Symbolic description of one stimulus (JSON-serialisable).

        Keys: ``stim_id``, ``category`` (one of ``CATEGORIES``), ``background`` (``kind`` in
        plain/stripes/checker/noise with ``colour``, ``orientation`` in degrees, ``period``
        and ``texture_seed``; or ``kind='scene'`` with ``horizon`` and ``ground`` for places),
        ``objects`` (list of ``{shape, colour, size, position}``, the primary element first;
        for non-object categories its ``shape`` is the glyph: face, house, figure or text),
        ``main_colour``, ``text`` (word images only). Sizes and ``position = [x, y]`` are
        fractions of the image side, ``y`` downwards.
        """
        i = self._check(stim_id)
        category = self.category(i)
        rng = np.random.default_rng([self.seed, _ATTR, i])
        colour = str(rng.choice(COLOURS))
        if category == "place":
            horizon = float(rng.uniform(0.6, 0.75))
            size = float(rng.uniform(0.45, 0.65))
            background = {
                "kind": "scene",
                "horizon": round(horizon, 4),
                "ground": str(rng.choice(["grass", "sand"])),
            }
            position = [float(rng.uniform(0.35, 0.65)), horizon - 0.22 * size]
        else:
            background = {
                "kind": str(rng.choice(_BG_KINDS, p=[0.4, 0.2, 0.2, 0.2])),
                "colour": str(rng.choice(list(BACKGROUND_RGB))),
                "orientation": int(rng.choice([0, 45, 90, 135])),
                "period": round(float(rng.uniform(0.06, 0.12)), 4),
                "texture_seed": int(rng.integers(2**31)),
            }
        objects: list[dict[str, Any]] = []
        attrs: dict[str, Any] = {"stim_id": i, "category": category, "background": background}
        if category == "object":
            objects = self._objects(rng, colour)
        else:
            if category == "face":
                size = float(rng.uniform(0.5, 0.75))
                position = [float(v) for v in rng.uniform(0.38, 0.62, size=2)]
            elif category == "body":
                size = float(rng.uniform(0.6, 0.85))
                position = [float(v) for v in rng.uniform(0.4, 0.6, size=2)]
            elif category == "word":
                size = float(rng.uniform(0.45, 0.6))
                position = [float(rng.uniform(0.42, 0.58)), float(rng.uniform(0.3, 0.7))]
                attrs["text"] = str(rng.choice(WORDS))
            objects = [{"shape": GLYPHS[category], "colour": colour, "size": size}]
            objects[0]["position"] = position
        for obj in objects:
            obj["size"] = round(obj["size"], 4)
            obj["position"] = [round(v, 4) for v in obj["position"]]
        attrs["objects"] = objects
        attrs["main_colour"] = colour
        return attrs

    @staticmethod
    def _objects(rng: np.random.Generator, colour: str) -> list[dict[str, Any]]:
        n_obj = int(rng.integers(1, 4))
        sizes = [float(rng.uniform(0.32, 0.48)), *rng.uniform(0.14, 0.26, size=n_obj - 1)]
        objects: list[dict[str, Any]] = []
        for k, size in enumerate(sizes):
            lo, hi = size / 2 + 0.02, 1 - size / 2 - 0.02
            # later objects try a few spots and keep the one farthest from those already placed
            candidates = rng.uniform(lo, hi, size=(1 if k == 0 else 8, 2))
            if objects:
                placed = np.array([o["position"] for o in objects])
                dist = np.linalg.norm(candidates[:, None] - placed[None], axis=-1).min(axis=1)
                candidates = candidates[[int(np.argmax(dist))]]
            obj_colour = colour if k == 0 else str(rng.choice([c for c in COLOURS if c != colour]))
            objects.append(
                {
                    "shape": str(rng.choice(SHAPES)),
                    "colour": obj_colour,
                    "size": float(size),
                    "position": [float(v) for v in candidates[0]],
                }
            )
        return objects

    def images(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Render the requested stimuli only: uint8 array ``(n, H, W, 3)``."""
        ids = np.asarray(ids).ravel()
        out = np.empty((ids.size, self.image_size, self.image_size, 3), dtype=np.uint8)
        for row, i in enumerate(ids):
            out[row] = render(self.attributes(int(i)), self.image_size)
        return out

    def captions(self, stim_id: int) -> list[str]:
        """Exactly five COCO-style captions of one stimulus."""
        i = self._check(stim_id)
        rng = np.random.default_rng([self.seed, _CAPTION, i])
        return make_captions(self.attributes(i), rng)
