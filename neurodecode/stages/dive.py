"""``neurodecode dive``: images synthesised to drive chosen ROIs (BrainDiVE).

Inputs: the prepared cache (``--cache``, ``--subject``, ``--space``), the subject's CLIP-image
ridge encoder (``--encoder``, written by ``neurodecode encode`` on the features of
``--clip-model``), and a latent-diffusion pipeline folder of the model registry
(``--diffusion``: the shipped ``toy-diffusion``, or Stable Diffusion 2.1-base from a local
folder or the Hugging Face cache).

Method (Luo et al., 2023): the frozen CLIP image tower and the encoder's linear readout form a
differentiable voxel encoder (:class:`~neurodecode.decoders.ImageVoxelEncoder`). For each
target, the :class:`~neurodecode.decoders.BrainGuidedDiffusionPipeline` samples from the
unconditioned model while, at every guided step, the gradient of the target's predicted mean
response (through the VAE decoding of the x0 estimate, the tower and the readout) steers the
noise prediction, scaled by ``--guidance-scale`` and ``sqrt(1 - alpha_bar_t)``. It draws
``--num-candidates`` samples and keeps the ``--num-images`` the encoder predicts highest. The
targets are each ``--roi`` (the mean of its voxels) and, with ``--contrast B``, the first ROI
minus ``B`` (the mean of A minus the mean of B). With ``--control`` every target is also
sampled at guidance scale 0 from the same seeds: the unguided model.

Scores, each with n and a bootstrap CI: the encoder's predicted score of the kept images, and
the ROI's measured responses to the natural stimuli that drive it most (repeat-averaged
betas). On a synthetic release also the simulated brain's true (noise-free) response to every
image, the 90th percentile of the true responses to the subject's natural stimuli, and the
share of images the toy CLIP reads as the category the ROI's voxels are tuned to.

Outputs in ``--out``: ``sub-S_desc-dive_results.json`` (settings, per-target scores for the
guided samples, the control and the natural stimuli, timings) and ``sub-S_desc-dive_images.npz``
(per target: the kept images, their predicted and true scores, the control's, the top natural
stimuli's ids), each with its JSON sidecar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = ["STAGES", "DiveOutputs", "DiveStageConfig", "run"]

#: The demo's targets: the synthetic world's (and NSD's) main face, place, body and word ROIs.
DEFAULT_ROIS: tuple[str, ...] = ("FFA-1", "PPA", "EBA", "VWFA-1")


@fill_doc
@dataclasses.dataclass(frozen=True)
class DiveStageConfig(StageConfig):
    """Settings of ``neurodecode dive``.

    Parameters
    ----------
    subject : str
        %(subject)s
    cache : Path
        %(cache)s
    encoder : Path
        The subject's CLIP-image ridge encoder folder (``neurodecode encode``'s ``_model``).
    out : Path
        Output folder.
    space : str or None
        %(space)s
    roi : tuple of str
        ROI labels (or atlas names) driven, one target each (``A,B`` or ``A B``).
    contrast : str or None
        Also drive the first ROI minus this one (voxels in both count in neither).
    diffusion : str
        Latent-diffusion pipeline of the model registry (toy-diffusion, or a local folder).
    clip_model : str
        CLIP image tower the encoder was fitted on (toy-clip, or an open_clip name).
    models_root : Path or None
        Extra folder searched for weights.
    num_images : int
        Images kept per target (the highest predicted of the candidates).
    num_candidates : int
        Samples drawn per target.
    steps : int
        Sampler steps.
    guidance_scale : float
        Scale of the guidance term (0: no guidance).
    normalize_gradient : bool
        Rescale each image's gradient to unit RMS before the update (the scale then does not
        depend on the readout's units).
    guidance_stop : float
        Guide the first part of the steps only (1: every step).
    views : int
        Random crops and flips of the decoded image scored per guided step (1: the image).
    gradient_through_unet : bool
        Differentiate the x0 estimate through the UNet (False: the noise prediction is held
        constant, about a quarter cheaper).
    control : bool
        Also sample every target at guidance scale 0 from the same seeds.
    n_natural : int
        Natural stimuli per target shown and scored (those whose measured response is highest).
    batch_size : int
        Samples denoised together.
    n_bootstrap : int
        Bootstrap resamples of every confidence interval.
    seed : int
        Seeds the noise, the views and the bootstrap.
    bf16 : bool
        bfloat16 autocast of the networks' forward passes.
    device : str
        %(device)s
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    encoder: Path = option()
    out: Path = option()
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    roi: tuple[str, ...] = option(DEFAULT_ROIS, pattern=r"[A-Za-z0-9_.,-]+")
    contrast: str | None = option(None, pattern=r"[A-Za-z0-9_.-]+")
    diffusion: str = "toy-diffusion"
    clip_model: str = "toy-clip"
    models_root: Path | None = None
    num_images: int = option(16, minimum=1)
    num_candidates: int = option(64, minimum=1)
    steps: int = option(50, minimum=1)
    guidance_scale: float = option(0.3, minimum=0)
    normalize_gradient: bool = True
    guidance_stop: float = option(0.75, above=0, maximum=1)
    views: int = option(4, minimum=1)
    gradient_through_unet: bool = True
    control: bool = True
    n_natural: int = option(8, minimum=1)
    batch_size: int = option(16, minimum=1)
    n_bootstrap: int = option(1000, minimum=1)
    seed: int = option(0, minimum=0)
    bf16: bool = False
    device: str = "cpu"


