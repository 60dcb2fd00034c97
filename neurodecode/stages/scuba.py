"""``neurodecode scuba``: a caption for every voxel's selectivity (BrainSCUBA).

Two commands:

``neurodecode image-bank``
    Embeds an image bank with a CLIP image tower (``--model``, the one the encoder was fitted
    on) through the feature machinery: a resumable HDF5 feature file keyed by id, stored in
    chunks of ``--chunk-rows`` rows so the projection reads it block by block. The images are
    either the synthetic world's generated images beyond its pool, which no subject saw
    (``--world RELEASE --size N``; ids from the pool's size on), or every image under a folder
    (``--images DIR``; ids 0.. in sorted path order). Beside it, ``<bank>_images.tsv`` says
    what each id is (its path, or its generator attributes).

``neurodecode scuba --subject S``
    For each voxel of the prepared brain, the unit weight vector of the subject's CLIP-image
    ridge encoder (``--encoder``, written by ``neurodecode encode``) is projected onto the
    bank(s): the softmax (temperature ``--temperature``, 150 as published) of its cosines with
    every bank embedding weights their mean (:func:`~neurodecode.decoders.project_onto_bank`,
    one streaming pass). A CLIP-prefix captioner (``--captioner``: the shipped
    ``toy-clipcap``, or ``clipcap-coco`` with real CLIP and GPT-2 weights) captions each
    projection; spaCy tags the captions' nouns and adjectives.

Outputs in ``--out``:

* ``sub-S_desc-scuba_captions.tsv``: per voxel, its column, i j k, ROI label and atlas, the
  caption, its nouns and adjectives, the projection's effective bank size and top bank id;
* ``sub-S_desc-scuba_words.tsv``: per ROI label and atlas (and all voxels), the most frequent
  nouns and adjectives with counts and the share of voxels;
* ``sub-S_space-X_desc-scuba_wordmaps.nii.gz``: a 4D 0/1 map, one volume per word of
  ``--map-words`` in that order, of the voxels whose caption contains the word;
* ``sub-S_desc-scuba_results.json``: settings, bank, projection diagnostics, examples, the
  per-ROI summaries and, on a synthetic release, the check against the truth (category ROIs'
  tuned voxels naming their category, colour voxels naming their preferred colour, chance
  rates) for the projection and for the ablations (the raw direction captioned without the
  projection; ``--ablation-temperatures``);

each with its JSON sidecar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = ["STAGES", "ScubaBankConfig", "ScubaBankOutputs", "ScubaConfig", "ScubaOutputs"]

#: Words mapped by default: the synthetic world's category words and palette colours.
DEFAULT_MAP_WORDS: tuple[str, ...] = (
    "face", "house", "figure", "word", "red", "green", "blue", "yellow", "white", "purple",
)  # fmt: skip


@fill_doc
@dataclasses.dataclass(frozen=True)
class ScubaBankConfig(StageConfig):
    """Settings of ``neurodecode image-bank``.

    Parameters
    ----------
    out : Path
        The bank's feature file (``.h5``).
    world : Path or None
        A synthetic release whose generator draws the bank (images beyond its pool).
    size : int
        Generated images in the bank (with ``--world``).
    images : Path or None
        A folder of images (png, jpg, jpeg, bmp, webp; searched recursively) to embed instead.
    model : str
        CLIP image tower of the feature registry (the encoder's feature space).
    models_root : Path or None
        Extra folder searched for weights.
    batch_size : int
        Images embedded per batch.
    chunk_rows : int
        Rows per HDF5 chunk of the feature file (the projection reads one chunk at a time).
    device : str
        %(device)s
    progress : bool
        Show a progress bar.
    """

    out: Path = option()
    world: Path | None = None
    size: int = option(100_000, minimum=1)
    images: Path | None = None
    model: str = "toy-clip"
    models_root: Path | None = None
    batch_size: int = option(256, minimum=1)
    chunk_rows: int = option(16_384, minimum=1)
    device: str = "cpu"
    progress: bool = True


@dataclasses.dataclass(frozen=True)
class ScubaBankOutputs(StageOutputs):
    """The bank's feature file and what each of its ids is."""

    bank: Path
    images: Path


@fill_doc
@dataclasses.dataclass(frozen=True)
class ScubaConfig(StageConfig):
    """Settings of ``neurodecode scuba``.

    Parameters
    ----------
    subject : str
        %(subject)s
    cache : Path
        %(cache)s
    encoder : Path
        The subject's CLIP-image ridge encoder folder (``neurodecode encode``'s ``_model``).
    bank : tuple of Path
        Bank feature files (``neurodecode image-bank``), read in order as one bank.
    out : Path
        Output folder.
    space : str or None
        %(space)s
    captioner : str
        CLIP-prefix captioner of the model registry (toy-clipcap, clipcap-coco).
    models_root : Path or None
        Extra folder searched for weights.
    temperature : float
        Softmax temperature of the projection (150 as published).
    ablations : bool
        Also caption the raw weight directions and the projections at the ablation temperatures.
    ablation_temperatures : tuple of float
        Other temperatures captioned as ablations.
    num_beams : int
        Beam-search width of the captioner (1: greedy).
    max_new_tokens : int
        Longest caption, in tokens.
    map_words : tuple of str
        Words given a NIfTI map of the voxels whose caption contains them.
    n_top_words : int
        Nouns and adjectives kept per ROI in the word table.
    n_examples : int
        Voxels per category ROI whose captions the report shows.
    voxel_batch : int
        Voxels projected at once (memory: voxel batch x bank chunk floats).
    n_bootstrap : int
        Bootstrap resamples of the confidence intervals (unused by the projection itself).
    seed : int
        Seeds the choice of example voxels.
    device : str
        %(device)s
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    encoder: Path = option()
    bank: tuple[Path, ...] = option()
    out: Path = option()
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    captioner: str = "toy-clipcap"
    models_root: Path | None = None
    temperature: float = option(150.0, above=0)
    ablations: bool = True
    ablation_temperatures: tuple[float, ...] = option((50.0, 500.0), above=0)
    num_beams: int = option(1, minimum=1)
    max_new_tokens: int = option(20, minimum=1)
    map_words: tuple[str, ...] = option(DEFAULT_MAP_WORDS, pattern=r"[a-z]+")
    n_top_words: int = option(10, minimum=1)
    n_examples: int = option(4, minimum=0)
    voxel_batch: int = option(1024, minimum=1)
    n_bootstrap: int = option(1000, minimum=1)
    seed: int = option(0, minimum=0)
    device: str = "cpu"


@dataclasses.dataclass(frozen=True)
class ScubaOutputs(StageOutputs):
    """The voxel captions, the per-ROI word table, the word maps and the results file."""

    captions: Path
    words: Path
    wordmaps: Path
    results: Path


def bank_outputs(cfg: ScubaBankConfig) -> ScubaBankOutputs:
    """Where ``image-bank`` writes."""
    bank = Path(cfg.out)
    return ScubaBankOutputs(bank=bank, images=bank.with_name(bank.stem + "_images.tsv"))


def scuba_outputs(cfg: ScubaConfig, space: str) -> ScubaOutputs:
    """Where ``scuba`` writes for a subject in grid ``space``."""
    stem = Path(cfg.out) / f"sub-{cfg.subject}"
    return ScubaOutputs(
        captions=Path(f"{stem}_desc-scuba_captions.tsv"),
        words=Path(f"{stem}_desc-scuba_words.tsv"),
        wordmaps=Path(f"{stem}_space-{space}_desc-scuba_wordmaps.nii.gz"),
        results=Path(f"{stem}_desc-scuba_results.json"),
    )


def run_bank(cfg: ScubaBankConfig) -> ScubaBankOutputs:
    """Embed the bank (or find it current)."""
    from neurodecode.stages._scuba_run import build_bank

    return build_bank(cfg, bank_outputs(cfg))


def run(cfg: ScubaConfig) -> ScubaOutputs:
    """Project, caption and tag every voxel; write the tables, maps and results."""
    from neurodecode.stages._scuba_run import caption_voxels

    return caption_voxels(cfg, lambda space: scuba_outputs(cfg, space))


STAGES = (
    StageSpec(
        "image-bank",
        "embed an image bank for BrainSCUBA (chunked HDF5 by id)",
        ScubaBankConfig,
        run_bank,
    ),
    StageSpec(
        "scuba",
        "caption every voxel's selectivity (BrainSCUBA), with word maps and ROI summaries",
        ScubaConfig,
        run,
        report=lambda out: str(out.results),
    ),
)
