"""COCO-style captions from templates with synonyms.

Every caption names the image's category with one fixed word (:data:`CATEGORY_WORDS`; for
objects the main object's shape word) and the main element's colour word, so a text encoder
trained on the captions can learn colour, shape and category.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = [
    "CATEGORIES",
    "CATEGORY_WORDS",
    "N_CAPTIONS",
    "WORDS",
    "make_captions",
    "named_attributes",
]

CATEGORIES: tuple[str, ...] = ("object", "face", "place", "body", "word")
#: The word each caption of a category contains (objects use their main shape word instead).
CATEGORY_WORDS: dict[str, str] = {
    "face": "face",
    "place": "house",
    "body": "figure",
    "word": "word",
}
#: Texts rendered in word images; none is a colour, shape or category word.
WORDS: tuple[str, ...] = (
    "cat", "dog", "sun", "map", "car", "boat", "lamp", "fish", "bird", "cup", "key", "hat",
)  # fmt: skip
N_CAPTIONS = 5

_A = ("A", "A", "One")
_PICTURE = ("A picture of", "An image of", "A drawing of", "A simple illustration of")
_SMALL = ("small", "little", "tiny")
_ON = ("on", "against", "over")
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "object": (
        "{a} {colour} {shape} {on} a {bg} background{others}.",
        "{picture} a {colour} {shape}{others}.",
        "There is a {colour} {shape} {where} of the image{others}.",
        "A {size} {colour} {shape} {on} a {bg} backdrop.",
        "{a} {colour} {shape}{others} {on} a {bgkind} {bg} background.",
        "The {colour} {shape} sits {where} of the picture.",
        "A flat {colour} {shape} shape {on} {bgkind} {bg}.",
    ),
    "face": (
        "{a} {colour} cartoon face {on} a {bg} background.",
        "{picture} a smiling {colour} face.",
        "A simple {colour} face with two eyes and a mouth.",
        "There is a {colour} face {where} of the image.",
        "A {colour} smiley face {on} a {bgkind} {bg} backdrop.",
        "A round {colour} face looking at the viewer.",
    ),
    "place": (
        "{a} {colour} house standing on the {ground} under a pale sky.",
        "{picture} a {colour} house in a landscape.",
        "A small {colour} house with a roof and a door.",
        "An outdoor scene with a {colour} house on the horizon.",
        "A {colour} house {where} of the scene, with {ground} below.",
        "A landscape showing a {colour} house and the sky.",
    ),
    "body": (
        "{a} {colour} stick figure of a person {on} a {bg} background.",
        "{picture} a {colour} stick figure.",
        "A {colour} figure of a person with arms and legs.",
        "There is a {colour} human figure {where} of the image.",
        "A standing {colour} figure {on} a {bgkind} {bg} backdrop.",
        "A person drawn as a simple {colour} figure.",
    ),
    "word": (
        'The word "{text}" written in {colour} letters.',
        '{picture} the {colour} word "{text}".',
        'A {colour} word, "{text}", {on} a {bg} background.',
        'The text "{text}" shown as a {colour} word {where} of the image.',
        'A single {colour} word reading "{text}".',
        'A {colour} printed word "{text}" {on} a {bgkind} {bg} backdrop.',
    ),
}
_BGKIND = {"plain": "plain", "stripes": "striped", "checker": "checkered", "noise": "mottled"}


def _where(position: list[float]) -> str:
    x, y = position
    vert = "top" if y < 0.4 else "bottom" if y > 0.6 else ""
    horiz = "left" if x < 0.4 else "right" if x > 0.6 else ""
    if vert and horiz:
        return f"in the {vert} {horiz} part"
    if vert or horiz:
        return f"in the {vert or horiz} part"
    return "in the centre"


def make_captions(attrs: dict[str, Any], rng: np.random.Generator) -> list[str]:
    """Five distinct captions of one stimulus description.

    Parameters
    ----------
    attrs : dict
        A stimulus description (see :meth:`StimulusSet.attributes`).
    rng : numpy.random.Generator
        Source of template and synonym choices.
    """
    category = attrs["category"]
    main = attrs["objects"][0]
    bg = attrs["background"]
    others = ""
    if category == "object" and len(attrs["objects"]) > 1:
        parts = [f"a {rng.choice(_SMALL)} {o['colour']} {o['shape']}" for o in attrs["objects"][1:]]
        others = " and " + " and ".join(parts)
    slots = {
        "colour": main["colour"],
        "shape": main["shape"],
        "where": _where(main["position"]),
        "bg": bg.get("colour", ""),
        "bgkind": _BGKIND.get(bg["kind"], ""),
        "ground": bg.get("ground", ""),
        "text": attrs.get("text", ""),
        "size": "large" if main["size"] > 0.4 else "medium-sized",
        "others": others,
    }
    templates = list(_TEMPLATES[category])
    if bg["kind"] == "plain":
        templates = [t for t in templates if "{bgkind}" not in t]
    order = rng.permutation(len(templates))[:N_CAPTIONS]
    captions = []
    for k in order:
        filled = templates[k].format(
            a=rng.choice(_A), picture=rng.choice(_PICTURE), on=rng.choice(_ON), **slots
        )
        captions.append(" ".join(filled.split()))
    return captions


def named_attributes(caption: str) -> dict[str, str | None]:
    """The colour, shape and category a caption names (the inverse of the templates' slots).

    Every template names the main element's colour before any other colour word, and its
    category word (a shape word for objects) before any other category word, so the first
    colour word and the first category word are what the caption says about the main element.
    Captions of other origins (a captioner's, a decoder's) are read the same way.

    Returns
    -------
    dict
        ``colour`` (one of ``COLOURS``), ``shape`` (one of ``SHAPES``: the first shape word)
        and ``category`` (one of ``CATEGORIES``); ``None`` where the caption names none.
    """
    from neurodecode.synth._glyphs import COLOURS, SHAPES

    words = re.findall(r"[a-z]+", caption.lower())
    category_of = {w: c for c, w in CATEGORY_WORDS.items()} | {s: "object" for s in SHAPES}
    return {
        "colour": next((w for w in words if w in COLOURS), None),
        "shape": next((w for w in words if w in SHAPES), None),
        "category": next((category_of[w] for w in words if w in category_of), None),
    }
