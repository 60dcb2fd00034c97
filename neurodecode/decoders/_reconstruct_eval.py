"""Scores of image reconstructions: the metric suite on named backbones, with a metric card.

The array metrics are :mod:`neurodecode.metrics` (PixCorr, SSIM, 2-way identification,
correlation distance); this module runs the networks that embed images (feature extractors of
:mod:`neurodecode.features`, any registry name) and records in a metric card exactly what
each figure is: definition, image size, backbone, layer and weights sha256. On a synthetic
release two more read-outs come from the world's truth: the colour and category of each
reconstruction read by the toy CLIP (zero-shot) and the **true-response 2-way
identification** (each reconstruction's true response of the simulated brain against the true
response to its ground truth, 2-way in voxel space).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["BACKBONE_LAYERS", "score_reconstructions", "truth_scores"]

#: Backbone registry name -> the layer its features come from (recorded in the metric card).
BACKBONE_LAYERS: dict[str, str] = {
    "toy-clip": "image embedding (encode_image, L2-normalised)",
    "efficientnet-lite0": "global average pool of the head (1280-d, before the classifier)",
    "ViT-L-14/openai": "image embedding (encode_image, L2-normalised)",
    "alexnet/features.4": "AlexNet features.4 (ReLU after conv2), flattened",
    "alexnet/features.11": "AlexNet features.11 (ReLU after conv5), flattened",
    "inception_v3": "InceptionV3 avgpool (2048-d)",
    "efficientnet_b1": "EfficientNet-B1 avgpool (1280-d)",
    "swav-resnet50": "SwAV ResNet-50 avgpool (2048-d)",
}


def _estimate(values: np.ndarray, n_bootstrap: int, seed: int) -> dict[str, Any]:
    from neurodecode.metrics import summarise

    return summarise(values, n_bootstrap=n_bootstrap, seed=seed).as_dict()


def score_reconstructions(
    recon: np.ndarray,
    truth: np.ndarray,
    backbones: Mapping[str, Any],
    *,
    size: int | None = None,
    truth_features: Mapping[str, np.ndarray] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every metric of the suite for reconstructions against their ground truths.

    Parameters
    ----------
    recon, truth : uint8 ndarray ``(n, H, W, 3)``
    backbones : mapping
        Backbone name -> feature extractor (uint8 images -> ``(n, d)``).
    size : int, optional
        Side the pixel metrics resize to (default: the ground truths' side).
    truth_features : mapping, optional
        Backbone name -> features of ``truth`` already computed (reused across ablations).
    n_bootstrap, seed : int
        Bootstrap of each CI.

    Returns
    -------
    dict
        ``pixcorr``, ``ssim``, and per backbone ``two_way/<name>`` and
        ``correlation_distance/<name>``: each an Estimate dict (value, CI, n).
    """
    from neurodecode.metrics import correlation_distance, pixcorr, ssim, two_way_identification

    size = size or int(truth.shape[1])
    out = {
        "pixcorr": _estimate(pixcorr(recon, truth, size=size), n_bootstrap, seed),
        "ssim": _estimate(ssim(recon, truth, size=size), n_bootstrap, seed),
    }
    for name, extractor in backbones.items():
        f_true = (truth_features or {}).get(name)
        f_true = np.asarray(extractor(truth) if f_true is None else f_true)
        f_rec = np.asarray(extractor(recon))
        out[f"two_way/{name}"] = _estimate(two_way_identification(f_rec, f_true), n_bootstrap, seed)
        out[f"correlation_distance/{name}"] = _estimate(
            correlation_distance(f_rec, f_true), n_bootstrap, seed
        )
    return out


def truth_scores(
    recon: np.ndarray,
    truth_images: np.ndarray,
    attributes: list[dict[str, Any]],
    ground_truth: Any,
    reader: Any,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Colour and category of the reconstructions (toy CLIP) and true-response 2-way.

    Parameters
    ----------
    recon, truth_images : uint8 ndarray ``(n, H, W, 3)``
    attributes : list of dict
        The world's description of each ground-truth stimulus.
    ground_truth : neurodecode.synth.GroundTruth
        The simulated brain of the subject (``true_response``).
    reader : LoadedModel
        The toy CLIP (``model``, ``tokenizer``, ``mean``, ``std``).
    """
    import torch

    from neurodecode.metrics import two_way_identification
    from neurodecode.models._toy_clip_train import (
        images_to_tensor,
        true_attributes,
        zero_shot_attributes,
    )

    with torch.no_grad():
        x = images_to_tensor(recon, reader.mean, reader.std)
        f = torch.nn.functional.normalize(reader.model.encode_image(x).float(), dim=-1)
    predicted = zero_shot_attributes(reader.model, reader.tokenizer, f)
    truth = true_attributes(attributes)
    out: dict[str, dict[str, Any]] = {}
    for task in ("colour", "category"):
        hits = np.array(
            [p == t for p, t in zip(predicted[task], truth[task], strict=True)], dtype=np.float64
        )
        out[task] = _estimate(hits, n_bootstrap, seed)
    r_rec = ground_truth.true_response(recon)
    r_true = ground_truth.true_response(truth_images)
    out["two_way/true_response"] = _estimate(
        two_way_identification(r_rec, r_true), n_bootstrap, seed
    )
    return out
