"""The one Subject API shared by every dataset reader.

A :class:`Subject` is a trial table plus lazy access to the betas behind it. Rows of the trial
table are the rows of every array this class returns; columns ("voxel columns") are the voxels
listed in ``geometry.ijk`` (or, for ROI-level releases, the concatenated ROI voxels). Betas are
read one session file at a time and only at the columns asked for, so no call holds more than
one session's ``(trials, columns)`` block besides its result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neurodecode.data._noise_ceiling import (
    inverse_repeats,
    ncsnr_from_repeats,
    noise_ceiling_from_ncsnr,
)
from neurodecode.data._splits import Split, assignment_hash

if TYPE_CHECKING:
    import nibabel as nib
    import pandas as pd

__all__ = ["Subject", "VolumeGeometry"]

#: Columns of every trial table, in this order.
TRIAL_COLUMNS = ("trial", "session", "run", "trial_in_session", "stim_id", "repeat", "split")


@dataclasses.dataclass(frozen=True, eq=False)
class VolumeGeometry:
    """Where the voxel columns lie: the reference grid and its affine, from the release files.

    Parameters
    ----------
    affine : ndarray, shape (4, 4)
        Voxel -> world transform (NSD/BOLD5000: the brain mask's).
    shape : tuple of int
        Grid shape ``(X, Y, Z)``.
    ijk : ndarray of int, shape (n_voxels, 3)
        Voxel indices of the columns, in C order over ``(X, Y, Z)`` (``volume[mask]`` order).
    """

    affine: np.ndarray
    shape: tuple[int, int, int]
    ijk: np.ndarray


class Subject:
    """One subject of one dataset release: trials, lazy betas, ROIs, splits, noise ceiling.

    Use :func:`neurodecode.data.load_subject` (or the dataset readers) to build one.

    Attributes
    ----------
    dataset : str
        ``"nsd"`` or ``"bold5000"``.
    label : str
        The dataset's own subject label (``"subj01"``, ``"CSI1"``).
    root : Path
        Release root.
    trials : pandas.DataFrame
        One row per beta row: ``trial`` (0-based global trial index of the design), ``session``
        (1-based; NA where the release has no sessions), ``run`` (1-based; NA when unknown),
        ``trial_in_session`` (0-based index into the session file's trial axis), ``stim_id``
        (0-based), ``repeat`` (0 for the first showing), ``split`` (``"train"``/``"test"``).
        Treat it as read-only.
    splits : dict of str to Split
        The named splits; their trials are values of ``trials["trial"]``.
    geometry : VolumeGeometry or None
        None for ROI-level data, which has no volume.
    stimuli
        Lazy stimulus access (``images(ids)``, ``captions(ids)``).
    """

    dataset: str

    def __init__(
        self,
        *,
        label: str,
        root: Path,
        trials: pd.DataFrame,
        splits: dict[str, Split],
        geometry: VolumeGeometry | None,
        n_voxels: int,
        stimuli: Any,
        blocks: np.ndarray,
        block_index: np.ndarray,
    ) -> None:
        self.label = label
        self.root = Path(root)
        self.trials = trials
        self.splits = splits
        self.geometry = geometry
        self._stimuli = stimuli
        self._n_voxels = int(n_voxels)
        # Row r of the table is row block_index[r] of the file blocks[r] (a session file).
        self._blocks = np.asarray(blocks, dtype=np.int64)
        self._block_index = np.asarray(block_index, dtype=np.int64)

    # ------------------------------------------------------------------ dataset hooks
    def _read_block(self, block: int, columns: np.ndarray) -> np.ndarray:
        """All trials of one session file at ``columns``: float32 ``(n_in_file, n_columns)``."""
        raise NotImplementedError

    def _load_rois(self) -> tuple[dict[str, np.ndarray], dict[str, dict[int, str]]]:
        """ROI name -> boolean column mask, and atlas -> {label value: name}."""
        raise NotImplementedError

    def _load_ncsnr(self) -> np.ndarray | None:
        """The release's ncsnr per column, or None when the release has none."""
        return None

    def _read_rows(self, block: int, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (indices into the block's trial axis) of one block at ``columns``.

        The default reads the whole block; readers that can seek to rows override it.
        """
        return self._read_block(block, columns)[rows]

    def _open_stimuli(self) -> Any:
        """The stimulus source, for readers that open it on first use."""
        raise ValueError(f"{self.label}: no stimuli are known for this subject")

    def label_atlases(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        """Atlas -> (int label per column, 0 = unlabelled; names of labels 1..K).

        This is what the prepared cache stores. The default makes one single-label atlas per
        ROI mask; readers of releases with multi-label atlases (NSD) override it.
        """
        return {name: (mask.astype(np.int16), [name]) for name, mask in self.rois.items()}

    def source_files(self) -> list[Path]:
        """The release files this subject's arrays are read from (for provenance)."""
        return []

    @property
    def stimuli(self) -> Any:
        """Lazy stimulus access (``images(ids)``, ``captions(ids)``)."""
        if self._stimuli is None:
            self._stimuli = self._open_stimuli()
        return self._stimuli

    # ------------------------------------------------------------------ geometry
    @property
    def n_trials(self) -> int:
        return len(self.trials)

    @property
    def n_voxels(self) -> int:
        return self._n_voxels

    def _geometry(self) -> VolumeGeometry:
        if self.geometry is None:
            raise ValueError(
                f"{self.dataset} {self.label}: ROI-level data has no volume (the release carries "
                "no voxel coordinates), so there is no affine, grid or unmask"
            )
        return self.geometry

    @property
    def affine(self) -> np.ndarray:
        return self._geometry().affine

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._geometry().shape

    @property
    def ijk(self) -> np.ndarray:
        return self._geometry().ijk

    # ------------------------------------------------------------------ ROIs and splits
    @cached_property
    def _roi_tables(self) -> tuple[dict[str, np.ndarray], dict[str, dict[int, str]]]:
        return self._load_rois()

    @property
    def rois(self) -> dict[str, np.ndarray]:
        """ROI name -> boolean mask over the voxel columns (read on first use)."""
        return self._roi_tables[0]

    @property
    def roi_labels(self) -> dict[str, dict[int, str]]:
        """Atlas -> {label value: label name} as the release names them."""
        return self._roi_tables[1]

    def columns(self, roi: str | None = None) -> np.ndarray:
        """Column indices of ``roi`` (all columns for None)."""
        if roi is None:
            return np.arange(self.n_voxels)
        if roi not in self.rois:
            raise KeyError(f"{self.label}: no ROI {roi!r}; known: {sorted(self.rois)}")
        return np.flatnonzero(self.rois[roi])

    def split(self, name: str) -> np.ndarray:
        """Row indices of the trials in split ``name``."""
        if name not in self.splits:
            raise KeyError(f"{self.label}: no split {name!r}; splits: {sorted(self.splits)}")
        return np.flatnonzero(self.trials["split"].to_numpy() == name)

    @property
    def split_hash(self) -> str:
        """sha256 of the whole trial -> split assignment (what the prepared cache records)."""
        return assignment_hash(self.trials["trial"], self.trials["split"])

    # ------------------------------------------------------------------ betas
    def iter_sessions(
        self, columns: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(rows, betas)`` per session file, betas float32 ``(len(rows), n_columns)``."""
        cols = np.arange(self.n_voxels) if columns is None else np.asarray(columns)
        for block in np.unique(self._blocks).tolist():
            rows = np.flatnonzero(self._blocks == block)
            yield rows, self._read_rows(block, self._block_index[rows], cols)

    def read_betas(
        self, rows: np.ndarray | None = None, columns: np.ndarray | str | None = None
    ) -> np.ndarray:
        """Betas (PSC for NSD/BOLD5000) float32 ``(n_rows, n_columns)``, read session by session.

        Parameters
        ----------
        rows : array of int, optional
            Row indices of :attr:`trials` (any order, repeats allowed); default all rows.
        columns : array of int, or str, optional
            Column indices, or an ROI name; default all columns.
        """
        rows = np.arange(self.n_trials) if rows is None else np.asarray(rows, dtype=np.int64)
        cols = (
            self.columns(columns)
            if columns is None or isinstance(columns, str)
            else (np.asarray(columns, dtype=np.int64))
        )
        out = np.empty((rows.size, cols.size), dtype=np.float32)
        blocks = self._blocks[rows]
        for block in np.unique(blocks).tolist():
            sel = np.flatnonzero(blocks == block)
            out[sel] = self._read_rows(block, self._block_index[rows[sel]], cols)
        return out

    def select(
        self, roi: str | None = None, split: str | None = None, average_repeats: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Responses float32 ``(n_samples, n_columns_in_roi)`` and their stimulus ids.

        With ``average_repeats`` the trials of each stimulus are averaged, whatever their number
        (NSD subjects with fewer sessions have shared images seen once or twice); rows are then
        sorted by stimulus id. Otherwise rows follow the trial table.
        """
        rows = np.arange(self.n_trials) if split is None else self.split(split)
        data = self.read_betas(rows, self.columns(roi))
        stim = self.trials["stim_id"].to_numpy()[rows]
        if not average_repeats:
            return data, stim
        ids, inverse, counts = np.unique(stim, return_inverse=True, return_counts=True)
        if ids.size == 0:
            return data, ids
        # Sorted rows + reduceat: np.add.at is an order of magnitude slower on 2-D arrays.
        order = np.argsort(inverse, kind="stable")
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        sums = np.add.reduceat(data[order], starts, axis=0, dtype=np.float64)
        return (sums / counts[:, None]).astype(np.float32), ids

    # ------------------------------------------------------------------ noise ceiling
    @cached_property
    def ncsnr(self) -> np.ndarray:
        """ncsnr per column: the release's map where it has one, else estimated from repeats.

        The estimate z-scores every session file over its trials and applies the NSD
        definition (:func:`ncsnr_from_repeats`) to the stimuli shown at least twice; it holds
        only those trials' ``(rows, columns)`` in memory.
        """
        release = self._load_ncsnr()
        if release is not None:
            return release
        stim = self.trials["stim_id"].to_numpy()
        _, inverse, counts = np.unique(stim, return_inverse=True, return_counts=True)
        repeated = counts[inverse] >= 2
        parts, ids = [], []
        for rows, data in self._iter_zscored():
            keep = repeated[rows]
            parts.append(data[keep])
            ids.append(stim[rows][keep])
        if not parts:
            raise ValueError(f"{self.label}: no trials to estimate ncsnr from")
        return ncsnr_from_repeats(np.concatenate(parts), np.concatenate(ids))

    def _iter_zscored(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        cols = np.arange(self.n_voxels)
        for block in np.unique(self._blocks).tolist():
            rows = np.flatnonzero(self._blocks == block)
            # statistics over the block's trials (a whole session file in every release)
            data = self._read_rows(block, self._block_index[rows], cols)
            mean = data.mean(axis=0, dtype=np.float64)
            std = data.std(axis=0, dtype=np.float64)
            z = (data - mean.astype(np.float32)) / np.where(std > 0, std, 1.0).astype(np.float32)
            yield rows, z

    def noise_ceiling(self, n: int | None = None, roi: str | None = None) -> np.ndarray:
        """Noise ceiling (% variance) per column, NC = 100 ncsnr^2 / (ncsnr^2 + 1/n).

        Parameters
        ----------
        n : int, optional
            Number of trials averaged. None: the test split's repeat structure, replacing 1/n
            by (A/3 + B/2 + C/1) / (A + B + C) over images with 3, 2, 1 repeats (in general the
            mean of 1/count).
        roi : str, optional
            Restrict to the ROI's columns.
        """
        if n is None:
            test = self.trials.loc[self.split("test"), "stim_id"].to_numpy()
            if test.size == 0:
                raise ValueError(f"{self.label}: the test split is empty; pass n explicitly")
            inv_n = inverse_repeats(np.unique(test, return_counts=True)[1])
        else:
            if n < 1:
                raise ValueError(f"n must be >= 1, got {n}")
            inv_n = 1.0 / n
        return noise_ceiling_from_ncsnr(self.ncsnr[self.columns(roi)], inv_n)

    # ------------------------------------------------------------------ volumes
    def unmask(
        self, values: np.ndarray, roi: str | None = None, fill: float = 0.0
    ) -> nib.Nifti1Image:
        """Put per-column values back on the grid: a float32 image with the release's affine.

        Parameters
        ----------
        values : ndarray, shape (n_columns,) or (n_columns, k)
            One value (or k) per column of ``roi`` (all columns when ``roi`` is None).
        roi : str, optional
            The ROI whose columns ``values`` cover.
        fill : float
            Value outside the columns.
        """
        import nibabel as nib

        geometry = self._geometry()
        cols = self.columns(roi)
        values = np.asarray(values)
        if values.ndim not in (1, 2) or values.shape[0] != cols.size:
            raise ValueError(
                f"expected values of shape ({cols.size},) or ({cols.size}, k), got {values.shape}"
            )
        vol = np.full(geometry.shape + values.shape[1:], fill, dtype=np.float32)
        i, j, k = geometry.ijk[cols].T
        vol[i, j, k] = values
        return nib.Nifti1Image(vol, geometry.affine)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.label!r}, trials={self.n_trials}, "
            f"voxels={self.n_voxels}, root={str(self.root)!r})"
        )
