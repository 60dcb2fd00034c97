"""CLIP-prefix captioners: the toy ClipCap (save/load, decoding, training, the shipped model's
quality) and the published ClipCap checkpoint's loading path, on tiny random components."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from neurodecode.models import (  # noqa: E402
    ClipCapConfig,
    ClipPrefixCaptioner,
    ToyClipCapTrainConfig,
    WeightsNotFoundError,
    build_clipcap,
    build_word_tokenizer,
    caption_embeddings,
    load_clipcap,
    load_model,
    save_clipcap,
)
from neurodecode.models._toy_clipcap_eval import background_named  # noqa: E402
from neurodecode.synth import StimulusSet  # noqa: E402

_TEXTS = ["A red star on a grey background.", 'The word "cat" written in blue letters.',
          "A small green house with a roof and a door."]  # fmt: skip


def _tiny_gpt2(vocab_size: int, **ids: int):
    from transformers import GPT2Config

    return GPT2Config(vocab_size=vocab_size, n_positions=32, n_embd=16, n_layer=1, n_head=2,
                      n_inner=32, **ids)  # fmt: skip


@pytest.fixture
def tiny():
    tokenizer = build_word_tokenizer(_TEXTS)
    config = ClipCapConfig(prefix_length=3, clip_dim=8, hidden=12)
    gpt = _tiny_gpt2(
        len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = build_clipcap(config, gpt, seed=3).eval()  # fmt: skip
    embeddings = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    return model, tokenizer, embeddings


def _greedy_by_hand(model, tokenizer, embeddings, steps):
    """Argmax decoding over GPT-2's logits, re-reading the whole sequence at each step."""
    from neurodecode.models._toy_clipcap import prepare_embeddings

    out = []
    with torch.no_grad():
        for row in prepare_embeddings(model, embeddings):
            seq, ids = model.prefix(row[None]), []
            for _ in range(steps):
                nxt = int(model.gpt(inputs_embeds=seq).logits[0, -1].argmax())
                if nxt == tokenizer.eos_token_id:
                    break
                ids.append(nxt)
                seq = torch.cat([seq, model.gpt.transformer.wte(torch.tensor([[nxt]]))], dim=1)
            out.append(" ".join(tokenizer.decode(ids, skip_special_tokens=True).split()))
    return out


def test_word_tokenizer_round_trips_captions_and_ends_them():
    from neurodecode.models._toy_clipcap import caption_tokens

    tokenizer = build_word_tokenizer(_TEXTS)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == ["<pad>", "<bos>", "<eos>", "<unk>"]
    ids, mask = caption_tokens(tokenizer, _TEXTS[:2])
    assert int(ids[0, int(mask[0].sum()) - 1]) == tokenizer.eos_token_id
    back = tokenizer.batch_decode(ids, skip_special_tokens=True)
    assert back[0] == _TEXTS[0].lower()
    assert tokenizer.unk_token_id not in ids.tolist()[0]


def test_a_tiny_captioner_survives_save_and_load(tiny, tmp_path):
    model, tokenizer, emb = tiny
    folder = save_clipcap(tmp_path / "cc", model, tokenizer, card="# card", report={"n": 1})
    assert (folder / "gpt2" / "model.safetensors").is_file()
    assert json.loads((folder / "training_report.json").read_text()) == {"n": 1}
    back, tok = load_clipcap(folder)
    assert isinstance(back, ClipPrefixCaptioner) and back.config == model.config
    want, got = model.state_dict(), back.state_dict()
    assert sorted(want) == sorted(got)
    assert all(torch.equal(want[k], got[k]) for k in want)
    assert tok.get_vocab() == tokenizer.get_vocab()
    assert caption_embeddings(back, tok, emb, max_new_tokens=6) == caption_embeddings(
        model, tokenizer, emb, max_new_tokens=6
    )