@dataclasses.dataclass(frozen=True)
class DiveOutputs(StageOutputs):
    """The results file and the images."""

    results: Path
    images: Path


def dive_outputs(cfg: DiveStageConfig) -> DiveOutputs:
    """Where ``dive`` writes."""
    stem = Path(cfg.out) / f"sub-{cfg.subject}_desc-dive"
    return DiveOutputs(results=Path(f"{stem}_results.json"), images=Path(f"{stem}_images.npz"))


def roi_names(cfg: DiveStageConfig) -> list[str]:
    """The ``--roi`` labels, commas split, in order, each once."""
    names: list[str] = []
    for item in cfg.roi:
        names += [n for n in item.split(",") if n and n not in names]
    return names


def run(cfg: DiveStageConfig) -> DiveOutputs:
    """Synthesise images for every target, score them; write the outputs."""
    from neurodecode._io import write_json_atomic
    from neurodecode._outputs import StageRun
    from neurodecode.data import load_prepared
    from neurodecode.stages._contract import ConfigError
    from neurodecode.stages._dive_run import check_targets, load_voxel_encoder, synthesise

    if cfg.num_candidates < cfg.num_images:
        raise ConfigError(f"dive: --num-candidates ({cfg.num_candidates}) must be at least "
                          f"--num-images ({cfg.num_images})")  # fmt: skip
    prep = load_prepared(cfg.cache, cfg.subject, cfg.space)
    outputs = dive_outputs(cfg)
    names = roi_names(cfg)
    check_targets(prep, names, cfg.contrast)  # bad ROI names fail before any work
    encoder = load_voxel_encoder(cfg, prep.n_voxels)  # a bad encoder folder fails early too
    with StageRun(
        "dive",
        cfg,
        outputs.files(),
        [prep.paths.sidecar, Path(cfg.encoder)],
        seed=cfg.seed,
        device=cfg.device,
        split_hash=prep.split_hash,
    ) as job:
        if job.up_to_date:
            return outputs
        import numpy as np

        result, arrays = synthesise(cfg, prep, encoder, names)
        with open(job.path(outputs.images), "wb") as fh:
            np.savez_compressed(fh, allow_pickle=False, **arrays)
        write_json_atomic(job.path(outputs.results), result)
        job.record.extra["diffusion"] = cfg.diffusion
        job.record.extra["targets"] = [t["name"] for t in result["targets"]]
    return outputs


STAGES = (
    StageSpec(
        "dive",
        "images synthesised to drive chosen ROIs (BrainDiVE), scored by the encoder and truth",
        DiveStageConfig,
        run,
        report=lambda out: str(out.results),
    ),
)
