"""The shipped toy latent-diffusion model: loads through the registry, its card's figures, and a
re-measured check that samples keep the colour of the image whose embedding conditions them."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from neurodecode.models import resolve_weights  # noqa: E402


@pytest.fixture(scope="module")
def folder():
    return resolve_weights("toy-diffusion")


def test_the_registry_finds_the_shipped_pipeline_folder(folder):
    index = json.loads((folder / "model_index.json").read_text())
    assert {k for k, v in index.items() if isinstance(v, list)} == {"vae", "unet", "scheduler"}
    assert index["_conditioning"] == "unit_rms"
    card = (folder / "README.md").read_text()
    assert "Held-out quality" in card and "samples from noise conditioned" in card


def test_the_card_figures_are_the_training_report(folder):
    report = json.loads((folder / "training_report.json").read_text())
    m = report["metrics"]
    assert m["n"] >= 500
    # the latent's ceiling and the conditioned samples, read by the toy CLIP (chance 1/6, 1/5)
    assert m["vae_reconstruction"]["colour"] >= 0.85
    assert m["conditioned_samples"]["colour"] >= 0.70
    assert m["conditioned_samples"]["category"] >= 0.50
    assert report["n_parameters"]["unet"] < 10_000_000


def test_samples_keep_the_conditioning_images_colour(folder):
    from neurodecode.decoders import ReconstructionPipeline
    from neurodecode.models import (
        attribute_accuracy,
        condition_from_embedding,
        denoise,
        load_clip,
        zero_shot_attributes,
    )
    from neurodecode.models._toy_diffusion import decode_latents, encode_pool
    from neurodecode.synth import StimulusSet

    parts = ReconstructionPipeline.load_components(folder)
    clip = load_clip("toy-clip")
    stimuli = StimulusSet(1000, 0, 64)
    ids = np.arange(900, 960)  # held out: worlds of seed 0 show ids below the training range
    latents, emb = encode_pool(parts["vae"], clip, stimuli, ids)
    gen = torch.Generator().manual_seed(0)
    z = denoise(parts["unet"], parts["scheduler"], condition_from_embedding(emb), steps=10,
                guidance_scale=3.0, generator=gen, shape=tuple(latents.shape[1:]))  # fmt: skip
    images = decode_latents(parts["vae"], z)
    attrs = [stimuli.attributes(int(i)) for i in ids]
    acc = attribute_accuracy(zero_shot_attributes(clip.model, clip.tokenizer, images), attrs)
    assert acc["colour"] >= 0.5, acc  # chance 1/6
