"""Lazy stimulus access by stimulus id: images and COCO captions.

NSD images come from the ``imgBrick`` HDF5 dataset (73,000 x 425 x 425 x 3 uint8, ~40 GB), read
in sorted, de-duplicated batches of the ids asked for (h5py fancy indexing needs increasing
indices); the brick is never read whole. BOLD5000 images are individual files. Captions are
COCO's annotation JSONs, loaded the first time captions are asked for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data import _nsd_layout as nsd
from neurodecode.data._errors import ReleaseError
from neurodecode.data._volumes import find_file, open_hdf5, read_json, read_table

__all__ = ["BOLD5000Stimuli", "NSDStimuli"]

#: Images per h5py read: 64 NSD images are ~35 MB.
_BATCH = 64
_COCO_NAME = re.compile(r"^COCO_(?P<split>[a-z]+\d{4})_(?P<id>\d+)\.\w+$")
_IMAGENET_NAME = re.compile(r"^n\d+_\d+\.JPEG$", re.IGNORECASE)


def inside(path: Path, root: Path, what: str) -> Path:
    """``path`` resolved; a :class:`ReleaseError` when it leaves ``root``."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        raise ReleaseError(path, f"{what} leads outside the release root {root}")
    return resolved


def _resize(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or image.shape[:2] == tuple(size):
        return image
    from PIL import Image

    h, w = size
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BICUBIC))


def _caption_index(path: Path) -> dict[int, list[str]]:
    """image id -> captions from a COCO annotation JSON."""
    data = read_json(path)
    try:
        index: dict[int, list[str]] = {int(img["id"]): [] for img in data["images"]}
        for ann in data["annotations"]:
            index.setdefault(int(ann["image_id"]), []).append(str(ann["caption"]).strip())
    except (KeyError, TypeError, ValueError) as exc:
        raise ReleaseError(
            path,
            f"not a COCO caption file ({exc})",
            "'images' and 'annotations' with 'image_id' and 'caption'",
        ) from exc
    return index


class _CaptionFiles:
    """COCO caption JSONs loaded on first use, one per split name."""

    def __init__(self, path_of) -> None:
        self._path_of = path_of
        self._loaded: dict[str, dict[int, list[str]]] = {}

    def get(self, split: str, image_id: int) -> list[str]:
        if split not in self._loaded:
            self._loaded[split] = _caption_index(self._path_of(split))
        return list(self._loaded[split].get(image_id, []))


