"""Real loading paths with randomly initialised models saved to temporary folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from neurodecode.features import get_extractor  # noqa: E402
from neurodecode.models import load_clip, load_model, toy_clip_model_cfg  # noqa: E402


def test_open_clip_local_dir_round_trip(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    cfg = toy_clip_model_cfg(49408)
    cfg["text_cfg"]["layers"] = 1
    model = open_clip.model.CLIP(**cfg).eval()
    save_file(model.state_dict(), str(tmp_path / "open_clip_model.safetensors"))
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    loaded = load_clip(f"local-dir:{tmp_path}")
    assert loaded.image_size == 64 and len(loaded.weights_sha256) == 64
    x = torch.randn(2, 3, 64, 64)
    tokens = loaded.tokenizer(["a red circle", "a blue star"])
    with torch.no_grad():
        np.testing.assert_allclose(loaded.model.encode_image(x), model.encode_image(x), atol=1e-5)
        np.testing.assert_allclose(
            loaded.model.encode_text(tokens), model.encode_text(tokens), atol=1e-5
        )


def _tiny_vae():
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
    ).eval()


def test_diffusers_vae_from_local_folder_feeds_the_latent_extractor(tmp_path, monkeypatch):
    vae = _tiny_vae()
    vae.save_pretrained(tmp_path / "stabilityai" / "sd-vae-ft-mse")
    monkeypatch.setenv("NEURODECODE_MODELS", str(tmp_path))
    loaded = load_model("stabilityai/sd-vae-ft-mse")
    assert type(loaded.model).__name__ == "AutoencoderKL"
    extractor = get_extractor("stabilityai/sd-vae-ft-mse")
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    extractor.image_size = 32
    feats = extractor(images)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        want = vae.encode(x).latent_dist.mean * vae.config.scaling_factor
    assert feats.shape == (3, 4 * 16 * 16)
    np.testing.assert_allclose(feats, want.reshape(3, -1).numpy(), atol=1e-5)


def test_diffusers_pipeline_component_from_hf_cache(monkeypatch):
    import os
    from pathlib import Path

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = Path(os.environ["HF_HOME"]) / "hub" / "models--stabilityai--stable-diffusion-2-1-base"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    _tiny_vae().save_pretrained(repo / "snapshots" / commit / "vae")
    loaded = load_model("stabilityai/stable-diffusion-2-1-base")
    assert loaded.path == repo / "snapshots" / commit / "vae"
    assert loaded.model.config.latent_channels == 4
