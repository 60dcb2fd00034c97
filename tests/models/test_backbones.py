"""The image-metric suite's real backbones load through the registry from local checkpoints.

No real weights are on this machine, so randomly initialised torchvision networks are saved
under the checkpoint names the registry expects (torchvision's own file names, SwAV's with
its ``module.`` prefix and projection head) and loaded back as feature extractors; each
extractor's features must equal the named layer computed directly on the same network.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from neurodecode.features import get_extractor  # noqa: E402
from neurodecode.models import WeightsNotFoundError  # noqa: E402


def _images(n=3, side=64):
    return np.random.default_rng(0).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def _direct(net, layer, x):
    from torchvision.models.feature_extraction import create_feature_extractor

    body = create_feature_extractor(net.eval(), return_nodes={layer: "out"})
    with torch.no_grad():
        return torch.flatten(body(x)["out"], 1).numpy()


def _pixels(images, side):
    from neurodecode.models import images_to_tensor

    x = images_to_tensor(images, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    return torch.nn.functional.interpolate(x, size=(side, side), mode="bicubic",
                                           align_corners=False)  # fmt: skip


def test_alexnet_layers_are_read_from_the_torchvision_checkpoint(tmp_path):
    from torchvision.models import alexnet

    torch.manual_seed(0)
    net = alexnet(weights=None)
    saved = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(net.state_dict(), saved)
    for layer, width in (("features.4", 192 * 27 * 27), ("features.11", 256 * 13 * 13)):
        folder = tmp_path / "alexnet" / layer
        folder.mkdir(parents=True)
        os.link(saved, folder / saved.name)  # one checkpoint, found under each layer's name
        ex = get_extractor(f"alexnet/{layer}", root=str(tmp_path))
        feats = ex(_images())
        assert feats.shape == (3, width)
        np.testing.assert_allclose(feats, _direct(net, layer, _pixels(_images(), 224)),
                                   rtol=1e-4, atol=1e-4)  # fmt: skip
        assert ex.loaded.weights_sha256


def test_swav_checkpoint_with_prefix_and_head_loads_its_trunk(tmp_path):
    from torchvision.models import resnet50

    torch.manual_seed(1)
    net = resnet50(weights=None)
    state = {f"module.{k}": v for k, v in net.state_dict().items() if not k.startswith("fc.")}
    state["module.projection_head.0.weight"] = torch.zeros(8, 2048)  # SwAV's extra tensors
    state["module.prototypes.weight"] = torch.zeros(16, 8)
    folder = tmp_path / "swav-resnet50"
    folder.mkdir()
    torch.save(state, folder / "swav_800ep_pretrain.pth.tar")
    feats = get_extractor("swav-resnet50", root=str(tmp_path))(_images())
    assert feats.shape == (3, 2048)
    np.testing.assert_allclose(feats, _direct(net, "avgpool", _pixels(_images(), 224)),
                               rtol=1e-4, atol=1e-4)  # fmt: skip


def test_a_checkpoint_of_another_network_is_refused_by_name(tmp_path):
    from torchvision.models import alexnet

    folder = tmp_path / "swav-resnet50"
    folder.mkdir()
    torch.save(alexnet(weights=None).state_dict(), folder / "swav_800ep_pretrain.pth.tar")
    with pytest.raises(ValueError, match=r"swav_800ep_pretrain\.pth\.tar: not a resnet50"):
        get_extractor("swav-resnet50", root=str(tmp_path))(_images())


@pytest.mark.parametrize(
    ("name", "file"),
    [("inception_v3", "inception_v3_google-0cc3c7bd.pth"),
     ("efficientnet_b1", "efficientnet_b1-c27df63c.pth"),
     ("swav-resnet50", "swav_800ep_pretrain.pth.tar")],
)  # fmt: skip
def test_missing_backbone_weights_say_what_to_download_and_where(tmp_path, monkeypatch, name, file):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsNotFoundError, match=file) as info:
        get_extractor(name, root=str(tmp_path))(_images())
    assert str(tmp_path / name) in str(info.value)
