"""Brain captioning's generation path, on a tiny random GIT loaded through the registry.

The tiny GIT and its processor are saved as ``microsoft/git-base-coco`` in a models folder, so
the real weights' loading path (registry -> transformers) is the one exercised. Captions from
given vision tokens must equal GIT's own captions of the images when the tokens are the image
encoder's, for greedy and beam search, and the library's image encoder must be back afterwards.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_git(tmp_path_factory):
    from transformers import (
        BertTokenizer,
        CLIPImageProcessor,
        GitConfig,
        GitForCausalLM,
        GitProcessor,
    )

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "blue", "star", "face", "."]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)})
    processor = GitProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                           crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )  # fmt: skip
    cfg = GitConfig(
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
        vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=16, bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("models")
    folder = root / "microsoft" / "git-base-coco"
    GitForCausalLM(cfg).save_pretrained(folder)
    processor.save_pretrained(folder)
    return root


@pytest.fixture
def loaded(tiny_git, monkeypatch):
    from neurodecode.models import load_model

    monkeypatch.setenv("NEURODECODE_MODELS", str(tiny_git))
    return load_model("microsoft/git-base-coco")


def _images(n=4, side=32):
    return np.random.default_rng(1).integers(0, 255, (n, side, side, 3), dtype=np.uint8)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_captions_from_the_encoders_own_tokens_equal_captions_of_the_images(loaded, num_beams):
    from neurodecode.decoders import caption_vision_tokens, vision_tokens

    model, processor = loaded.model, loaded.tokenizer
    images = _images()
    tokens = vision_tokens(model, processor, images)
    assert tokens.shape == (4, 5, 16)  # (32 / 16)^2 patches + CLS, width 16
    ours = caption_vision_tokens(model, processor, tokens, num_beams=num_beams, max_new_tokens=6)
    pixels = processor(images=list(images), return_tensors="pt").pixel_values
    with torch.no_grad():
        ids = model.generate(pixel_values=pixels, num_beams=num_beams, max_new_tokens=6)
    want = [" ".join(c.split()) for c in processor.batch_decode(ids, skip_special_tokens=True)]
    assert ours == want
    from transformers import GitVisionModel

    assert isinstance(model.git.image_encoder, GitVisionModel)  # the library's encoder is back


def test_sampling_is_seeded_and_leaves_the_global_rng_alone(loaded):
    from neurodecode.decoders import caption_vision_tokens

    tokens = np.random.default_rng(0).normal(size=(6, 5, 16)).astype(np.float32)
    state = torch.random.get_rng_state()
    kw = {"do_sample": True, "top_p": 0.9, "temperature": 1.5, "max_new_tokens": 6}
    a = caption_vision_tokens(loaded.model, loaded.tokenizer, tokens, seed=3, **kw)
    b = caption_vision_tokens(loaded.model, loaded.tokenizer, tokens, seed=3, **kw)
    assert a == b and len(a) == 6
    assert torch.equal(state, torch.random.get_rng_state())


def test_wrong_token_shapes_are_refused_and_the_encoder_restored(loaded):
    from neurodecode.decoders import given_vision_tokens

    original = loaded.model.git.image_encoder
    bad, good = np.zeros((2, 7, 16), np.float32), np.zeros((2, 5, 16), np.float32)
    with pytest.raises(ValueError, match="vision tokens"), given_vision_tokens(loaded.model, bad):
        pass
    with pytest.raises(RuntimeError, match="boom"), given_vision_tokens(loaded.model, good):
        raise RuntimeError("boom")
    assert loaded.model.git.image_encoder is original


def test_the_pipeline_captions_voxels_through_a_fitted_decoder(loaded):
    from neurodecode.decoders import BrainCaptionPipeline, RidgeDecoder, vision_tokens

    rng = np.random.default_rng(0)
    tokens = vision_tokens(loaded.model, loaded.tokenizer, _images(40)).reshape(40, -1)
    voxels = tokens @ rng.normal(size=(tokens.shape[1], 30)).astype(np.float32)
    decoder = RidgeDecoder(n_splits=3, n_components=8).fit(voxels, tokens)
    pipe = BrainCaptionPipeline(decoder, loaded.model, loaded.tokenizer)
    out = pipe(voxels[:5], num_beams=2, max_new_tokens=5)
    assert len(out.captions) == 5 and all(isinstance(c, str) for c in out.captions)
    assert out.tokens.shape == (5, 5, 16)
    np.testing.assert_allclose(out.tokens.reshape(5, -1).std(0), decoder.target_std_, rtol=0.2,
                               atol=1e-3)  # fmt: skip
