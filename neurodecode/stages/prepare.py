"""``neurodecode prepare``: read a subject's session betas once and write the prepared cache.

The release is read through its registered Subject reader; see :mod:`neurodecode.data._prepare`
for what the cache holds and how it is z-scored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neurodecode.data._datasets import dataset_names
from neurodecode.stages._contract import StageConfig, StageOutputs, StageSpec, fill_doc, option

__all__ = ["STAGES", "PrepareOutputs", "PrepareStageConfig", "run"]


@fill_doc
@dataclasses.dataclass(frozen=True)
class PrepareStageConfig(StageConfig):
    """Settings of ``neurodecode prepare``.

    Parameters
    ----------
    dataset : str
        %(dataset)s
    root : Path
        %(root)s
    subject : str
        %(subject)s
    out : Path
        Cache root (files go to OUT/sub-SUBJECT/), or the cache's index file itself.
    roi : str or None
        ROI whose voxels are the columns, or 'all' for every brain voxel (default: the dataset's).
    fmt : str
        Session-file format read: auto, hdf5 or nii.gz.
    space : str or None
        Grid label (default: the dataset's: func1pt8mm for NSD, T1w for BOLD5000).
    sessions : tuple of int or None
        1-based sessions to read (default: every session file present).
    atlases : tuple of str or None
        Atlases kept as ROIs (default: every atlas of the release).
    nonfinite : str
        NaN/infinite betas: 'mask' (left out, stored as 0, counted in the sidecar) or 'refuse'.
    progress : bool
        Show a progress bar over the sessions.
    """

    dataset: str = option(choices=dataset_names)
    root: Path = option()
    subject: str = option(pattern=r"[A-Za-z0-9]+")
    out: Path = option()
    roi: str | None = None
    fmt: str = option("auto", choices=("auto", "hdf5", "nii.gz"))
    space: str | None = option(None, pattern=r"[A-Za-z0-9]+")
    sessions: tuple[int, ...] | None = option(None, minimum=1)
    atlases: tuple[str, ...] | None = None
    nonfinite: str = option("mask", choices=("mask", "refuse"))
    progress: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        from neurodecode.data import get_dataset

        spec = get_dataset(self.dataset)
        if self.fmt != "auto" and self.fmt not in spec.beta_formats:
            raise ValueError(f"--fmt {self.fmt}: {self.dataset} betas are {spec.beta_formats}")

    def data_config(self) -> Any:
        """The :class:`neurodecode.data.PrepareConfig` this run prepares."""
        from neurodecode.data import PrepareConfig, get_dataset
        from neurodecode.data._cache import CachePaths

        spec = get_dataset(self.dataset)
        space = self.space or spec.default_space
        roi = spec.default_roi if self.roi is None else (None if self.roi == "all" else self.roi)
        out = Path(self.out)
        if out.suffix == ".h5":  # a Snakemake rule names the index file; the root is two up
            expected = CachePaths.of(out.parent.parent, self.subject, space).meta
            if out.resolve() != expected.resolve():
                raise ValueError(f"--out {out}: a file path must be {expected}")
            out = out.parent.parent
        return PrepareConfig(
            dataset=self.dataset, root=self.root, subject=self.subject, out=out, roi=roi,
            fmt=self.fmt, space=space, sessions=self.sessions, atlases=self.atlases,
            nonfinite=self.nonfinite,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class PrepareOutputs(StageOutputs):
    """The cache files: betas (.npy), trial table (.tsv) and voxel metadata (.h5)."""

    betas: Path
    trials: Path
    meta: Path

    @property
    def paths(self) -> Any:
        from neurodecode.data._cache import CachePaths

        prefix = "_space-"
        folder = self.meta.parent
        subject = folder.name.removeprefix("sub-")
        space = self.meta.name.split(prefix, 1)[1].split("_desc-", 1)[0]
        return CachePaths(folder, subject, space)


def run(config: PrepareStageConfig, *, progress: Callable | None = None) -> PrepareOutputs:
    """Prepare the cache (or find it current); return its files."""
    from tqdm import tqdm

    from neurodecode.data._prepare import prepare_subject

    data_config = config.data_config()

    def bar(items):
        return tqdm(
            items, desc=f"prepare {config.subject}", unit="session", disable=not config.progress
        )

    paths = prepare_subject(data_config, progress=progress or bar)
    return PrepareOutputs(betas=paths.betas, trials=paths.trials, meta=paths.meta)


STAGES = (
    StageSpec(
        "prepare",
        "mask, scale and z-score betas into a cache",
        PrepareStageConfig,
        run,
        report=lambda out: str(out.meta),
    ),
)