class NSDStimuli:
    """The NSD images (``nsd_stimuli.hdf5``) and their COCO captions, by 0-based ``nsdId``.

    Parameters
    ----------
    root : path-like
        NSD release root.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.path = self.root / nsd.stimuli_path()
        self._captions = _CaptionFiles(lambda split: self.root / nsd.captions_path(split))

    @cached_property
    def _brick_shape(self) -> tuple[int, ...]:
        with open_hdf5(self.path) as fh:
            return tuple(self._brick(fh).shape)

    def _brick(self, fh):
        dset = fh.get(nsd.IMAGE_BRICK_DATASET)
        if dset is None or dset.ndim != 4 or dset.shape[3] != 3 or dset.dtype != np.uint8:
            got = "absent" if dset is None else f"{dset.shape} {dset.dtype}"
            raise ReleaseError(
                self.path,
                f"dataset /{nsd.IMAGE_BRICK_DATASET} is {got}",
                "uint8 (n_images, height, width, 3)",
            )
        return dset

    def __len__(self) -> int:
        return int(self._brick_shape[0])

    def images(self, ids: Sequence[int], size: tuple[int, int] | None = None) -> np.ndarray:
        """uint8 RGB images ``(len(ids), H, W, 3)`` in the order of ``ids``.

        ``size=(H, W)`` resizes (bicubic); by default the stored size (425 x 425) is kept.
        """
        unique, inverse = np.unique(np.asarray(ids, dtype=np.int64).ravel(), return_inverse=True)
        with open_hdf5(self.path) as fh:
            dset = self._brick(fh)
            if unique.size and (unique[0] < 0 or unique[-1] >= dset.shape[0]):
                raise IndexError(f"stimulus ids must lie in 0..{dset.shape[0] - 1}")
            h, w = size if size is not None else dset.shape[1:3]
            out = np.empty((unique.size, h, w, 3), dtype=np.uint8)
            for start in range(0, unique.size, _BATCH):
                batch = unique[start : start + _BATCH]
                block = dset[batch.tolist()]
                for n, image in enumerate(block):
                    out[start + n] = _resize(image, size)
        return out[inverse]

    @cached_property
    def info(self):
        """``nsd_stim_info_merged.csv`` indexed by nsdId (cocoId and cocoSplit are used)."""
        path = self.root / nsd.stim_info_path()
        return read_table(path, ("cocoId", "cocoSplit"), index_col=0)

    def captions(self, ids: Sequence[int]) -> list[list[str]]:
        """COCO captions of each nsdId (about five each), through the CSV's cocoId/cocoSplit.

        Raises :class:`ReleaseError` naming ``captions_<split>.json`` when it is not in place.
        """
        info = self.info
        out = []
        for i in np.asarray(ids, dtype=np.int64).ravel().tolist():
            if i not in info.index:
                raise ReleaseError(
                    self.root / nsd.stim_info_path(), f"has no row for nsdId {i}",
                    "one row per stimulus",
                )  # fmt: skip
            row = info.loc[i]
            try:
                coco_id = int(row["cocoId"])
            except (TypeError, ValueError):
                raise ReleaseError(
                    self.root / nsd.stim_info_path(),
                    f"cocoId of nsdId {i} is {row['cocoId']!r}",
                    "an integer COCO image id",
                ) from None
            out.append(self._captions.get(str(row["cocoSplit"]), coco_id))
        return out


class BOLD5000Stimuli:
    """BOLD5000 images by stimulus id, an index into the sorted unique image-name table.

    Parameters
    ----------
    root : path-like
        Root holding ``BOLD5000_Stimuli``.
    names : sequence of str
        The subject's sorted unique image file names (``stim_id`` = position).
    """

    def __init__(self, root: str | os.PathLike[str], names: Sequence[str]) -> None:
        self.root = Path(root)
        self.names: tuple[str, ...] = tuple(names)
        # The caption JSON's folder is our default, not the release's: search by file name.
        self._captions = _CaptionFiles(lambda split: find_file(self.root, b5k.captions_path(split)))

    def __len__(self) -> int:
        return len(self.names)

    @staticmethod
    def source(name: str) -> str:
        """``'COCO'``, ``'ImageNet'`` or ``'Scene'`` from the file-name pattern."""
        if _COCO_NAME.match(name):
            return "COCO"
        if _IMAGENET_NAME.match(name):
            return "ImageNet"
        return "Scene"

    def path(self, stim_id: int) -> Path:
        """File of one stimulus under ``Presented_Stimuli/<source>/``.

        A name from the release's lists that would lead outside the release root (``../``, an
        absolute path, a link out) is refused: release-provided paths never leave the root.
        """
        name = self.names[stim_id]
        path = self.root / b5k.stimulus_path(self.source(name), name)
        inside(path, self.root, f"image name {name!r}")
        return path

    def images(self, ids: Sequence[int], size: tuple[int, int] | None = None) -> np.ndarray:
        """uint8 RGB images ``(len(ids), H, W, 3)``; ``size=(H, W)`` resizes them.

        Without ``size`` all images must share one size (BOLD5000's sources differ), else a
        ``ValueError`` asks for one.
        """
        from PIL import Image, UnidentifiedImageError

        images = []
        for i in np.asarray(ids, dtype=np.int64).ravel().tolist():
            path = self.path(i)
            if not path.is_file():
                raise ReleaseError(path, "stimulus image is missing")
            try:
                with Image.open(path) as img:
                    arr = np.asarray(img.convert("RGB"))
            except (OSError, UnidentifiedImageError) as exc:
                raise ReleaseError(path, f"unreadable image ({exc})") from exc
            images.append(_resize(arr, size))
        if len({im.shape for im in images}) > 1:
            raise ValueError("BOLD5000 images differ in size; pass size=(H, W) to resize them")
        if not images:
            h, w = size if size is not None else (0, 0)
            return np.empty((0, h, w, 3), dtype=np.uint8)
        return np.stack(images)

    def captions(self, ids: Sequence[int]) -> list[list[str]]:
        """COCO 2014 captions for COCO images; ImageNet and Scene images have none (``[]``)."""
        out = []
        for i in np.asarray(ids, dtype=np.int64).ravel().tolist():
            match = _COCO_NAME.match(self.names[i])
            out.append(self._captions.get(match["split"], int(match["id"])) if match else [])
        return out