def test_captions_are_deterministic_and_greedy_is_one_beam(tiny):
    model, tokenizer, emb = tiny
    greedy = caption_embeddings(model, tokenizer, emb, max_new_tokens=6)
    assert greedy == caption_embeddings(model, tokenizer, emb, max_new_tokens=6, batch_size=4)
    assert greedy == caption_embeddings(model, tokenizer, emb, max_new_tokens=6, num_beams=1)
    assert greedy == _greedy_by_hand(model, tokenizer, emb, steps=6)
    # the input is L2-normalised as in training: a rescaled embedding has the same caption
    assert greedy == caption_embeddings(model, tokenizer, 7.0 * emb, max_new_tokens=6)
    beams = caption_embeddings(model, tokenizer, emb, max_new_tokens=6, num_beams=3)
    assert beams == caption_embeddings(model, tokenizer, emb, max_new_tokens=6, num_beams=3)
    assert len(beams) == len(emb) and all(isinstance(c, str) for c in beams)
    with pytest.raises(ValueError, match=r"\(n, 8\)"):
        caption_embeddings(model, tokenizer, emb[:, :5])
    with pytest.raises(ValueError, match="max_new_tokens must be <= 29"):
        caption_embeddings(model, tokenizer, emb, max_new_tokens=30)


def test_bad_folders_say_which_file_is_wrong(tiny, tmp_path):
    model, tokenizer, _ = tiny
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_clipcap(tmp_path / "absent")
    folder = save_clipcap(tmp_path / "cc", model, tokenizer)
    (folder / "mapper.safetensors").rename(folder / "moved")
    with pytest.raises(FileNotFoundError, match=r"mapper\.safetensors: missing"):
        load_clipcap(folder)
    (folder / "mapper.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"mapper\.safetensors: not a readable safetensors"):
        load_clipcap(folder)
    (folder / "moved").rename(folder / "mapper.safetensors")
    config = folder / "clipcap_config.json"
    good = config.read_text()
    config.write_text(good.replace('"hidden": 12', '"hidden": 13'))
    with pytest.raises(ValueError, match=r"clip_project\.model\.0\.weight has shape"):
        load_clipcap(folder)
    config.write_text("{not json")
    with pytest.raises(ValueError, match=r"clipcap_config\.json: not valid JSON"):
        load_clipcap(folder)
    config.write_text(json.dumps({"prefix_length": 3}))
    with pytest.raises(ValueError, match=r"clipcap_config\.json: missing keys \['clip_dim'"):
        load_clipcap(folder)
    config.write_text(good)
    (folder / "gpt2" / "model.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match=r"gpt2/model\.safetensors: not a readable"):
        load_clipcap(folder)


def test_a_short_training_run_is_deterministic_and_saves_its_card(tmp_path):
    from neurodecode.models import ToyClipCapTrainConfig, file_sha256, train_toy_clipcap

    cfg = ToyClipCapTrainConfig(
        steps=2,
        batch_size=8,
        warmup=1,
        n_bank=60,
        n_eval=40,
        eval_blend_size=3,
        n_eval_blends=4,
        log_every=1,
        eval_every=0,
    )
    lines: list[str] = []
    _, _, report = train_toy_clipcap(cfg, out=tmp_path / "a", log=lines.append)
    train_toy_clipcap(cfg, out=tmp_path / "b", log=lambda _: None)  # fmt: skip
    assert any(line.startswith("step 2/2") for line in lines)
    for name in ("mapper.safetensors", "gpt2/model.safetensors"):
        assert file_sha256(tmp_path / "a" / name) == file_sha256(tmp_path / "b" / name)
    card = (tmp_path / "a" / "README.md").read_text()
    assert "neurodecode models train clipcap" in card and "GPT2LMHeadModel" in card
    saved = json.loads((tmp_path / "a" / "training_report.json").read_text())
    assert saved["metrics"]["single"]["n"] == 40 and saved["metrics"]["blend"]["blend_size"] == 3
    assert saved["clip_model"] == "toy-clip" and saved == json.loads(json.dumps(report))
    model, _ = load_clipcap(tmp_path / "a")
    assert model.config.clip_dim == 128
    with pytest.raises(ValueError, match="blend_fraction"):
        ToyClipCapTrainConfig(blend_fraction=2.0)


def test_training_targets_are_the_captions_naming_the_background():
    from neurodecode.models._toy_clipcap_train import _target_captions
    from neurodecode.synth._captions import N_CAPTIONS

    stimuli = StimulusSet(400, 0, 64)
    attrs = [stimuli.attributes(i) for i in range(400)]
    captions = [c for i in range(400) for c in stimuli.captions(i)]
    ok = _target_captions(captions, attrs, "names_background")
    assert ok.shape == (400, N_CAPTIONS) and ok.any(axis=1).all()
    for i, a in enumerate(attrs):
        bg = a["background"].get("colour", "")
        for k in range(N_CAPTIONS):
            caption = captions[i * N_CAPTIONS + k]
            assert ok[i, k] == (bg in caption.lower() if bg else True), (caption, bg)
    assert not ok.all()  # some templates leave the background out
    assert _target_captions(captions, attrs, "any").all()
    with pytest.raises(ValueError, match="caption_choice"):
        ToyClipCapTrainConfig(caption_choice="first")


def test_the_shipped_toy_clipcap_names_colour_and_category_of_held_out_images():
    from neurodecode.models import embed_images, load_clip, resolve_weights
    from neurodecode.models._toy_git_train import caption_accuracy

    folder = resolve_weights("toy-clipcap")
    report = json.loads((folder / "training_report.json").read_text())
    for read in ("single", "blend"):
        m = report["metrics"][read]
        assert m["colour"] >= 0.95 and m["category"] >= 0.95, (read, m)
    assert report["metrics"]["blend"]["blend_size"] == 16
    background = report["metrics"]["single"]["background"]
    assert background["n"] >= 500 and background["rate"] >= 0.9, background
    assert report["config"]["caption_choice"] == "names_background"
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 5e6
    loaded = load_model("toy-clipcap")
    assert isinstance(loaded.model, ClipPrefixCaptioner) and loaded.path == folder
    clip = load_clip(loaded.model.config.clip_model)
    stimuli, ids = StimulusSet(1000, 0, 64), range(50)
    emb = embed_images(clip, stimuli.images(ids))
    captions = caption_embeddings(loaded.model, loaded.tokenizer, emb)
    m = caption_accuracy(captions, [stimuli.attributes(i) for i in ids])
    assert m["colour"] >= 0.9 and m["category"] >= 0.9, (m, captions[:5])
    bg = background_named(captions, [stimuli.attributes(i) for i in ids])
    assert bg["n"] >= 20 and bg["rate"] >= 0.9, (bg, captions[:5])
    # a blend of same-colour, same-category images reads as that colour and category
    faces = [i for i in range(200) if stimuli.category(i) == "face"
             and stimuli.attributes(i)["main_colour"] == "red"]  # fmt: skip
    blend = embed_images(clip, stimuli.images(faces)).mean(0, keepdims=True)
    named = caption_accuracy(caption_embeddings(loaded.model, loaded.tokenizer, blend),
                             [stimuli.attributes(faces[0])])  # fmt: skip
    assert len(faces) >= 4 and named["colour"] == named["category"] == 1.0


def _fake_clipcap_coco(folder, n_embd=16, prefix_length=10, clip_dim=512, hidden=24):
    """A coco_weights.pt with the published key names (tiny random GPT-2) and a gpt2/ folder
    with its config and a tiny byte-level BPE tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2LMHeadModel, GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        ["A man riding a horse.", "Two dogs play in the grass."],
        vocab_size=300,
        min_frequency=1,
        special_tokens=["<|endoftext|>"],
    )
    end = "<|endoftext|>"
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, bos_token=end,
                                  eos_token=end, unk_token=end)  # fmt: skip
    config = _tiny_gpt2(len(tokenizer), bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    torch.manual_seed(0)
    gpt = GPT2LMHeadModel(config)
    gen = torch.Generator().manual_seed(1)
    state = {f"gpt.{k}": v.clone() for k, v in gpt.state_dict().items()}
    state["gpt.transformer.h.0.attn.bias"] = torch.ones(1, 1, 32, 32)  # an old buffer
    state |= {
        "clip_project.model.0.weight": torch.randn(hidden, clip_dim, generator=gen) * 0.05,
        "clip_project.model.0.bias": torch.zeros(hidden),
        "clip_project.model.2.weight": torch.randn(prefix_length * n_embd, hidden, generator=gen),
        "clip_project.model.2.bias": torch.zeros(prefix_length * n_embd),
    }
    folder.mkdir(parents=True)
    torch.save(state, folder / "coco_weights.pt")
    config.save_pretrained(folder / "gpt2")
    tokenizer.save_pretrained(folder / "gpt2")
    return state


def test_the_published_clipcap_checkpoint_loads_through_the_registry(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        load_model("clipcap-coco", root=tmp_path)
    msg = str(err.value)
    assert "huggingface-cli download akhaliq/CLIP-prefix-captioning-COCO-weights" in msg
    assert str(tmp_path / "clipcap-coco") in msg
    state = _fake_clipcap_coco(tmp_path / "clipcap-coco")
    loaded = load_model("clipcap-coco", root=tmp_path)
    model = loaded.model
    assert isinstance(model, ClipPrefixCaptioner)
    cfg = model.config
    assert (cfg.prefix_length, cfg.clip_dim, cfg.hidden) == (10, 512, 24)
    assert (cfg.clip_model, cfg.normalisation) == ("ViT-B-32/openai", "none")
    assert cfg.stop_tokens == (".",)
    got = model.state_dict()
    for key in ("clip_project.model.2.weight", "gpt.transformer.h.0.attn.c_attn.weight",
                "gpt.transformer.wte.weight"):  # fmt: skip
        assert torch.equal(got[key], state[key]), key
    assert torch.equal(got["gpt.lm_head.weight"], state["gpt.transformer.wte.weight"])
    emb = np.random.default_rng(0).normal(size=(3, 512)).astype(np.float32)
    captions = caption_embeddings(model, loaded.tokenizer, emb, num_beams=2, max_new_tokens=5)
    assert len(captions) == 3 and all(isinstance(c, str) for c in captions)
    from neurodecode.models import file_sha256

    assert loaded.weights_sha256 == file_sha256(tmp_path / "clipcap-coco" / "coco_weights.pt")


def test_a_clipcap_checkpoint_without_gpt2_or_with_the_wrong_keys_fails_clearly(tmp_path):
    from neurodecode.models import load_clipcap_checkpoint

    folder = tmp_path / "clipcap-coco"
    _fake_clipcap_coco(folder)
    (folder / "gpt2").rename(tmp_path / "elsewhere")
    with pytest.raises(WeightsNotFoundError, match=r"openai-community/gpt2.*clipcap-coco/gpt2"):
        load_model("clipcap-coco", root=tmp_path)
    torch.save({"model.0.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt: not a ClipCap MLP checkpoint"):
        load_clipcap_checkpoint(tmp_path / "other.pt", tmp_path / "elsewhere")
    (tmp_path / "broken.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"broken\.pt: not a readable torch state dict"):
        load_clipcap_checkpoint(tmp_path / "broken.pt", tmp_path / "elsewhere")
    state = torch.load(folder / "coco_weights.pt", weights_only=True)
    del state["gpt.transformer.h.0.mlp.c_fc.weight"]
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match=r"1 tensors missing.*mlp\.c_fc\.weight"):
        load_clipcap_checkpoint(tmp_path / "partial.pt", tmp_path / "elsewhere")
