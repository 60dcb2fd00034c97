"""Motion clips: a moving element over a (possibly panning) textured scene, with exact flow.

Each clip is a pure function of ``(seed, clip id)``. Its scene is a stimulus of the image world
(:class:`StimulusSet`: background texture or place scene, objects, category glyphs), and its
primary element (``objects[0]``) moves: it translates, rotates about its centre, expands or
contracts, at one of several speeds, while in some clips the camera pans (the background and
the other objects translate together). The element carries a fine stripe texture in its own
coordinates, so that its motion is visible inside it (a flat disk that rotates would not be).

Rendering is exact by construction: every frame samples continuous layers at the pose of that
frame (the scene at ``p - t * pan``; the element's canonical picture at the inverse of its
similarity transform), 2 x 2 sub-pixel samples per pixel. The forward flow from frame ``t`` to
``t + 1`` at a pixel is therefore the motion of the layer that owns the pixel (the element
where its coverage is >= 1/2, the scene elsewhere): ``v + (rho R(omega) - I)(p - c_t)`` on the
element and the pan elsewhere, in pixels per frame (``x`` right, ``y`` down).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from neurodecode.synth._glyphs import COLOUR_RGB, SHAPES, _shape_mask, background_at, render
from neurodecode.synth._glyphs import scene_at as _scene_at
from neurodecode.synth._stimuli import StimulusSet

__all__ = ["MOTION_KINDS", "ClipBatch", "ClipSet"]

#: What the primary element does in a clip.
MOTION_KINDS: tuple[str, ...] = ("translate", "rotate", "expand", "contract")
_KIND_P = (0.4, 0.2, 0.2, 0.2)
#: Element speeds (pixels per frame at a 64-pixel side) of translating clips.
TRANSLATION_SPEEDS = (1.0, 2.0, 3.0)
#: Rotation rates (degrees per frame) and scale factors per frame of the other kinds.
ROTATION_RATES = (4.0, 8.0)
SCALE_RATES = (1.05, 1.09)
#: Camera pan speeds (pixels per frame at a 64-pixel side).
PAN_SPEEDS = (0.5, 1.0, 1.5)
_MOTION, _TEXTURE = 51, 52
_PANNABLE = ("checker", "noise")
_SUB = 2  # sub-pixel samples per axis
_LAYER = 4  # canonical element picture: this many times the image side
_MAX_SIZE = 0.42  # the moving element's size at the middle frame (room to move and grow)
_MARGIN = 0.2  # the element's centre stays this far from the edges
_TONE = 28.0  # stripe texture on the element, +- this much per channel


@dataclasses.dataclass(frozen=True)
class ClipBatch:
    """Clips and their exact flow.

    Attributes
    ----------
    frames : ndarray of uint8, shape (n, T, H, W, 3)
    flow : ndarray of float32, shape (n, T - 1, H, W, 2)
        Forward flow from each frame to the next, pixels per frame (``x`` right, ``y`` down).
    """

    frames: np.ndarray
    flow: np.ndarray

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def __getitem__(self, key: Any) -> ClipBatch:
        return ClipBatch(self.frames[key], self.flow[key])


def _pixel_grid(size: int, sub: int) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel sample points (fractions of the side): x ``(1, size*sub)``, y ``(size*sub, 1)``."""
    c = ((np.arange(size * sub) + 0.5) / (size * sub)).astype(np.float32)
    return c[None, :], c[:, None]


