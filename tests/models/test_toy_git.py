"""The toy GIT captioner: vocabulary, processor, training, and the shipped model's quality."""

from __future__ import annotations

import dataclasses
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from neurodecode.models._toy_git import (  # noqa: E402
    build_git_vocab,
    git_image_tensor,
    toy_git_processor,
    vocab_texts,
)
from neurodecode.synth import StimulusSet  # noqa: E402


def test_the_compact_vocabulary_covers_held_out_captions_without_unknown_tokens():
    stimuli = StimulusSet(200_000, 0, 64)
    vocab = build_git_vocab(vocab_texts(stimuli, range(100_000, 102_000)))
    assert list(vocab)[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    processor = toy_git_processor(vocab)
    held_out = [c for i in range(300) for c in stimuli.captions(i)]
    ids = processor.tokenizer(held_out).input_ids
    assert all(vocab["[UNK]"] not in row for row in ids)
    back = processor.batch_decode(ids[:3], skip_special_tokens=True)
    assert [b.replace(" ", "") for b in back] == [c.lower().replace(" ", "") for c in held_out[:3]]


def test_the_fast_pixel_path_equals_the_processor():
    processor = toy_git_processor(build_git_vocab(["a red star"]))
    images = StimulusSet(100, 0, 64).images(range(6))
    want = processor(images=list(images), return_tensors="pt").pixel_values
    torch.testing.assert_close(git_image_tensor(images, processor), want, atol=1e-5, rtol=0)


def test_a_short_training_run_saves_a_loadable_model_with_its_card(tmp_path):
    from neurodecode.models._toy_git import load_toy_git
    from neurodecode.models._toy_git_train import ToyGitTrainConfig, train_toy_git

    cfg = ToyGitTrainConfig(steps=2, batch_size=4, warmup=1, n_eval=5, log_every=1, eval_every=0)
    lines: list[str] = []
    model, processor, _ = train_toy_git(cfg, out=tmp_path / "git", log=lines.append)
    assert any(line.startswith("step 2/2") for line in lines)
    card = (tmp_path / "git" / "README.md").read_text()
    assert "GitForCausalLM" in card and "neurodecode models train git" in card
    saved = json.loads((tmp_path / "git" / "training_report.json").read_text())
    assert saved["metrics"]["n"] == 5 and saved["n_vision_tokens"] == 17
    back, _ = load_toy_git(tmp_path / "git")
    pixels = git_image_tensor(StimulusSet(10, 0, 64).images(range(2)), processor)
    with torch.no_grad():
        got = back.generate(pixel_values=pixels, max_new_tokens=5)
        assert torch.equal(got, model.eval().generate(pixel_values=pixels, max_new_tokens=5))
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        load_toy_git(tmp_path / "missing")


def test_training_continues_from_a_saved_model_and_the_card_lists_both_stages(tmp_path):
    from neurodecode.models._registry import file_sha256
    from neurodecode.models._toy_git_train import ToyGitTrainConfig, train_toy_git

    small = {"batch_size": 4, "warmup": 1, "n_eval": 5, "log_every": 1, "eval_every": 0}
    _, first, _ = train_toy_git(ToyGitTrainConfig(steps=2, **small), out=tmp_path / "a",
                                log=lambda _: None)  # fmt: skip
    again = ToyGitTrainConfig(
        steps=1, seed=1, init_from=str(tmp_path / "a"), object_fraction=0.5, **small
    )
    _, second, report = train_toy_git(again, out=tmp_path / "b", log=lambda _: None)
    assert second.tokenizer.get_vocab() == first.tokenizer.get_vocab()
    assert [s["config"]["steps"] for s in report["stages"]] == [2, 1]
    assert report["stages"][0]["weights_sha256"] == file_sha256(
        tmp_path / "a" / "model.safetensors"
    )
    assert report["config"]["init_from"] == "a"  # a folder name, not this machine's path
    assert (
        file_sha256(tmp_path / "b" / "model.safetensors") != report["stages"][0]["weights_sha256"]
    )
    card = (tmp_path / "b" / "README.md").read_text()
    assert "in 2 stage(s)" in card and "--init-from stage1" in card
    assert "--object-fraction 0.5" in card and "making up 50% of each batch" in card
    with pytest.raises(ValueError, match="object_fraction"):
        ToyGitTrainConfig(object_fraction=1.5)
    with pytest.raises(ValueError, match="image_size"):
        train_toy_git(dataclasses.replace(again, image_size=32), log=lambda _: None)
    with pytest.raises(FileNotFoundError, match="training_report"):
        train_toy_git(dataclasses.replace(again, init_from=str(tmp_path)), log=lambda _: None)


def test_the_shipped_toy_git_names_colour_and_category_of_held_out_images():
    from neurodecode.models import load_model, resolve_weights
    from neurodecode.models._toy_git_train import evaluate_captioner

    report = json.loads((resolve_weights("toy-git") / "training_report.json").read_text())
    assert report["metrics"]["n"] == 1000
    assert report["metrics"]["colour"] >= 0.9 and report["metrics"]["category"] >= 0.9
    loaded = load_model("toy-git")
    again = evaluate_captioner(loaded.model, loaded.tokenizer, StimulusSet(1000, 0, 64),
                               range(200))  # fmt: skip
    assert again["colour"] >= 0.9 and again["category"] >= 0.9, again
    size = (resolve_weights("toy-git") / "model.safetensors").stat().st_size
    assert size < 8e6
