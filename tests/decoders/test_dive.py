"""BrainDiVE's guided sampler with tiny random diffusers components, saved and loaded back."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from neurodecode.decoders import (  # noqa: E402
    BrainGuidedDiffusionPipeline,
    ImageVoxelEncoder,
    ReconstructionPipeline,
    VoxelTarget,
)

N_VOX = 12


class _TinyTower(torch.nn.Module):
    """A stand-in CLIP image tower: a seeded conv net with ``encode_image``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.proj = torch.nn.Linear(8 * 4 * 4, 8)

    def encode_image(self, x):
        h = torch.nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 4)
        return self.proj(h.flatten(1))


def _encoder(image_size: int | None = None) -> ImageVoxelEncoder:
    torch.manual_seed(1)
    readout = torch.nn.Linear(8, N_VOX)
    return ImageVoxelEncoder(_TinyTower(), readout, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25),
                             image_size)  # fmt: skip


@pytest.fixture(scope="module")
def folder(tiny_diffusion_folder):
    return tiny_diffusion_folder


@pytest.fixture(scope="module")
def pipe(folder):
    from neurodecode.models import unet_condition_kwargs

    parts = ReconstructionPipeline.load_components(folder)
    width = parts["unet"].config.projection_class_embeddings_input_dim  # the condition's width
    null = unet_condition_kwargs(parts["unet"], torch.zeros(1, width))
    return BrainGuidedDiffusionPipeline(parts["vae"], parts["unet"], parts["scheduler"],
                                        _encoder(), null)  # fmt: skip


def _first(n: int = N_VOX, k: int = 4) -> np.ndarray:
    return np.arange(n) < k


def test_targets_weigh_the_mean_and_the_contrast():
    a = VoxelTarget.mean_of("A", _first())
    assert a.weights.sum() == pytest.approx(1.0) and np.count_nonzero(a.weights) == 4
    resp = np.random.default_rng(0).normal(size=(3, N_VOX))
    np.testing.assert_allclose(a.score(resp), resp[:, :4].mean(1))
    b_mask = (np.arange(N_VOX) >= 2) & (np.arange(N_VOX) < 8)  # shares voxels 2, 3 with A
    c = VoxelTarget.contrast("A", _first(), "B", b_mask)
    assert c.name == "A-B" and c.weights.sum() == pytest.approx(0.0)
    np.testing.assert_allclose(c.score(resp), resp[:, :2].mean(1) - resp[:, 4:8].mean(1))
    with pytest.raises(ValueError, match="'E' has no voxels"):
        VoxelTarget.mean_of("E", np.zeros(N_VOX, bool))
    with pytest.raises(ValueError, match="1-D boolean"):
        VoxelTarget.mean_of("F", np.arange(N_VOX))
    with pytest.raises(ValueError, match="share every voxel"):
        VoxelTarget.contrast("A", _first(), "A2", _first())