def _rotation(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


class ClipSet:
    """A pool of ``n`` motion clips, each generated on demand from ``(seed, clip id)``.

    Parameters
    ----------
    n : int
        Pool size; ids are ``0..n-1``.
    seed : int
        World seed.
    image_size : int
        Side of the frames in pixels.
    n_frames : int
        Frames per clip.
    pan_fraction : float
        Share of the clips over a checker or noise texture in which the camera pans (a pan over
        plain regions, sky or stripes along their own direction is invisible).
    """

    def __init__(
        self, n: int, seed: int, image_size: int = 64, n_frames: int = 8, pan_fraction: float = 0.5
    ) -> None:
        if n_frames < 2:
            raise ValueError(f"a clip needs at least 2 frames, got {n_frames}")
        self.n = int(n)
        self.seed = int(seed)
        self.image_size = int(image_size)
        self.n_frames = int(n_frames)
        self.pan_fraction = float(pan_fraction)
        self.scenes = StimulusSet(self.n, self.seed, self.image_size)
        self._features: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.n

    # ------------------------------------------------------------------ descriptions
    def category(self, clip_id: int) -> str:
        return self.scenes.category(clip_id)

    def motion(self, clip_id: int) -> dict[str, Any]:
        """The motion of one clip (JSON-serialisable).

        Keys: ``kind`` (one of ``MOTION_KINDS``), ``velocity`` ``[vx, vy]`` (pixels per frame),
        ``rotation`` (degrees per frame), ``scale`` (size factor per frame), ``pan`` ``[px,
        py]`` (pixels per frame; zeros without camera motion), ``direction`` (degrees, of the
        translation or pan; None otherwise) and ``centre`` ``[x, y]`` (the element's centre at
        the middle of the clip, fractions of the side).
        """
        i = self.scenes._check(clip_id)
        rng = np.random.default_rng([self.seed, _MOTION, i])
        kind = str(rng.choice(MOTION_KINDS, p=_KIND_P))
        unit = self.image_size / 64.0
        angle = float(rng.uniform(0.0, 360.0))
        velocity, rotation, scale, direction = [0.0, 0.0], 0.0, 1.0, None
        if kind == "translate":
            speed = float(rng.choice(TRANSLATION_SPEEDS)) * unit
            velocity = [speed * np.cos(np.deg2rad(angle)), speed * np.sin(np.deg2rad(angle))]
            direction = round(angle, 3)
        elif kind == "rotate":
            rotation = float(rng.choice(ROTATION_RATES)) * float(rng.choice([-1.0, 1.0]))
        else:
            rate = float(rng.choice(SCALE_RATES))
            scale = rate if kind == "expand" else 1.0 / rate
        pan = [0.0, 0.0]
        pan_angle = float(rng.uniform(0.0, 360.0))
        pannable = self.scene(i)["background"]["kind"] in _PANNABLE
        if rng.random() < self.pan_fraction and pannable:
            speed = float(rng.choice(PAN_SPEEDS)) * unit
            pan = [speed * np.cos(np.deg2rad(pan_angle)), speed * np.sin(np.deg2rad(pan_angle))]
            if direction is None:
                direction = round(pan_angle, 3)
        start = self.scene(i)["objects"][0]["position"]
        half = (self.n_frames - 1) / 2.0
        centre = []
        for axis in range(2):
            reach = abs(velocity[axis]) / self.image_size * half
            lo, hi = _MARGIN + reach, 1.0 - _MARGIN - reach
            centre.append(float(np.clip(start[axis], lo, hi)) if lo <= hi else 0.5)
        return {
            "kind": kind,
            "velocity": [round(v, 6) for v in velocity],
            "rotation": rotation,
            "scale": scale,
            "pan": [round(v, 6) for v in pan],
            "direction": direction,
            "centre": [round(c, 6) for c in centre],
            "texture_angle": round(float(rng.uniform(0.0, 180.0)), 3),
        }

    def scene(self, clip_id: int) -> dict[str, Any]:
        """The clip's scene: the stimulus of the image world with this id, on a textured
        background (a plain one becomes a checker or noise texture of its colour)."""
        attrs = self.scenes.attributes(clip_id)
        bg = attrs["background"]
        if bg["kind"] == "plain":
            rng = np.random.default_rng([self.seed, _TEXTURE, int(clip_id)])
            bg["kind"] = str(rng.choice(_PANNABLE))
        return attrs

    def attributes(self, clip_id: int) -> dict[str, Any]:
        """The scene (as :meth:`StimulusSet.attributes`) with ``motion`` and ``n_frames``.

        The moving element is ``objects[0]``; its ``size`` is the one at the middle frame.
        """
        attrs = self.scene(clip_id)
        moving = attrs["objects"][0]
        moving["size"] = round(min(float(moving["size"]), _MAX_SIZE), 4)
        attrs["motion"] = self.motion(clip_id)
        moving["position"] = list(attrs["motion"]["centre"])
        attrs["n_frames"] = self.n_frames
        return attrs

    def captions(self, clip_id: int) -> list[str]:
        """Five captions of the clip's scene (its first frame's content)."""
        return self.scenes.captions(clip_id)

    # ------------------------------------------------------------------ pixels
    def render(self, clip_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frames ``(T, H, W, 3)`` uint8, flow ``(T-1, H, W, 2)`` float32 and the element's
        masks ``(T, H, W)`` bool (pixels it covers at least half of) of one clip."""
        return _render_clip(self, int(clip_id))

    def _many(self, ids: Sequence[int] | np.ndarray, part: int) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        parts = [self.render(int(i))[part] for i in ids]
        if parts:
            return np.stack(parts)
        s, t = self.image_size, self.n_frames
        shape = [(0, t, s, s, 3), (0, t - 1, s, s, 2), (0, t, s, s)][part]
        return np.empty(shape, dtype=[np.uint8, np.float32, bool][part])

    def frames(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames of the clips: uint8 ``(n, T, H, W, 3)``."""
        return self._many(ids, 0)

    def flow(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Exact forward flow of the clips: float32 ``(n, T-1, H, W, 2)``, pixels per frame."""
        return self._many(ids, 1)

    def object_masks(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Pixels of the moving element in each frame: bool ``(n, T, H, W)``."""
        return self._many(ids, 2)

    def images(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """First frames: uint8 ``(n, H, W, 3)`` (what image feature spaces see of a clip)."""
        frames = self.frames(ids)
        return np.ascontiguousarray(frames[:, 0])

    def truth_features(self, ids: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Truth features of the clips (:func:`video_truth_features`), each computed once."""
        from neurodecode.synth._motion_truth import video_truth_features

        ids = np.asarray(ids, dtype=np.int64).ravel()
        todo = [int(i) for i in np.unique(ids) if int(i) not in self._features]
        for start in range(0, len(todo), 32):
            chunk = todo[start : start + 32]
            batch = self.batch(chunk)
            feats = video_truth_features(batch.frames, batch.flow)
            for row, i in enumerate(chunk):
                self._features[i] = {k: v[row] for k, v in feats.items()}
        if ids.size == 0:
            from neurodecode.synth._motion_truth import VIDEO_TRUTH_SPACES

            return {k: np.empty((0, p), np.float32) for k, p in VIDEO_TRUTH_SPACES.items()}
        keys = self._features[int(ids[0])].keys()
        return {k: np.stack([self._features[int(i)][k] for i in ids]) for k in keys}

    def batch(self, ids: Sequence[int] | np.ndarray) -> ClipBatch:
        """Frames and exact flow of the clips."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        return ClipBatch(self.frames(ids), self.flow(ids))


def _element_layer(attrs: dict[str, Any], side: int) -> tuple[np.ndarray, np.ndarray]:
    """The moving element alone at its canonical pose (centred), ``side`` x ``side``: colour
    ``(side, side, 3)`` float32 (with its stripe texture) and coverage ``(side, side)``."""
    element = dict(attrs["objects"][0], position=[0.5, 0.5])
    one = {"objects": [element], "text": attrs.get("text", "")}
    # painted pixels are the ones whose colour does not depend on the background
    a = render({**one, "background": _plain("black")}, side).astype(np.float32)
    b = render({**one, "background": _plain("grey")}, side).astype(np.float32)
    alpha = np.all(a == b, axis=-1).astype(np.float32)
    c = (np.arange(side) + 0.5) / side
    theta = np.deg2rad(attrs["motion"]["texture_angle"])
    u = c[None, :] * np.cos(theta) + c[:, None] * np.sin(theta)
    stripe = np.where(np.floor(u / 0.06) % 2 == 1, _TONE, -_TONE).astype(np.float32)
    colour = np.clip(a + stripe[..., None], 0.0, 255.0) * alpha[..., None]
    return colour, alpha


def _plain(colour: str) -> dict[str, Any]:
    return {"kind": "plain", "colour": colour, "orientation": 0, "period": 0.1, "texture_seed": 0}


def _scene(attrs: dict[str, Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The static part of the scene (background and the other objects) at points ``x, y``."""
    bg = attrs["background"]
    img = _scene_at(bg, x, y) if bg["kind"] == "scene" else background_at(bg, x, y)
    img = np.array(np.broadcast_to(img, (*np.broadcast_shapes(x.shape, y.shape), 3)))
    for obj in attrs["objects"][1:]:
        if obj["shape"] not in SHAPES:
            continue  # only the image world's plain shapes share a scene with a primary element
        cx, cy = obj["position"]
        mask = _shape_mask(obj["shape"], x - cx, y - cy, obj["size"] / 2)
        img[np.broadcast_to(mask, img.shape[:2])] = COLOUR_RGB[obj["colour"]]
    return img


def _bilinear(padded: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """Sample a picture at points ``qx, qy`` (fractions of its side); 0 outside.

    ``padded`` is the picture ``(side, side, k)`` with a one-pixel border of zeros; points off
    the picture are clamped onto that border, so they read zeros.
    """
    side = padded.shape[0] - 2
    flat = padded.reshape(-1, padded.shape[2])
    fx = (qx * side + 0.5).astype(np.float32).ravel()  # coordinates in the padded picture
    fy = (qy * side + 0.5).astype(np.float32).ravel()
    x0, y0 = np.floor(fx), np.floor(fy)
    wx, wy = (fx - x0)[:, None], (fy - y0)[:, None]
    top = side + 1
    xi0, xi1 = np.clip(x0, 0, top).astype(np.int64), np.clip(x0 + 1, 0, top).astype(np.int64)
    yi0, yi1 = np.clip(y0, 0, top).astype(np.int64), np.clip(y0 + 1, 0, top).astype(np.int64)
    width = side + 2
    upper = np.take(flat, yi0 * width + xi0, axis=0) * (1 - wx)
    upper += np.take(flat, yi0 * width + xi1, axis=0) * wx
    lower = np.take(flat, yi1 * width + xi0, axis=0) * (1 - wx)
    lower += np.take(flat, yi1 * width + xi1, axis=0) * wx
    out = upper * (1 - wy) + lower * wy
    return out.reshape(qx.shape + padded.shape[2:])


def _block_mean(x: np.ndarray, sub: int) -> np.ndarray:
    h, w = x.shape[0] // sub, x.shape[1] // sub
    blocks = x.reshape(h, sub, w, sub, *x.shape[2:])
    return blocks.sum(axis=1, dtype=np.float32).sum(axis=2) / np.float32(sub * sub)


@lru_cache(maxsize=256)
def _cached(seed: int, n: int, size: int, n_frames: int, pan_fraction: float, clip_id: int):
    clips = ClipSet(n, seed, size, n_frames, pan_fraction)
    return _render_uncached(clips, clip_id)


def _render_clip(clips: ClipSet, clip_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _cached(
        clips.seed, clips.n, clips.image_size, clips.n_frames, clips.pan_fraction, clip_id
    )


def _render_uncached(clips: ClipSet, clip_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    attrs = clips.attributes(clip_id)
    motion = attrs["motion"]
    size, t_count = clips.image_size, clips.n_frames
    colour, alpha = _element_layer(attrs, size * _LAYER)
    layer = np.pad(np.concatenate([colour, alpha[..., None]], axis=-1), ((1, 1), (1, 1), (0, 0)))
    x, y = _pixel_grid(size, _SUB)
    xx, yy = np.broadcast_arrays(x, y)
    half = (t_count - 1) / 2.0
    velocity = np.array(motion["velocity"]) / size  # fractions per frame
    pan = np.array(motion["pan"]) / size
    centre0 = np.array(motion["centre"])
    frames = np.empty((t_count, size, size, 3), dtype=np.uint8)
    masks = np.empty((t_count, size, size), dtype=bool)
    flow = np.empty((t_count - 1, size, size, 2), dtype=np.float32)
    px, py = np.meshgrid((np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size)
    step = motion["scale"] * _rotation(motion["rotation"])
    for t in range(t_count):
        tau = t - half
        centre = centre0 + velocity * tau
        inverse = _rotation(-motion["rotation"] * tau) / motion["scale"] ** tau
        dx, dy = xx - np.float32(centre[0]), yy - np.float32(centre[1])
        inv = inverse.astype(np.float32)
        qx = 0.5 + inv[0, 0] * dx + inv[0, 1] * dy
        qy = 0.5 + inv[1, 0] * dx + inv[1, 1] * dy
        sampled = _bilinear(layer, qx, qy)
        c, a = sampled[..., :3], sampled[..., 3:]
        shift = (pan * t).astype(np.float32)
        scene = _scene(attrs, xx - shift[0], yy - shift[1]).astype(np.float32)
        # colour is premultiplied by coverage, so compositing is c + (1 - a) * scene
        frame = _block_mean(c + (1.0 - a) * scene, _SUB)
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        masks[t] = _block_mean(a[..., 0], _SUB) >= 0.5
        if t == t_count - 1:
            continue
        rel = np.stack([px - centre[0], py - centre[1]], axis=-1)
        moved = centre + velocity + rel @ step.T
        element_flow = (moved - np.stack([px, py], axis=-1)) * size
        flow[t] = np.where(masks[t][..., None], element_flow, pan * size).astype(np.float32)
    for arr in (frames, masks, flow):
        arr.setflags(write=False)
    return frames, flow, masks
