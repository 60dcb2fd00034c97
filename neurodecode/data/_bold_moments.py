"""Reader of the BOLD Moments Dataset (versionB derivatives, MNI152 volumes).

The trial table comes from each main-experiment session's design record
(``conditionOrderDM.pkl``: the runs' ``vidNNNN`` trial types, concatenated, are the trial axis
of that session's ``betasmd``). Betas are GLMsingle's ``TYPED_FITHRF_GLMDENOISE_RR`` (percent
signal change), read one session file at a time at the asked-for voxel columns. Voxel columns
are the group mask's voxels in C order, as in every voxel vector of the release (prepared
betas, noise ceilings, ROI positions), or those of one ROI (``voxels=``). ROIs come from the
``ROI-*_indices.pkl`` files (each hemisphere, and both: ``MT`` = ``lMT`` | ``rMT``). ncsnr is
the release's, from the test split's noise-ceiling file. Every pickle is read through
:mod:`._pickles` (numpy arrays, dicts, lists and scalars only).

Stimulus ids are 0-based: video ``NNNN.mp4`` (condition ``vidNNNN``) is stimulus ``NNNN - 1``.
The test split is the release's: videos above 1000.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data import _bold_moments_layout as bmd
from neurodecode.data._errors import ReleaseError
from neurodecode.data._fastio import mask_to_ijk
from neurodecode.data._pickles import load_npy, load_pickle
from neurodecode.data._splits import make_split
from neurodecode.data._subject import Subject, VolumeGeometry
from neurodecode.data._volumes import read_volume

__all__ = ["BoldMomentsStimuli", "BoldMomentsSubject", "load_bold_moments_subject"]


def read_condition_order(path: Path) -> tuple[list[str], list[int]]:
    """Trial types (``vidNNNN``) of a session in trial order, and the run (1-based) of each."""
    data = load_pickle(path)
    try:
        events_run = data[0]
        names: list[str] = []
        runs: list[int] = []
        for run, events in enumerate(events_run, start=1):
            kinds = [str(t) for t in events["trial_type"]]
            names += kinds
            runs += [run] * len(kinds)
    except (TypeError, KeyError, IndexError) as exc:
        raise ReleaseError(
            path, f"not a GLM design record ({exc})", "(events_run: [{'trial_type': [...]}], ...)"
        ) from exc
    return names, runs


def read_session_betas(path: Path) -> np.ndarray:
    """``betasmd`` of a GLMsingle output file as ``(spatial..., trials)`` float32."""
    results = load_npy(path)
    if not isinstance(results, dict) or bmd.BETA_KEY not in results:
        got = sorted(results) if isinstance(results, dict) else type(results).__name__
        raise ReleaseError(path, f"no {bmd.BETA_KEY!r} in it (holds {got})", "GLMsingle results")
    betas = np.asarray(results[bmd.BETA_KEY])
    if betas.ndim < 2 or not np.issubdtype(betas.dtype, np.floating):
        raise ReleaseError(path, f"{bmd.BETA_KEY} is {betas.dtype} {betas.shape}",
                           "float (X, Y, Z, trials) or (voxels, 1, 1, trials)")  # fmt: skip
    return betas.astype(np.float32, copy=False)


class BoldMomentsSubject(Subject):
    """A BOLD Moments subject; see :func:`load_bold_moments_subject`."""

    dataset = "boldmoments"

    def __init__(
        self,
        root: str | os.PathLike[str],
        subject: str,
        *,
        space: str = bmd.DEFAULT_SPACE,
        sessions: Sequence[int] | None = None,
        voxels: str | None = None,
        beta_type: str = bmd.BETA_TYPE,
    ) -> None:
        import pandas as pd

        root = Path(root)
        bmd._check_subject(subject)
        if space not in bmd.VOLUME_SPACES:
            raise ValueError(
                f"space {space!r}: only {bmd.VOLUME_SPACES} is read (fsLR32k and fsaverage are "
                "surfaces, with no voxel grid for the Subject API)"
            )
        self.space, self.beta_type = space, beta_type
        self._mask_path = root / bmd.group_mask_path(space)
        mask, affine = read_volume(self._mask_path)
        self._mask_ijk = mask_to_ijk(mask > 0)
        self._grid = tuple(int(v) for v in mask.shape)
        wanted = self._sessions(root, subject, space, sessions)
        names, session, run, in_session = [], [], [], []
        self._files: dict[int, Path] = {}
        for s in wanted:
            self._files[s] = root / bmd.session_betas_path(subject, s, space, beta_type)
            kinds, runs = read_condition_order(root / bmd.condition_order_path(subject, s, space))
            names += kinds
            run += runs
            session += [s] * len(kinds)
            in_session += list(range(len(kinds)))
        path = root / bmd.condition_order_path(subject, wanted[0], space)
        try:
            numbers = np.array([bmd.parse_condition(n) for n in names], dtype=np.int64)
        except ValueError as exc:
            raise ReleaseError(path, str(exc), "vidNNNN trial types") from exc
        stim = numbers - 1  # video NNNN is stimulus NNNN - 1
        order = np.argsort(stim, kind="stable")
        repeat = np.empty(stim.size, dtype=np.int64)
        _, starts, counts = np.unique(stim[order], return_index=True, return_counts=True)
        repeat[order] = np.arange(stim.size) - np.repeat(starts, counts)
        is_test = numbers > bmd.N_TRAIN_VIDEOS
        trial = np.arange(stim.size, dtype=np.int64)
        trials = pd.DataFrame(
            {
                "trial": trial,
                "session": pd.array(session, dtype="Int64"),
                "run": pd.array(run, dtype="Int64"),
                "trial_in_session": pd.array(in_session, dtype="Int64"),
                "stim_id": stim,
                "repeat": repeat,
                "split": np.where(is_test, "test", "train"),
            }
        )
        rule = f"bold-moments test videos: numbered above {bmd.N_TRAIN_VIDEOS}"
        splits = {
            "train": make_split("train", f"not {rule}", trial[~is_test]),
            "test": make_split("test", rule, trial[is_test]),
        }
        self._root, self._subject = root, subject
        if voxels is None:
            self._positions = np.arange(len(self._mask_ijk))
        else:
            rois = self._roi_positions()
            if voxels not in rois:
                raise KeyError(f"sub-{subject}: no ROI {voxels!r}; known: {sorted(rois)}")
            self._positions = np.flatnonzero(rois[voxels])
        ijk = self._mask_ijk[self._positions]
        ijk.setflags(write=False)
        super().__init__(
            label=subject, root=root, trials=trials, splits=splits,
            geometry=VolumeGeometry(affine=affine, shape=self._grid, ijk=ijk),  # type: ignore[arg-type]
            n_voxels=len(ijk), stimuli=None,
            blocks=np.asarray(session, dtype=np.int64),
            block_index=np.asarray(in_session, dtype=np.int64),
        )  # fmt: skip

    @staticmethod
    def _sessions(root: Path, subject: str, space: str, sessions: Sequence[int] | None):
        def present(s: int) -> bool:
            return (root / bmd.session_betas_path(subject, s, space)).is_file()

        wanted = [s for s in bmd.MAIN_SESSIONS if present(s)] if sessions is None else sessions
        if not wanted:
            raise ReleaseError(
                root / bmd.session_betas_path(subject, bmd.MAIN_SESSIONS[0], space),
                "no main-experiment session file",
                f"sessions {list(bmd.MAIN_SESSIONS)}",
            )
        for s in wanted:
            for path in (bmd.session_betas_path(subject, s, space),
                         bmd.condition_order_path(subject, s, space)):  # fmt: skip
                if not (root / path).is_file():
                    raise ReleaseError(root / path, "file is missing", f"session {s} of the GLM")
        return sorted(int(s) for s in wanted)

    # ------------------------------------------------------------------ hooks
    def _read_block(self, block: int, columns: np.ndarray) -> np.ndarray:
        path = self._files[block]
        betas = read_session_betas(path)
        n_trials = int(np.sum(self._blocks == block))
        positions = self._positions[np.asarray(columns, dtype=np.int64)]
        if betas.ndim == 4 and betas.shape[:3] == self._grid:
            i, j, k = self._mask_ijk[positions].T
            data = betas[i, j, k, :]
        elif betas.shape[0] == len(self._mask_ijk) and all(v == 1 for v in betas.shape[1:-1]):
            data = betas.reshape(betas.shape[0], betas.shape[-1])[positions]  # masked voxels
        else:
            raise ReleaseError(path, f"{bmd.BETA_KEY} has shape {betas.shape}",
                               f"(*{self._grid}, trials) or ({len(self._mask_ijk)}, 1, 1, "
                               "trials)")  # fmt: skip
        if data.shape[1] != n_trials:
            raise ReleaseError(path, f"{data.shape[1]} trials",
                               f"{n_trials}, the trials of its conditionOrderDM.pkl")  # fmt: skip
        return np.ascontiguousarray(data.T, dtype=np.float32)

    def _roi_positions(self) -> dict[str, np.ndarray]:
        """ROI name -> boolean mask over the group mask's voxels."""
        folder = self._root / bmd.roi_dir(self._subject, self.space)
        n = len(self._mask_ijk)
        out: dict[str, np.ndarray] = {}
        for path in sorted(folder.glob("ROI-*_indices.pkl")) if folder.is_dir() else []:
            name = bmd.roi_file_name(path)
            if name is None:
                continue
            out[name] = np.zeros(n, dtype=bool)
            out[name][self._roi_indices(path)] = True
        for roi in bmd.ROI_NAMES:
            sides = [out[h + roi] for h in bmd.HEMISPHERES if h + roi in out]
            if sides:
                out[roi] = np.logical_or.reduce(sides)
        return out

    def _roi_indices(self, path: Path) -> np.ndarray:
        data = load_pickle(path)
        try:
            ijk = np.asarray(data[0], dtype=np.int64).reshape(-1, 3)
            positions = np.asarray(data[1], dtype=np.int64).ravel()
        except (TypeError, IndexError, ValueError) as exc:
            raise ReleaseError(path, f"not an ROI index file ({exc})",
                               "(ijk (n, 3), mask positions (n,), mask)") from exc  # fmt: skip
        n = len(self._mask_ijk)
        inside = positions.size == 0 or 0 <= positions.min() <= positions.max() < n
        if positions.size != len(ijk) or not inside:
            raise ReleaseError(path, f"{positions.size} positions for {len(ijk)} voxels",
                               f"positions in 0..{n - 1} of the group mask")  # fmt: skip
        if not np.array_equal(self._mask_ijk[positions], ijk):
            raise ReleaseError(path, "voxel indices disagree with their mask positions",
                               f"the group mask {self._mask_path.name}")  # fmt: skip
        return positions

    def _load_rois(self) -> tuple[dict[str, np.ndarray], dict[str, dict[int, str]]]:
        return {name: m[self._positions] for name, m in self._roi_positions().items()}, {}

    def _load_ncsnr(self) -> np.ndarray | None:
        n = max(bmd.NOISE_CEILING_N["test"])
        path = self._root / bmd.noise_ceiling_path(self._subject, "test", n, self.space)
        if not path.is_file():
            return None
        data = load_pickle(path)
        try:
            ncsnr = np.asarray(data[0], dtype=np.float32).ravel()
        except (TypeError, IndexError, ValueError) as exc:
            raise ReleaseError(path, f"not a noise-ceiling file ({exc})", "(ncsnr, NC %)") from exc
        if ncsnr.size != len(self._mask_ijk):
            raise ReleaseError(path, f"{ncsnr.size} values", f"{len(self._mask_ijk)} (the mask)")
        return ncsnr[self._positions]

    def source_files(self) -> list[Path]:
        return [*self._files.values(), self._mask_path]

    def _open_stimuli(self) -> Any:
        return BoldMomentsStimuli(self._root)


