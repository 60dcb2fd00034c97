"""Rendering of symbolic stimulus descriptions into RGB pixels (numpy masks; PIL for text).

Rendering is a pure function of the attribute dict and the image size: every random choice
(texture seed included) lives in the attributes, so an image can be re-rendered from its
description alone. Positions and sizes are fractions of the image side; ``y`` grows downwards.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "BACKGROUND_RGB",
    "COLOURS",
    "COLOUR_RGB",
    "GLYPHS",
    "SHAPES",
    "background_at",
    "render",
    "scene_at",
]

#: Object / glyph colours (the vocabulary of the colour feature and of the captions).
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "white": (245, 245, 245),
    "purple": (140, 40, 180),
}
COLOURS: tuple[str, ...] = tuple(COLOUR_RGB)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
#: Primary element of the non-object categories, by category.
GLYPHS: dict[str, str] = {"face": "face", "place": "house", "body": "figure", "word": "text"}

#: Muted background colours, far (> 90 RGB units) from every object colour.
BACKGROUND_RGB: dict[str, tuple[int, int, int]] = {
    "grey": (128, 128, 128),
    "black": (25, 25, 25),
    "brown": (105, 75, 50),
    "beige": (205, 190, 155),
    "teal": (40, 100, 105),
}
_SKY = (150, 190, 225)
_GROUND = {"grass": (90, 115, 60), "sand": (190, 165, 120)}
_DARK = (25, 25, 25)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    return centres[None, :], centres[:, None]  # x (1, S), y (S, 1)


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) <= 0.85 * r
    if shape == "triangle":
        return (dy <= 0.8 * r) & (np.abs(dx) <= (dy + r) * 0.62)
    if shape == "star":
        rho = np.sqrt(dx * dx + dy * dy)
        theta = np.arctan2(dy, dx) + np.pi / 2
        return rho <= r * (0.38 + 0.62 * np.abs(np.cos(2.5 * theta)) ** 3)
    if shape == "cross":
        w = r / 3
        ax, ay = np.abs(dx), np.abs(dy)
        return ((ax <= w) & (ay <= r)) | ((ay <= w) & (ax <= r))
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _segment(x: np.ndarray, y: np.ndarray, p: tuple, q: tuple, width: float) -> np.ndarray:
    px, py = p
    vx, vy = q[0] - px, q[1] - py
    t = np.clip(((x - px) * vx + (y - py) * vy) / (vx * vx + vy * vy), 0.0, 1.0)
    ex, ey = x - (px + t * vx), y - (py + t * vy)
    return ex * ex + ey * ey <= width * width


def _background(bg: dict[str, Any], size: int) -> np.ndarray:
    x, y = _grid(size)
    return background_at(bg, x, y)


def background_at(bg: dict[str, Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A background texture evaluated at image points ``x``, ``y`` (fractions of the side).

    ``x`` and ``y`` broadcast to the output's shape (``(..., 3)`` float32 RGB); the texture is
    defined on the whole plane, so a moving camera samples it beyond the image.
    """
    size = np.broadcast_shapes(np.shape(x), np.shape(y))
    base = np.array(BACKGROUND_RGB[bg["colour"]], dtype=np.float32)
    # the second tone is lighter on dark colours, darker on light ones (~30 luminance units)
    tone = base + (38.0 if base.mean() < 90 else -38.0)
    kind = bg["kind"]
    if kind == "plain":
        return np.broadcast_to(base, (*size, 3)).copy()
    theta = np.deg2rad(bg["orientation"])
    u = x * np.cos(theta) + y * np.sin(theta)
    v = -x * np.sin(theta) + y * np.cos(theta)
    if kind == "stripes":
        alt = np.floor(u / bg["period"]) % 2 == 1
    elif kind == "checker":
        alt = (np.floor(u / bg["period"]) + np.floor(v / bg["period"])) % 2 == 1
    elif kind == "noise":
        # oriented noise: random cells elongated along v (the orientation's normal)
        table = np.random.default_rng(bg["texture_seed"]).random((64, 16))
        iu = np.floor((u + 2.0) / bg["period"]).astype(np.int64) % 64
        iv = np.floor((v + 2.0) * 4).astype(np.int64) % 16
        mix = table[iu, iv][..., None].astype(np.float32)
        return (base * (1 - mix) + tone * mix).astype(np.float32)
    else:
        raise ValueError(f"unknown background kind {kind!r}")
    return np.where(alt[..., None], tone, base).astype(np.float32)


def _scene(bg: dict[str, Any], size: int) -> np.ndarray:
    x, y = _grid(size)
    return scene_at(bg, x, y)


