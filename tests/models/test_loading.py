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


def _hf_snapshot(repo_id: str):
    import os
    from pathlib import Path

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = Path(os.environ["HF_HOME"]) / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit


@pytest.fixture
def tiny_pipeline_spec():
    from neurodecode.models import ModelSpec, register_model
    from neurodecode.models._registry import _REGISTRY

    spec = ModelSpec(
        "test/tiny-pipeline", "diffusers", "DDPMPipeline", "hf:test/tiny-pipeline",
        "diffusion", "a tiny random pipeline", files=("model_index.json",),
    )  # fmt: skip
    register_model(spec)
    yield spec
    _REGISTRY.unregister(spec.name)


def test_whole_diffusers_pipeline_and_its_components_load_from_the_hf_cache(tiny_pipeline_spec):
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    from neurodecode.models import load_diffusers

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2,
                       layers_per_block=1, norm_num_groups=8)  # fmt: skip
    folder = _hf_snapshot(tiny_pipeline_spec.name)
    pipeline = DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=10))
    pipeline.save_pretrained(folder)
    loaded = load_model(tiny_pipeline_spec.name)
    assert isinstance(loaded.model, DDPMPipeline) and loaded.path == folder
    image = loaded.model(num_inference_steps=2, generator=torch.Generator().manual_seed(0),
                         output_type="np").images  # fmt: skip
    assert image.shape == (1, 8, 8, 3)
    part = load_diffusers(tiny_pipeline_spec.name, component="unet")
    assert isinstance(part.model, UNet2DModel)
    with torch.no_grad():
        x = torch.randn(1, 3, 8, 8)
        np.testing.assert_allclose(part.model(x, 3).sample, unet(x, 3).sample, atol=1e-6)
    with pytest.raises(KeyError, match="no component 'vae'"):
        load_diffusers(tiny_pipeline_spec.name, component="vae")


def test_vae_of_a_pipeline_repository_from_the_hf_cache():
    folder = _hf_snapshot("stabilityai/stable-diffusion-2-1-base")
    _tiny_vae().save_pretrained(folder / "vae")
    (folder / "model_index.json").write_text(
        json.dumps(
            {"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"]}
        )
    )
    from neurodecode.models import load_diffusers

    loaded = load_diffusers("stabilityai/stable-diffusion-2-1-base", component="vae")
    assert loaded.path == folder / "vae"
    assert loaded.model.config.latent_channels == 4


def test_git_captioner_with_its_processor_generates_from_a_local_folder(tmp_path, monkeypatch):
    from transformers import (
        BertTokenizer,
        CLIPImageProcessor,
        GitConfig,
        GitForCausalLM,
        GitProcessor,
    )

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "circle", "blue", "."]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)})
    processor = GitProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                           crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )  # fmt: skip
    cfg = GitConfig(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=32, bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = GitForCausalLM(cfg).eval()
    folder = tmp_path / "microsoft" / "git-base-coco"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    monkeypatch.setenv("NEURODECODE_MODELS", str(tmp_path))
    loaded = load_model("microsoft/git-base-coco")
    assert isinstance(loaded.model, GitForCausalLM) and loaded.tokenizer is not None
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    pixels = loaded.tokenizer(images=[image], return_tensors="pt").pixel_values
    with torch.no_grad():
        ids = loaded.model.generate(pixel_values=pixels, max_new_tokens=4)
        want = model.generate(pixel_values=pixels, max_new_tokens=4)
    assert ids.tolist() == want.tolist()
    assert isinstance(loaded.tokenizer.batch_decode(ids, skip_special_tokens=True)[0], str)


def test_missing_toy_weights_name_the_train_command(tmp_path, monkeypatch):
    from neurodecode.models import WeightsNotFoundError, _registry, resolve_weights

    monkeypatch.setattr(_registry, "_PACKAGE_WEIGHTS", tmp_path / "nowhere")
    with pytest.raises(WeightsNotFoundError, match="neurodecode models train clip --out"):
        resolve_weights("toy-clip")
