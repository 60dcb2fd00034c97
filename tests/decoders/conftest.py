"""Shared fixtures of the decoder tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_diffusion_folder(tmp_path_factory):
    """Tiny random toy-diffusion parts (16-px images, 8-d conditions) saved as a pipeline
    folder and resolved back through the model registry, as real weights are."""
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from neurodecode.models import ModelSpec, register_model, resolve_weights
    from neurodecode.models._toy_diffusion import (
        ToyDiffusionArchitecture,
        build_toy_scheduler,
        build_toy_unet,
        build_toy_vae,
        save_toy_diffusion,
    )

    arch = ToyDiffusionArchitecture(
        image_size=16, vae_channels=(16, 16), unet_channels=(16, 16, 16), embedding_dim=8,
        attention_heads=2,
    )  # fmt: skip
    root = tmp_path_factory.mktemp("models")
    name = "test/tiny-image-diffusion"
    register_model(ModelSpec(name, "diffusers", "ReconstructionPipeline", f"hf:{name}",
                             "diffusion", files=("model_index.json",)), overwrite=True)  # fmt: skip
    save_toy_diffusion(build_toy_vae(arch, 0), build_toy_unet(arch, 0), build_toy_scheduler(arch),
                       root / name)  # fmt: skip
    return resolve_weights(name, root)
