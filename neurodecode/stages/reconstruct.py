"""``neurodecode reconstruct``: images reconstructed from one subject's brain activity.

Inputs: the prepared cache (``--cache``, ``--subject``, ``--space``), a latent-diffusion
pipeline folder from the model registry (``--diffusion``: the shipped ``toy-diffusion``, or a
real unCLIP-style model from a local folder or the Hugging Face cache) and the CLIP whose
image embeddings condition it (``--clip-model``).

Method (Takagi & Nishimoto; Brain-Diffuser; MindEye's selection): two
:class:`~neurodecode.decoders.RidgeDecoder` fits on the training stimuli averaged over their
repeats (folds grouped by stimulus, one alpha per output, predictions re-standardised to the
training targets' statistics): voxels of ``--latent-roi`` -> the VAE latent, voxels of
``--embedding-roi`` -> the CLIP image embedding. The
:class:`~neurodecode.decoders.ReconstructionPipeline` then runs img2img from each predicted
latent (``--strength``), conditioned on the predicted embedding, draws ``--n-samples`` samples
and keeps the one whose CLIP embedding best matches the prediction.

Scores on the test stimuli (repeat-averaged), each with n and a bootstrap CI: PixCorr, SSIM,
2-way identification and correlation distance on each ``--backbones`` network; on a synthetic
release also the colour and category read by the toy CLIP and the true-response 2-way
identification of the simulated brain. With ``--ablations`` the same table is computed for the
latent alone, the embedding alone, a random test image and the mean training image.

Outputs in ``--out``: ``sub-S_desc-recon_results.json`` (metrics per method, chance levels,
the metric card, timings), ``sub-S_desc-recon_images.npz`` (uint8 test images and each
method's reconstructions, stimulus ids, chosen samples) and ``sub-S_desc-recon_decoders/``
(``latent/`` and ``embedding/``: ``RidgeDecoder.load``), each with its JSON sidecar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = ["STAGES", "ReconstructOutputs", "ReconstructStageConfig", "run"]

_DEFAULT_ALPHAS = tuple(np.logspace(-1, 6, 15).tolist())
_BACKBONES = ("toy-clip", "efficientnet-lite0")


@fill_doc
@dataclasses.dataclass(frozen=True)
class ReconstructStageConfig(StageConfig):
    """Settings of ``neurodecode reconstruct``.

    Parameters
    ----------
    subject : str
        %(subject)s
    cache : Path
        %(cache)s
    out : Path
        Output folder.
    space : str or None
        %(space)s
    latent_roi : str or None
        Voxels the latent decoder reads (atlas or label name; default: the prepared brain).
    embedding_roi : str or None
        Voxels the embedding decoder reads (atlas or label name; default: the prepared brain).
    bank_size : int or None
        Images in the bank of the natural-image prior over the latent (0: none; the ridge's
        latent starts img2img; default: 10 per training stimulus, at most 20,000): the
        release's images this subject never saw, then, on a synthetic release, generated ones.
        The latent img2img starts from is their posterior mean given both decoders'
        predictions, under the decoders' out-of-fold noise models.
    prior_temperature : float
        Divides the prior's log-likelihood (1: the posterior itself).
    embeddings : Path or None
        A feature file of predicted CLIP image embeddings of the repeat-averaged test stimuli
        (e.g. ``neurodecode contrastive``'s ``*_desc-contrastive_predictions.h5``) that
        condition the pipeline and select its samples instead of the ridge embedding decoder's
        predictions (which are still scored, as the ``embedding_decoder`` row of the results).
    diffusion : str
        Latent-diffusion pipeline of the model registry (toy-diffusion, or a local folder).
    clip_model : str
        CLIP whose image embeddings condition the pipeline and select its samples.
    backbones : tuple of str
        Networks of the 2-way identification and correlation-distance metrics.
    models_root : Path or None
        Extra folder searched for weights.
    n_splits : int
        Cross-validation folds of both ridges (grouped by stimulus).
    alphas : tuple of float
        Candidate ridge penalties (one is chosen per output).
    strength : float
        Share of the diffusion schedule the predicted latent is noised to (img2img).
    steps : int
        Sampler steps of the whole schedule.
    guidance_scale : float
        Classifier-free guidance scale.
    n_samples : int
        Samples drawn per trial; the best match to the predicted embedding is kept.
    ablations : bool
        Also score the latent alone, the embedding alone, a random image and the mean image.
    n_bootstrap : int
        Bootstrap resamples of every confidence interval.
    n_examples : int
        Test stimuli of each kind (best, median, worst) shown in the report.
    seed : int
        Seeds sampling, the random-image baseline and the bootstrap.
    bf16 : bool
        bfloat16 autocast of the UNet.
    device : str
        Torch device of the networks (cpu, cuda).
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    out: Path = option()
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    latent_roi: str | None = None
    embedding_roi: str | None = None
    embeddings: Path | None = None
    bank_size: int | None = option(None, minimum=0)
    prior_temperature: float = option(1.0, above=0)
    diffusion: str = "toy-diffusion"
    clip_model: str = "toy-clip"
    backbones: tuple[str, ...] = _BACKBONES
    models_root: Path | None = None
    n_splits: int = option(5, minimum=2)
    alphas: tuple[float, ...] = option(_DEFAULT_ALPHAS, above=0)
    strength: float = option(0.6, above=0, maximum=1)
    steps: int = option(20, minimum=1)
    guidance_scale: float = option(3.0, minimum=1)
    n_samples: int = option(2, minimum=1)
    ablations: bool = True
    n_bootstrap: int = option(1000, minimum=1)
    n_examples: int = option(3, minimum=0)
    seed: int = option(0, minimum=0)
    bf16: bool = True
    device: str = "cpu"


@dataclasses.dataclass(frozen=True)
class ReconstructOutputs(StageOutputs):
    """The results file, the images and the fitted decoders."""

    results: Path
    images: Path
    decoders: Path


def _outputs(cfg: ReconstructStageConfig) -> ReconstructOutputs:
    stem = Path(cfg.out) / f"sub-{cfg.subject}_desc-recon"
    return ReconstructOutputs(
        results=Path(f"{stem}_results.json"),
        images=Path(f"{stem}_images.npz"),
        decoders=Path(f"{stem}_decoders"),
    )


def _columns(prep: Any, roi: str | None) -> np.ndarray:
    if roi is None:
        return np.arange(prep.n_voxels)
    if roi not in prep.rois:
        raise ValueError(f"no ROI {roi!r} in the cache; ROIs: {sorted(prep.rois)}")
    cols = np.flatnonzero(prep.rois[roi])
    if cols.size == 0:
        raise ValueError(f"ROI {roi!r} has no voxels in the cache")
    return cols


def run(cfg: ReconstructStageConfig) -> ReconstructOutputs:
    """Fit both decoders, reconstruct the test stimuli, score them; write the outputs."""
    from neurodecode._io import write_json_atomic
    from neurodecode._outputs import StageRun
    from neurodecode.data import load_prepared

    prep = load_prepared(cfg.cache, cfg.subject, cfg.space)
    outputs = _outputs(cfg)
    for roi in (cfg.latent_roi, cfg.embedding_roi):
        _columns(prep, roi)  # bad ROI names fail before any work
    with StageRun(
        "reconstruct",
        cfg,
        outputs.files(),
        [prep.paths.sidecar, *([Path(cfg.embeddings)] if cfg.embeddings else [])],
        seed=cfg.seed,
        device=cfg.device,
        split_hash=prep.split_hash,
    ) as job:
        if job.up_to_date:
            return outputs
        from neurodecode.stages._reconstruct_run import reconstruct_and_score

        result, images, decoders = reconstruct_and_score(cfg, prep, _columns)
        folder = job.path(outputs.decoders, directory=True)
        folder.mkdir(parents=True, exist_ok=True)
        for name, decoder in decoders.items():
            decoder.save(folder / name)
        with open(job.path(outputs.images), "wb") as fh:
            np.savez_compressed(fh, allow_pickle=False, **images)
        write_json_atomic(job.path(outputs.results), result)
        job.record.extra["diffusion"] = cfg.diffusion
        job.record.extra["summary"] = {
            k: v["value"] for k, v in result["methods"]["full"].items() if "value" in v
        }
    return outputs


STAGES = (
    StageSpec(
        "reconstruct",
        "images reconstructed from brain activity (latent diffusion), with the image metrics",
        ReconstructStageConfig,
        run,
        report=lambda out: str(out.results),
    ),
)