def scene_at(bg: dict[str, Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A place scene's sky and ground at image points ``x``, ``y`` (see :func:`background_at`)."""
    shape = np.broadcast_shapes(np.shape(x), np.shape(y))
    ground = np.array(_GROUND[bg["ground"]], dtype=np.float32)
    below = np.broadcast_to(y >= bg["horizon"], shape)
    return np.where(below[..., None], ground, np.array(_SKY, dtype=np.float32))


def _paint(img: np.ndarray, mask: np.ndarray, rgb: tuple[int, int, int]) -> None:
    img[mask] = rgb


def _draw_face(img: np.ndarray, cx: float, cy: float, s: float, rgb: tuple) -> None:
    x, y = _grid(img.shape[0])
    dx, dy = x - cx, y - cy
    _paint(img, (dx / (0.4 * s)) ** 2 + (dy / (0.5 * s)) ** 2 <= 1.0, rgb)
    for side in (-1.0, 1.0):
        ex, ey = dx - side * 0.16 * s, dy + 0.12 * s
        _paint(img, ex * ex + ey * ey <= (0.075 * s) ** 2, _DARK)
    my = dy - 0.02 * s
    ring = np.sqrt(dx * dx + my * my)
    _paint(img, (ring >= 0.2 * s) & (ring <= 0.28 * s) & (my >= 0.1 * s), _DARK)


def _draw_house(img: np.ndarray, cx: float, cy: float, s: float, rgb: tuple) -> None:
    x, y = _grid(img.shape[0])
    dx, dy = x - cx, y - cy  # (cx, cy): centre of the wall; the roof sits above it
    wall = (np.abs(dx) <= 0.3 * s) & (np.abs(dy) <= 0.22 * s)
    roof = (dy < -0.22 * s) & (dy >= -0.5 * s) & (np.abs(dx) <= (dy + 0.5 * s) * 1.3)
    _paint(img, wall | roof, rgb)
    _paint(img, (np.abs(dx) <= 0.06 * s) & (dy >= 0.04 * s) & (dy <= 0.22 * s), _DARK)
    _paint(img, (np.abs(dx - 0.17 * s) <= 0.06 * s) & (np.abs(dy + 0.07 * s) <= 0.06 * s), _DARK)


def _draw_figure(img: np.ndarray, cx: float, cy: float, s: float, rgb: tuple) -> None:
    x, y = _grid(img.shape[0])
    w = max(0.045 * s, 0.75 / img.shape[0])
    head = (x - cx) ** 2 + (y - (cy - 0.36 * s)) ** 2 <= (0.12 * s) ** 2
    neck, hip = (cx, cy - 0.24 * s), (cx, cy + 0.1 * s)
    mask = head | _segment(x, y, neck, hip, w)
    for side in (-1.0, 1.0):
        mask |= _segment(x, y, (cx, cy - 0.15 * s), (cx + side * 0.3 * s, cy + 0.02 * s), w)
        mask |= _segment(x, y, hip, (cx + side * 0.22 * s, cy + 0.5 * s), w)
    _paint(img, mask, rgb)


@lru_cache(maxsize=64)
def _font(pixels: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=pixels)


def _draw_text(img: np.ndarray, cx: float, cy: float, s: float, rgb: tuple, text: str) -> None:
    from PIL import Image, ImageDraw

    size = img.shape[0]
    canvas = Image.new("L", (size, size), 0)
    font = _font(max(6, round(s * size * 0.5)))
    ImageDraw.Draw(canvas).text((cx * size, cy * size), text, fill=255, font=font, anchor="mm")
    _paint(img, np.asarray(canvas) >= 128, rgb)


def render(attrs: dict[str, Any], size: int) -> np.ndarray:
    """Render one stimulus description as a ``(size, size, 3)`` uint8 image.

    Parameters
    ----------
    attrs : dict
        A description as produced by :meth:`StimulusSet.attributes`.
    size : int
        Image side in pixels.
    """
    bg = attrs["background"]
    img = _scene(bg, size) if bg["kind"] == "scene" else _background(bg, size)
    x, y = _grid(size)
    for obj in attrs["objects"]:
        cx, cy = obj["position"]
        s, rgb, shape = obj["size"], COLOUR_RGB[obj["colour"]], obj["shape"]
        if shape in SHAPES:
            _paint(img, _shape_mask(shape, x - cx, y - cy, s / 2), rgb)
        elif shape == "face":
            _draw_face(img, cx, cy, s, rgb)
        elif shape == "house":
            _draw_house(img, cx, cy, s, rgb)
        elif shape == "figure":
            _draw_figure(img, cx, cy, s, rgb)
        elif shape == "text":
            _draw_text(img, cx, cy, s, rgb, attrs["text"])
        else:
            raise ValueError(f"unknown element {shape!r}")
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
