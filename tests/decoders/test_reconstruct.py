"""ReconstructionPipeline with tiny random diffusers components, saved and loaded back."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from neurodecode.decoders import ReconstructionPipeline, RidgeDecoder  # noqa: E402

N_VOX = 30


def _decoders(rng: np.random.Generator) -> tuple[RidgeDecoder, RidgeDecoder, np.ndarray]:
    X = rng.normal(size=(60, N_VOX)).astype(np.float32)
    latent = X @ rng.normal(size=(N_VOX, 4 * 8 * 8)).astype(np.float32) * 0.1
    emb = X[:, :8] + 0.1 * rng.normal(size=(60, 8)).astype(np.float32)
    groups = np.arange(60)
    lat_dec = RidgeDecoder(n_splits=3, voxels=np.arange(20)).fit(X, latent, groups=groups)
    emb_dec = RidgeDecoder(n_splits=3).fit(X, emb, groups=groups)
    return lat_dec, emb_dec, X


@pytest.fixture(scope="module")
def folder(tiny_diffusion_folder):
    return tiny_diffusion_folder


def _encoder(images: np.ndarray) -> np.ndarray:
    """A stand-in image encoder: mean colour per quadrant band (8-d)."""
    x = images.astype(np.float32) / 255.0
    return np.concatenate(
        [
            x[:, :8].mean(axis=(1, 2)),
            x[:, 8:].mean(axis=(1, 2)),
            x.std(axis=(1, 2, 3))[:, None],
            x.mean(axis=(1, 2, 3))[:, None],
        ],
        axis=1,
    )


@pytest.fixture(scope="module")
def pipe(folder):
    parts = ReconstructionPipeline.load_components(folder)
    lat, emb, X = _decoders(np.random.default_rng(0))
    pipe = ReconstructionPipeline(
        parts["vae"],
        parts["unet"],
        parts["scheduler"],
        lat,
        emb,
        image_encoder=_encoder,
        conditioning=parts["conditioning"],
    )
    return pipe, X[:5]


def test_components_load_back_through_the_registry(folder):
    index = json.loads((folder / "model_index.json").read_text())
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["_conditioning"] == "unit_rms"
    parts = ReconstructionPipeline.load_components(folder)
    assert parts["unet"].dtype == torch.float32
    assert type(parts["scheduler"]).__name__ == "DDIMScheduler"
    assert parts["scheduler"].config.clip_sample is False


def test_call_shapes_and_selection(pipe):
    pipe, brain = pipe
    out = pipe(
        brain, n_samples=3, num_inference_steps=4, generator=torch.Generator().manual_seed(0)
    )
    assert out.images.shape == (5, 16, 16, 3) and out.images.dtype == np.uint8
    assert out.samples.shape == (5, 3, 16, 16, 3)
    assert out.latents.shape == (5, 4, 8, 8) and out.embeddings.shape == (5, 8)
    np.testing.assert_array_equal(out.chosen, out.sample_scores.argmax(axis=1))
    np.testing.assert_array_equal(out.images, out.samples[np.arange(5), out.chosen])


def test_generator_makes_it_deterministic(pipe):
    pipe, brain = pipe
    a = pipe(brain, n_samples=1, num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    b = pipe(brain, n_samples=1, num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    c = pipe(brain, n_samples=1, num_inference_steps=3, generator=torch.Generator().manual_seed(2))
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_latent_mode_is_the_vae_decoding_of_the_prediction(pipe):
    pipe, brain = pipe
    from neurodecode.models._toy_diffusion import decode_latents

    out = pipe(brain, mode="latent")
    z, _ = pipe.decode_brain(brain)
    np.testing.assert_array_equal(out.images, decode_latents(pipe.vae, torch.from_numpy(z)))
    assert out.samples.shape[1] == 1


def test_small_strength_stays_near_the_predicted_latent(pipe):
    pipe, brain = pipe
    base = pipe(brain, mode="latent").images.astype(float)
    gen = torch.Generator().manual_seed(0)
    near = pipe(brain, strength=0.05, num_inference_steps=20, n_samples=1, generator=gen)
    far = pipe(brain, mode="embedding", num_inference_steps=20, n_samples=1, generator=gen)
    assert np.abs(near.images - base).mean() < np.abs(far.images - base).mean()


def test_given_embeddings_condition_and_select_instead_of_the_decoders(pipe):
    pipe, brain = pipe
    _, decoded = pipe.decode_brain(brain)
    given = np.random.default_rng(5).normal(size=decoded.shape).astype(np.float32)
    kw = {"n_samples": 2, "num_inference_steps": 4}
    out = pipe(brain, embeddings=given, generator=torch.Generator().manual_seed(0), **kw)
    own = pipe(brain, generator=torch.Generator().manual_seed(0), **kw)
    np.testing.assert_array_equal(out.embeddings, given)
    assert not np.array_equal(out.images, own.images)
    with pytest.raises(ValueError, match="embeddings must be"):
        pipe(brain, embeddings=given[:, :3], **kw)


def test_bad_arguments_are_refused(pipe):
    pipe, brain = pipe
    with pytest.raises(ValueError, match="mode must be one of"):
        pipe(brain, mode="both")
    with pytest.raises(ValueError, match="strength must be in"):
        pipe(brain, strength=0.0, n_samples=1)
    with pytest.raises(ValueError, match="conditioning must be one of"):
        ReconstructionPipeline(pipe.vae, pipe.unet, pipe.scheduler, None, None, conditioning="x")


def test_unclip_style_unet_with_prompt_embeds(folder):
    """A Stable-unCLIP-shaped UNet: class projection of [embedding, noise level], text tokens."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=12,
        attention_head_dim=2,
        norm_num_groups=8,
        class_embed_type="projection",
        projection_class_embeddings_input_dim=16,
    )
    parts = ReconstructionPipeline.load_components(folder)
    lat, emb, X = _decoders(np.random.default_rng(1))
    prompt = torch.zeros(1, 3, 12)
    pipe = ReconstructionPipeline(
        parts["vae"], unet, parts["scheduler"], lat, emb, conditioning="raw", prompt_embeds=prompt
    )
    out = pipe(
        X[:4], n_samples=1, num_inference_steps=2, generator=torch.Generator().manual_seed(0)
    )
    assert out.images.shape == (4, 16, 16, 3)
    bare = ReconstructionPipeline(
        parts["vae"], unet, parts["scheduler"], lat, emb, conditioning="raw"
    )
    with pytest.raises(ValueError, match="give prompt_embeds"):
        bare(X[:4], n_samples=1, num_inference_steps=2)


def test_missing_components_are_named(tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"vae": ["diffusers", "AutoencoderKL"]}))
    with pytest.raises(ValueError, match="no unet, scheduler"):
        ReconstructionPipeline.load_components(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no model_index\.json"):
        ReconstructionPipeline.load_components(tmp_path / "nothing")
