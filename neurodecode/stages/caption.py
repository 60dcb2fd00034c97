"""``neurodecode caption``: captions decoded from one subject's brain activity (GIT).

Inputs: the prepared cache (``--cache``, ``--subject``, ``--space``; ``--roi`` picks the voxel
columns, default the whole prepared brain, which NSD prepares as nsdgeneral) and a GIT
captioner from the model registry (``--captioner``: the shipped ``toy-git``, or
``microsoft/git-base-coco`` from a local folder or the Hugging Face cache).

Method (Brain Captioning, with one multi-output ridge): the captioner's vision tokens (its
image encoder's last hidden state, all tokens x dims) of the training stimuli are the
targets of one :class:`~neurodecode.decoders.RidgeDecoder` from voxels (folds grouped by
stimulus; by default fitted on the training stimuli averaged over their repeats, as
Brain-Diffuser does, and with the targets reduced to ``--n-components`` principal components,
whose kept variance is recorded). By default the tokens given to GIT's text decoder (greedy,
beam search or sampling) are the posterior mean over a natural-image prior
(:class:`~neurodecode.decoders.BankPosterior`): a bank of images this subject never saw (the
release's, then, on a synthetic release, more from its generator), weighted by the ridge's
likelihood under its own out-of-fold noise model. ``--bank-size 0`` gives GIT the
repeat-averaged test stimuli's decoded tokens re-standardised to the training tokens'
statistics instead, as published Brain Captioning does; with the prior on, those captions are
kept too (``brain_without_prior``) as the ablation.

Scores (on a synthetic release also the colour and category each caption names, against the
world's truth, with chance rates): the caption-metric suite (BLEU-1/4, METEOR, ROUGE-L, CIDEr-D,
sentence-embedding cosine, CLIP text cosine, each with n and a bootstrap CI) for the decoded
captions against the stimuli's own captions and against the captioner's caption of the seen
image, the captioner's own score against the stimuli's captions, and brain / image ratios.

Outputs in ``--out``: ``sub-S_desc-caption_results.json`` (per stimulus: decoded caption,
captioner caption, references; metrics; attributes; timings) and ``sub-S_desc-caption_decoder/``
(the fitted decoder: ``RidgeDecoder.load``), each with its JSON sidecar.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = ["STAGES", "CaptionOutputs", "CaptionStageConfig", "run"]

_DEFAULT_ALPHAS = tuple(np.logspace(-2, 6, 17).tolist())
_EMBEDDING_METRICS = ("sentence_cosine", "clip_text_cosine")
_METRICS = ("bleu1", "bleu4", "meteor", "rouge_l", "cider", *_EMBEDDING_METRICS)


@fill_doc
@dataclasses.dataclass(frozen=True)
class CaptionStageConfig(StageConfig):
    """Settings of ``neurodecode caption``.

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
    roi : str or None
        Voxel columns used (atlas or label name in the cache; default: the whole prepared brain).
    captioner : str
        GIT captioner of the model registry (toy-git, microsoft/git-base-coco).
    models_root : Path or None
        Extra folder searched for weights.
    n_components : int or None
        Principal components the vision-token targets are reduced to (None: every output).

        Capped at the number of training samples and of outputs.
    average_train_repeats : bool
        Fit on training stimuli averaged over their repeats (else on single trials).
    n_splits : int
        Cross-validation folds of the ridge (grouped by stimulus).
    alphas : tuple of float
        Candidate ridge penalties (one is chosen per output).
    num_beams : int
        Beam-search width of the text decoder (1: greedy).
    do_sample : bool
        Sample captions instead of searching (with temperature and top-p).
    temperature : float
        Sampling temperature.
    top_p : float
        Nucleus-sampling mass.
    max_new_tokens : int
        Longest caption, in tokens.
    metrics : tuple of str
        Caption metrics computed (default: all; see neurodecode.metrics.TEXT_METRICS + cosines).
    sentence_model : str
        Sentence embedder of the sentence-cosine metric (a registry name).
    clip_model : str
        CLIP whose text tower gives the CLIP text cosine (a registry name).
    bank_size : int or None
        Images in the bank of the natural-image prior (0: no prior; the re-standardised
        prediction is captioned; default: 10 per training stimulus, at most 20,000). The bank
        is the release's images this subject never saw, then, on a synthetic release, images
        its generator makes beyond the pool. Its vision tokens are computed once per run.
    prior_temperature : float
        Divides the prior's log-likelihood (1: the posterior itself).
    n_bootstrap : int
        Bootstrap resamples of every confidence interval.
    n_examples : int
        Test stimuli shown in the report.
    seed : int
        Seeds sampling, the bootstrap and the example choice.
    device : str
        Torch device of the captioner and the embedders (cpu, cuda).
    """

    subject: str = option(pattern=r"[A-Za-z0-9]+")
    cache: Path = option()
    out: Path = option()
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    roi: str | None = None
    captioner: str = "toy-git"
    models_root: Path | None = None
    n_components: int | None = option(512, minimum=1)
    average_train_repeats: bool = True
    n_splits: int = option(5, minimum=2)
    alphas: tuple[float, ...] = option(_DEFAULT_ALPHAS, above=0)
    num_beams: int = option(1, minimum=1)
    do_sample: bool = False
    temperature: float = option(1.0, above=0)
    top_p: float = option(1.0, above=0, maximum=1)
    max_new_tokens: int = option(30, minimum=1)
    metrics: tuple[str, ...] = option(_METRICS, choices=_METRICS)
    sentence_model: str = "all-MiniLM-L6-v2"
    clip_model: str = "toy-clip"
    bank_size: int | None = option(None, minimum=0)
    prior_temperature: float = option(1.0, above=0)
    n_bootstrap: int = option(1000, minimum=1)
    n_examples: int = option(8, minimum=0)
    seed: int = option(0, minimum=0)
    device: str = "cpu"

    def generation(self) -> dict[str, Any]:
        """Options of :func:`neurodecode.decoders.caption_vision_tokens`."""
        return {"num_beams": self.num_beams, "do_sample": self.do_sample,
                "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens, "seed": self.seed}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CaptionOutputs(StageOutputs):
    """The results file and the fitted decoder."""

    results: Path
    decoder: Path


def _outputs(cfg: CaptionStageConfig) -> CaptionOutputs:
    stem = Path(cfg.out) / f"sub-{cfg.subject}_desc-caption"
    return CaptionOutputs(results=Path(f"{stem}_results.json"), decoder=Path(f"{stem}_decoder"))


def _columns(cfg: CaptionStageConfig, prep: Any) -> np.ndarray:
    if cfg.roi is None:
        return np.arange(prep.n_voxels)
    if cfg.roi not in prep.rois:
        raise ValueError(f"no ROI {cfg.roi!r} in the cache; ROIs: {sorted(prep.rois)}")
    return np.flatnonzero(prep.rois[cfg.roi])


def _training_data(cfg: CaptionStageConfig, prep: Any) -> tuple[np.ndarray, np.ndarray]:
    """Training voxels (averaged per stimulus, or single trials) and their stimulus ids."""
    if cfg.average_train_repeats:
        X, ids = prep.select(roi=cfg.roi, split="train", average_repeats=True)
        return np.asarray(X, np.float32), np.asarray(ids, np.int64)
    rows = prep.split("train")
    view = prep.rows(rows, _columns(cfg, prep))
    X = np.asarray(view[np.arange(len(view))], np.float32)
    return X, prep.trials["stim_id"].to_numpy()[rows].astype(np.int64)


def run(cfg: CaptionStageConfig) -> CaptionOutputs:
    """Fit the decoder, caption the test stimuli, score them; write the results and decoder."""
    from neurodecode._io import write_json_atomic
    from neurodecode._outputs import StageRun
    from neurodecode.data import load_prepared

    prep = load_prepared(cfg.cache, cfg.subject, cfg.space)
    outputs = _outputs(cfg)
    with StageRun(
        "caption", cfg, outputs.files(), [prep.paths.sidecar], seed=cfg.seed,
        device=cfg.device, split_hash=prep.split_hash,
    ) as job:  # fmt: skip
        if job.up_to_date:
            return outputs
        result, decoder = _decode_and_score(cfg, prep)
        decoder.save(job.path(outputs.decoder, directory=True))
        write_json_atomic(job.path(outputs.results), result)
        job.record.extra["captioner"] = cfg.captioner
        job.record.extra["attributes"] = {
            k: result["attributes"]["brain"][k]["value"]
            for k in ("colour", "category")
            if "attributes" in result
        }
    return outputs


def _decode_and_score(cfg: CaptionStageConfig, prep: Any) -> tuple[dict[str, Any], Any]:
    import torch

    from neurodecode.decoders import BrainCaptionPipeline, RidgeDecoder, vision_tokens
    from neurodecode.decoders._caption import caption_vision_tokens
    from neurodecode.models import load_model

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    X_train, train_ids = _training_data(cfg, prep)
    X_test, test_ids = prep.select(roi=cfg.roi, split="test", average_repeats=True)
    test_ids = np.asarray(test_ids, np.int64)
    timings["read_voxels"] = time.perf_counter() - t0

    t = time.perf_counter()
    captioner = load_model(cfg.captioner, device=cfg.device, root=cfg.models_root)
    model, processor = captioner.model, captioner.tokenizer
    unique = np.unique(np.concatenate([train_ids, test_ids]))
    with torch.no_grad():
        tokens = vision_tokens(model, processor, prep.stimuli.images(unique))
    row = {int(s): k for k, s in enumerate(unique)}
    flat = tokens.reshape(len(unique), -1)
    timings["vision_tokens"] = time.perf_counter() - t

    t = time.perf_counter()
    from neurodecode.decoders import RowIndexedTargets

    targets = RowIndexedTargets(flat, [row[int(s)] for s in train_ids])
    k = None if cfg.n_components is None else min(cfg.n_components, *targets.shape)
    decoder = RidgeDecoder(alphas=cfg.alphas, n_splits=cfg.n_splits, n_components=k)
    decoder.fit(X_train, targets, groups=train_ids)
    timings["fit_decoder"] = time.perf_counter() - t

    from neurodecode.synth import prepared_truth

    truth = prepared_truth(prep, cfg.subject)
    prior, prior_info = None, None
    if cfg.bank_size is None:
        from neurodecode.stages._bank import default_bank_size

        cfg = dataclasses.replace(cfg, bank_size=default_bank_size(train_ids))
    if cfg.bank_size:
        t = time.perf_counter()
        train_targets = flat[[row[int(s)] for s in train_ids]]

        def tokens_of(images: np.ndarray) -> np.ndarray:
            return vision_tokens(model, processor, images)

        prior, prior_info = _prior(cfg, prep, decoder, X_train, train_targets, train_ids,
                                   truth, tokens_of)  # fmt: skip
        timings["prior_calibration"] = time.perf_counter() - t

    t = time.perf_counter()
    plain = BrainCaptionPipeline(decoder, model, processor)(X_test, **cfg.generation())
    decoded = plain
    if prior is not None:
        decoded = BrainCaptionPipeline(decoder, model, processor, prior=prior)(
            X_test, **cfg.generation()
        )
        assert prior_info is not None and decoded.prior is not None
        prior_info.update(decoded.prior)
    test_tokens = tokens[[row[int(s)] for s in test_ids]]
    seen = caption_vision_tokens(model, processor, test_tokens, **cfg.generation())
    timings["captions"] = time.perf_counter() - t

    t = time.perf_counter()
    references = [list(c) for c in prep.stimuli.captions([int(s) for s in test_ids])]
    result: dict[str, Any] = {
        "subject": cfg.subject,
        "captioner": cfg.captioner,
        "captioner_weights_sha256": captioner.weights_sha256,
        "roi": cfg.roi,
        "split_hash": prep.split_hash,
        "n_voxels": int(X_test.shape[1]),
        "n_train": len(X_train),
        "n_test": len(test_ids),
        "vision_tokens": list(tokens.shape[1:]),
        "decoder": _decoder_summary(decoder, X_test, test_tokens.reshape(len(test_ids), -1)),
        "generation": cfg.generation(),
        "prior": prior_info,
    }
    result["metrics"] = _metrics(cfg, decoded.captions, seen, references)
    result["captions"] = [
        {"stim_id": int(s), "brain": b, "captioner": c, "references": list(r)}
        for s, b, c, r in zip(test_ids, decoded.captions, seen, references, strict=True)
    ]
    if prior is not None:
        for entry, p in zip(result["captions"], plain.captions, strict=True):
            entry["brain_without_prior"] = p
    if truth is not None:
        from neurodecode.decoders._caption_eval import attribute_accuracy

        attrs = truth.attributes(test_ids)
        for entry, a in zip(result["captions"], attrs, strict=True):
            entry["truth"] = {"colour": a["main_colour"], "category": a["category"]}
        result["attributes"] = {
            "brain": attribute_accuracy(decoded.captions, attrs),
            "captioner": attribute_accuracy(seen, attrs),
        }
        if prior is not None:
            result["attributes"]["brain_without_prior"] = attribute_accuracy(plain.captions, attrs)
    n_ex = min(cfg.n_examples, len(test_ids))
    pick = np.random.default_rng(cfg.seed).choice(len(test_ids), size=n_ex, replace=False)
    result["examples"] = sorted(int(k) for k in pick)
    timings["metrics"] = time.perf_counter() - t
    result["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    return result, decoder


def _prior(
    cfg: CaptionStageConfig, prep: Any, decoder: Any, X_train: np.ndarray, targets: Any,
    train_ids: np.ndarray, truth: Any, tokens_of: Any,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """The natural-image prior: the decoder's out-of-fold noise model and the bank's tokens."""
    from neurodecode.decoders import BankPosterior, fit_noise_model, out_of_fold_scores

    pred, true = out_of_fold_scores(decoder, X_train, targets, groups=train_ids,
                                    n_splits=cfg.n_splits, seed=cfg.seed)  # fmt: skip
    noise = fit_noise_model(pred, true)
    from neurodecode.stages._bank import bank_image_chunks

    loaders, sources = bank_image_chunks(prep, truth, int(cfg.bank_size or 0), cfg.subject)

    def bank() -> Any:  # tokens chunk by chunk, as the posterior reads them: never held whole
        return (tokens_of(load()).reshape(-1, decoder.n_outputs_) for load in loaders)

    info = {"noise_model": noise.as_dict(), "sources": sources, "n_splits": cfg.n_splits}
    return BankPosterior(decoder, noise, bank, cfg.prior_temperature), info


def _decoder_summary(decoder: Any, X_test: np.ndarray, test_tokens: np.ndarray) -> dict:
    """How well the decoder predicts the test stimuli's vision tokens (before generation)."""
    from neurodecode.metrics import pearson_r_voxels

    pred = decoder.predict_raw(X_test)  # r is unchanged by the per-output re-standardisation
    r = pearson_r_voxels(test_tokens, pred)
    return {
        "n_components": decoder.n_components,
        "explained_variance_ratio": float(decoder.explained_variance_ratio_),
        "form": decoder.ridge_.form_,
        "median_alpha": float(np.median(decoder.ridge_.best_alphas_)),
        "test_r_mean": float(np.nanmean(r)),
        "test_r_median": float(np.nanmedian(r)),
    }


def _metrics(
    cfg: CaptionStageConfig, brain: list[str], seen: list[str], refs: list[list[str]]
) -> dict[str, Any]:
    from neurodecode.decoders._caption_eval import score_captions
    from neurodecode.features import get_extractor

    root = str(cfg.models_root) if cfg.models_root else None
    names = {"sentence_cosine": cfg.sentence_model, "clip_text_cosine": f"{cfg.clip_model}-text"}
    embedders = {
        metric: get_extractor(names[metric], device=cfg.device, root=root)
        for metric in _EMBEDDING_METRICS
        if metric in cfg.metrics
    }
    text = [m for m in cfg.metrics if m not in _EMBEDDING_METRICS]
    return score_captions(brain, seen, refs, embedders, metrics=text,
                          n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)  # fmt: skip


STAGES = (
    StageSpec(
        "caption",
        "captions decoded from brain activity (GIT), with the caption metrics",
        CaptionStageConfig,
        run,
        report=lambda out: str(out.results),
    ),
)