def test_encoder_resizes_normalises_and_reads_out():
    enc = _encoder(image_size=8)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    f = enc.embed(x)
    assert f.shape == (2, 8)
    np.testing.assert_allclose(f.norm(dim=1).numpy(), 1.0, rtol=1e-5)
    small = torch.nn.functional.interpolate((x + 1) / 2, size=(8, 8), mode="bicubic",
                                            align_corners=False, antialias=True)  # fmt: skip
    want = torch.nn.functional.normalize(enc.clip_model.encode_image((small - 0.5) / 0.25), dim=1)
    np.testing.assert_allclose(f.detach().numpy(), want.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(enc(x).detach().numpy(), enc.readout(f).detach().numpy(), atol=1e-6)
    assert not any(p.requires_grad for p in enc.parameters())


def test_encoder_from_a_fitted_ridge_matches_its_predictions():
    from neurodecode.encoders import RidgeEncoder
    from neurodecode.features import get_extractor
    from neurodecode.models import load_clip

    images = np.random.default_rng(0).integers(0, 256, size=(6, 64, 64, 3), dtype=np.uint8)
    feats = get_extractor("toy-clip")(images)
    Y = np.random.default_rng(1).normal(size=(6, 5))
    ridge = RidgeEncoder(alphas=[1.0], n_splits=2).fit(feats, Y)
    enc = ImageVoxelEncoder.from_models(load_clip("toy-clip"), ridge)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        got = enc(x).numpy()
    np.testing.assert_allclose(got, ridge.predict(feats), atol=2e-3)


def test_call_shapes_selection_and_determinism(pipe):
    target = VoxelTarget.mean_of("A", _first())
    kw = {"num_images": 2, "num_candidates": 4, "steps": 3, "batch_size": 3}
    out = pipe(target, generator=torch.Generator().manual_seed(0), **kw)
    assert out.images.shape == (2, 16, 16, 3) and out.images.dtype == np.uint8
    assert out.latents.shape == (2, 4, 8, 8) and out.candidate_predicted.shape == (4,)
    np.testing.assert_allclose(np.sort(out.predicted), np.sort(out.candidate_predicted)[-2:])
    with torch.no_grad():
        x = torch.from_numpy(out.images).permute(0, 3, 1, 2).float() / 127.5 - 1
        again = target.score(pipe.encoder(x).numpy())
    np.testing.assert_allclose(again, out.predicted, atol=0.05)  # uint8 rounding
    twin = pipe(target, generator=torch.Generator().manual_seed(0), **kw)
    np.testing.assert_array_equal(out.images, twin.images)


@pytest.mark.parametrize("through_unet", [True, False])
def test_guidance_term_is_the_scaled_gradient_of_the_score(pipe, through_unet):
    """The guided prediction differs from the plain one by -s sqrt(1-abar) d score / d z,
    checked against a central finite difference of the score along a random direction (with
    the noise prediction held at its value at z when the gradient skips the UNet)."""
    from neurodecode.decoders._dive import _Guidance

    target = VoxelTarget.mean_of("A", _first())
    w = torch.as_tensor(target.weights, dtype=torch.float32)
    pipe.scheduler.set_timesteps(10)
    t = pipe.scheduler.timesteps[3]
    a = pipe.scheduler.alphas_cumprod[int(t)].float()
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    kw = pipe._kwargs(1)
    s = 2.0
    guided = pipe._guided_output(z, t, a, _Guidance(w, s, False, 1, through_unet, None), kw)
    with torch.no_grad():
        plain = pipe.unet(z, t, **kw).sample
    grad = -(guided - plain) / (s * (1 - a).sqrt())

    def score(zz):
        with torch.no_grad():
            eps = pipe.unet(zz if through_unet else z, t, **kw).sample
            return float(pipe._score(pipe._decode((zz - (1 - a).sqrt() * eps) / a.sqrt()),
                                     w, 1, None).sum())  # fmt: skip

    d = torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    h = 1e-2
    numeric = (score(z + h * d) - score(z - h * d)) / (2 * h)
    assert float((grad * d).sum()) == pytest.approx(numeric, rel=0.05, abs=1e-4)


def test_guidance_raises_the_predicted_score_and_zero_scale_is_the_control(pipe):
    target = VoxelTarget.mean_of("A", _first())
    kw = {"num_images": 6, "steps": 6, "batch_size": 6}
    base = pipe(target, guidance_scale=0.0, generator=torch.Generator().manual_seed(3), **kw)
    up = pipe(target, guidance_scale=3.0, normalize_gradient=True,
              generator=torch.Generator().manual_seed(3), **kw)  # fmt: skip
    assert up.predicted.mean() > base.predicted.mean()
    views = pipe(target, guidance_scale=3.0, normalize_gradient=True, views=3,
                 guidance_stop=0.5, generator=torch.Generator().manual_seed(3), **kw)  # fmt: skip
    assert views.predicted.mean() > base.predicted.mean()


def test_bad_arguments_are_refused(pipe):
    target = VoxelTarget.mean_of("A", _first())
    with pytest.raises(ValueError, match="num_images <= num_candidates"):
        pipe(target, num_images=3, num_candidates=2)
    with pytest.raises(ValueError, match="guidance_stop"):
        pipe(target, guidance_stop=0.0)
    with pytest.raises(ValueError, match="guidance_scale"):
        pipe(target, guidance_scale=float("nan"))
    with pytest.raises(ValueError, match="weighs 5 voxels; the encoder predicts 12"):
        pipe(VoxelTarget("x", np.ones(5) / 5))


def test_stable_diffusion_shaped_parts_with_dpm_solver_and_v_prediction(folder):
    """A text-conditioned UNet (no class embedding) given the empty-prompt tokens, DPM-Solver
    in v-prediction: the shape of Stable Diffusion 2.1 with tiny random weights."""
    from diffusers import DPMSolverMultistepScheduler, UNet2DConditionModel

    parts = ReconstructionPipeline.load_components(folder)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 16),
        layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=12,
        attention_head_dim=2, norm_num_groups=8,
    )  # fmt: skip
    sched = DPMSolverMultistepScheduler(prediction_type="v_prediction")
    empty_prompt = {"encoder_hidden_states": torch.zeros(1, 3, 12)}
    pipe = BrainGuidedDiffusionPipeline(parts["vae"], unet, sched, _encoder(32), empty_prompt)
    out = pipe(VoxelTarget.mean_of("A", _first()), num_images=2, steps=3, guidance_scale=5.0,
               generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert out.images.shape == (2, 16, 16, 3) and np.all(np.isfinite(out.predicted))
    with pytest.raises(ValueError, match="prediction_type 'sample' is not supported"):
        BrainGuidedDiffusionPipeline(parts["vae"], unet,
                                     DPMSolverMultistepScheduler(prediction_type="sample"),
                                     _encoder())  # fmt: skip


def test_null_condition_of_the_toy_model_is_the_zero_embedding(folder):
    from neurodecode.decoders import null_condition_kwargs

    parts = ReconstructionPipeline.load_components(folder)
    null = null_condition_kwargs(folder, parts["unet"])
    width = parts["unet"].config.projection_class_embeddings_input_dim
    assert set(null) == {"class_labels", "encoder_hidden_states"}
    assert null["class_labels"].shape == (1, width) and not null["class_labels"].any()
    assert null["encoder_hidden_states"].shape == (1, 1, width)


def test_null_condition_of_a_text_model_is_the_empty_prompt(folder, tmp_path):
    """A Stable-Diffusion-shaped folder (text encoder and tokenizer saved to disk, read back by
    the classes model_index.json names) gives the text embedding of the empty prompt."""
    import json
    import shutil

    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from neurodecode.decoders import null_condition_kwargs

    sd = tmp_path / "sd"
    shutil.copytree(folder, sd)
    tok_dir = sd / "tokenizer"
    tok_dir.mkdir()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 2, "a</w>": 3}
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=5,
                  pad_token="<|endoftext|>").save_pretrained(tok_dir)  # fmt: skip
    torch.manual_seed(0)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=4, hidden_size=12, intermediate_size=16,
                                        num_hidden_layers=1, num_attention_heads=2,
                                        max_position_embeddings=5))  # fmt: skip
    text.save_pretrained(sd / "text_encoder")
    index = json.loads((sd / "model_index.json").read_text())
    index.update(text_encoder=["transformers", "CLIPTextModel"],
                 tokenizer=["transformers", "CLIPTokenizer"])  # fmt: skip
    (sd / "model_index.json").write_text(json.dumps(index))
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 16),
        layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=12,
        attention_head_dim=2, norm_num_groups=8,
    )  # fmt: skip
    null = null_condition_kwargs(sd, unet)
    assert list(null) == ["encoder_hidden_states"]
    with torch.no_grad():
        expected = text.eval()(torch.tensor([[0, 1, 1, 1, 1]]))[0]
    torch.testing.assert_close(null["encoder_hidden_states"], expected)