class BoldMomentsStimuli:
    """The videos (``stimuli/{train,test}/NNNN.mp4``) and their annotations, by stimulus id.

    ``images(ids)`` gives each video's first frame (what an image feature space sees of a
    clip, and what the motion decoder animates); ``frames(ids)`` every frame. Reading videos
    needs OpenCV (``pip install neurodecode[video]``).

    Parameters
    ----------
    root : path-like
        Dataset root (holding ``stimuli/`` and ``derivatives/``).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, stim_id: int) -> Path:
        return self.root / bmd.stimulus_path(bmd.video_number(stim_id))

    def _read(self, stim_id: int) -> np.ndarray:
        from neurodecode.data._video import read_video

        return read_video(self.path(stim_id))

    def frames(self, ids: Sequence[int]) -> np.ndarray:
        """Every frame: uint8 ``(n, T, H, W, 3)`` RGB (the videos must agree in shape)."""
        clips = [self._read(i) for i in np.asarray(ids, dtype=np.int64).ravel().tolist()]
        if len({c.shape for c in clips}) > 1:
            raise ValueError("the videos differ in frame count or size; read them one by one")
        return np.stack(clips) if clips else np.empty((0, 0, 0, 0, 3), np.uint8)

    def images(self, ids: Sequence[int], size: tuple[int, int] | None = None) -> np.ndarray:
        """First frames: uint8 ``(n, H, W, 3)``; ``size=(H, W)`` resizes (bicubic)."""
        from neurodecode.data._stimuli import _resize

        firsts = [_resize(self._read(i)[0], size) for i in np.asarray(ids).ravel().tolist()]
        if not firsts:
            h, w = size if size is not None else (0, 0)
            return np.empty((0, h, w, 3), dtype=np.uint8)
        return np.stack(firsts)

    @cached_property
    def annotations(self) -> dict[str, Any]:
        """``annotations.json`` (video number ``"0001"`` -> its metadata)."""
        path = self.root / bmd.annotations_path()
        if not path.is_file():
            raise ReleaseError(path, "file is missing", "the release's stimulus metadata")
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise ReleaseError(path, f"not a JSON mapping ({exc})") from exc

    def captions(self, ids: Sequence[int]) -> list[list[str]]:
        """The human ``text_descriptions`` of each video."""
        out = []
        for i in np.asarray(ids, dtype=np.int64).ravel().tolist():
            entry = self.annotations.get(f"{bmd.video_number(i):04d}", {})
            out.append([str(t) for t in entry.get("text_descriptions", [])])
        return out


def load_bold_moments_subject(
    root: str | os.PathLike[str],
    subject: str,
    *,
    space: str = bmd.DEFAULT_SPACE,
    sessions: Sequence[int] | None = None,
    voxels: str | None = None,
    beta_type: str = bmd.BETA_TYPE,
) -> BoldMomentsSubject:
    """Open a BOLD Moments subject (versionB GLMsingle betas).

    Parameters
    ----------
    root : path-like
        Dataset root (the folder holding ``derivatives/``).
    subject : str
        BIDS label ``"01"`` .. ``"10"`` (``sub-01``).
    space : str
        ``"MNI152"`` (the volume space; the surface spaces have no voxel grid).
    sessions : sequence of int, optional
        Main-experiment sessions (default: those of 2..5 present).
    voxels : str, optional
        An ROI (``"BMDgeneral"``, ``"MT"``, ``"lMT"``...) whose voxels are the columns; default
        every voxel of the group mask.
    beta_type : str
        GLMsingle output read (default ``TYPED_FITHRF_GLMDENOISE_RR``).
    """
    return BoldMomentsSubject(
        root, subject, space=space, sessions=sessions, voxels=voxels, beta_type=beta_type
    )


def evaluate_roi_files(
    root: Path, subject: str, space: str, chosen: tuple[str, ...] | None = None
) -> dict:
    """ROIs of ``neurodecode evaluate``, which reads NIfTI masks: the release's ROIs are index
    pickles, so only the group mask (a NIfTI) is given, as one ROI; the per-ROI encoding tables
    of ``encode`` cover the release's ROIs (they are read from the prepared cache)."""
    if chosen and set(chosen) - {"groupmask"}:
        raise ValueError(f"{sorted(set(chosen) - {'groupmask'})}: BOLD Moments' ROIs are index "
                         "pickles; evaluate reads only the group mask ('groupmask')")  # fmt: skip
    mask = Path(root) / bmd.group_mask_path(space)
    return {"atlases": [], "labels": [], "masks": {"groupmask": [mask]}}


def background_image(root: Path, subject: str, space: str) -> Path:
    """The report's underlay: the group mask."""
    return Path(root) / bmd.group_mask_path(space)
