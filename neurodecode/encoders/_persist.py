"""Saving fitted encoders: ``config.json`` + ``model.safetensors`` in one folder.

Every encoder (ridge, banded ridge, contrastive) is saved in this form, as diffusers and
transformers save models: the JSON holds the class, its constructor parameters and the
package version; the safetensors file holds the fitted arrays. Loading checks the class name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "read_model_folder", "write_model_folder"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def write_model_folder(
    folder: str | os.PathLike[str], meta: Mapping[str, Any], arrays: Mapping[str, Any]
) -> Path:
    """Write ``meta`` as ``config.json`` and ``arrays`` (numpy arrays or torch tensors)."""
    from neurodecode import __version__
    from neurodecode._io import atomic_output_path, write_json_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = list(arrays.values())
    with atomic_output_path(folder / WEIGHTS_FILE) as tmp:
        if values and not isinstance(values[0], np.ndarray):
            from safetensors.torch import save_file as save_torch

            save_torch({k: v.detach().cpu().contiguous() for k, v in arrays.items()}, str(tmp))
        else:
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
    write_json_atomic(folder / CONFIG_FILE, {"package_version": __version__, **meta})
    return folder


def read_model_folder(
    folder: str | os.PathLike[str], expected_class: str | None = None, *, torch: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(meta, arrays)`` of a folder written by :func:`write_model_folder`.

    Raises ``FileNotFoundError`` naming the folder when a file is missing and ``ValueError``
    when it holds another class than ``expected_class``.
    """
    folder = Path(folder)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder}: no {name} (not a saved neurodecode model)")
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{folder / CONFIG_FILE}: not valid JSON ({exc})") from exc
    if expected_class is not None and meta.get("class") != expected_class:
        raise ValueError(f"{folder} holds a {meta.get('class')}, not a {expected_class}")
    if torch:
        from safetensors.torch import load_file as load_torch

        return meta, load_torch(str(folder / WEIGHTS_FILE))
    from safetensors.numpy import load_file

    return meta, load_file(str(folder / WEIGHTS_FILE))


def linear_readout(coef: np.ndarray, intercept: np.ndarray, columns: Any = None) -> Any:
    """A frozen ``torch.nn.Linear`` from features to voxels: ``x @ coef[:, cols] + b[cols]``.

    Differentiable with respect to its input, so a generator can be guided by the predicted
    response of any voxel set (BrainDiVE's readout).
    """
    import torch

    cols = slice(None) if columns is None else np.asarray(columns)
    W = np.asarray(coef, dtype=np.float32)[:, cols]
    b = np.asarray(intercept, dtype=np.float32)[cols]
    layer = torch.nn.Linear(W.shape[0], W.shape[1])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
        layer.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
    layer.requires_grad_(False)
    return layer.eval()
