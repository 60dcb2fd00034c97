"""Write a synthetic world as a BOLD5000 tree (DATA_FORMATS.md, parts B and E).

Release 2.0 (GLMsingle): per-session float32 PSC betas ``(X, Y, Z, trials)``, the brain mask,
``imgnames.txt`` and the OpenNeuro-style ROI masks. Release 1.0: the ROI-level ``.mat``/``.h5``
files (``(n_trials, n_voxels_in_roi)`` per hemisphere and ROI) and the stimulus lists, where
repeated showings carry the ``rep_`` prefix. Stimuli: the three file-name patterns (COCO 2014,
ImageNet, Scene) under ``Presented_Stimuli``, label files, and a COCO 2014 caption JSON for the
COCO images only. Paths come from :mod:`neurodecode.data._bold5000_layout`.

The world's shared images are the repeated (test) images of every subject; the others are
shown once, as in BOLD5000.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurodecode._io import atomic_output_path
from neurodecode.data import _bold5000_layout as b5k
from neurodecode.synth._brain import SimulatedBrain, label_key
from neurodecode.synth._captions import CATEGORIES
from neurodecode.synth._design import (
    BOLD5000_TRIALS_PER_SESSION,
    Bold5000Design,
    bold5000_design,
)
from neurodecode.synth._files import (
    Progress,
    column_volume,
    report,
    save_nifti,
    save_text,
    write_coco_captions,
)
from neurodecode.synth._world import World

__all__ = ["ROI_SOURCES", "image_name", "write_bold5000"]

#: BOLD5000 ROI name -> the simulated brain's (atlas, labels) that stand in for it.
ROI_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "EarlyVis": ("prf-visualrois", ("V1v", "V1d", "V2v", "V2d", "V3v", "V3d")),
    "LOC": ("floc-bodies", ("EBA",)),
    "OPA": ("floc-places", ("OPA",)),
    "PPA": ("floc-places", ("PPA",)),
    "RSC": ("floc-places", ("RSC",)),
}
#: Showings of each test (shared) image, as for BOLD5000's 112 repeated images.
TEST_REPEATS = 4
_JPEG_QUALITY = 95


def image_name(stim_id: int, category: str) -> tuple[str, str]:
    """(source, file name) of a world stimulus: ids cycle through COCO, ImageNet and Scene."""
    kind = stim_id % 3
    if kind == 0:
        return "COCO", b5k.STIMULUS_SOURCES["COCO"].format(coco_id=stim_id + 1)
    if kind == 1:
        synset = f"n{CATEGORIES.index(category) + 1:08d}"
        return "ImageNet", b5k.STIMULUS_SOURCES["ImageNet"].format(synset=synset, index=stim_id)
    return "Scene", b5k.STIMULUS_SOURCES["Scene"].format(name=f"{category}{stim_id}")


def _write_stimuli(world: World, root: Path, ids: np.ndarray, progress: Progress) -> None:
    from PIL import Image

    size = world.config.image_size
    coco: list[int] = []
    scenes: dict[str, str] = {}
    for start in range(0, ids.size, 256):
        batch = ids[start : start + 256]
        for stim, pixels in zip(batch.tolist(), world.stimuli.images(batch), strict=True):
            category = world.stimuli.category(stim)
            source, name = image_name(stim, category)
            with atomic_output_path(root / b5k.stimulus_path(source, name)) as tmp:
                Image.fromarray(pixels).save(
                    tmp, format="JPEG", quality=_JPEG_QUALITY, subsampling=0
                )
            if source == "COCO":
                coco.append(stim)
            elif source == "Scene":
                scenes[Path(name).stem] = category
    synsets = "".join(f"n{k + 1:08d} {c}\n" for k, c in enumerate(CATEGORIES))
    save_text(root / b5k.labels_path("imagenet"), synsets)
    save_text(root / b5k.labels_path("scene"), "".join(f"{n} {c}\n" for n, c in scenes.items()))
    write_coco_captions(
        root / b5k.captions_path("train2014"),
        [s + 1 for s in coco],
        [image_name(s, "")[1] for s in coco],
        [world.stimuli.captions(s) for s in coco],
        size,
    )
    report(progress, f"stimuli: {ids.size} images ({len(coco)} COCO with captions)")


def _roi_masks(brain: SimulatedBrain) -> dict[str, np.ndarray]:
    """``'LHPPA'`` etc. -> boolean volume."""
    out = {}
    for roi, (atlas, labels) in ROI_SOURCES.items():
        names, vol = brain.atlases[atlas]
        member = np.isin(vol, [names.index(n) + 1 for n in labels])
        out[f"LH{roi}"] = member & brain.left_hemisphere
        out[f"RH{roi}"] = member & ~brain.left_hemisphere
    return out


def _write_roi_release(
    root: Path, label: str, design: Bold5000Design, names: list[str],
    roi_data: dict[str, list[np.ndarray]], tr_choices: Sequence[str],
) -> None:  # fmt: skip
    import h5py
    import scipy.io

    lines = [
        (b5k.REPEAT_PREFIX + n if rep else n)
        for n, rep in zip(names, design.is_repeat(), strict=True)
    ]
    save_text(root / b5k.stim_list_path(label), "\n".join(lines) + "\n")
    data = {k: np.concatenate(parts).astype(np.float64) for k, parts in roi_data.items()}
    for tr in tr_choices:
        # Our world has no haemodynamic time course: every TR file holds the trial's betas.
        with atomic_output_path(root / b5k.roi_mat_path(label, tr, "mat")) as tmp:
            scipy.io.savemat(tmp, data)
        h5 = root / b5k.roi_mat_path(label, tr, "h5")
        with atomic_output_path(h5) as tmp, h5py.File(tmp, "w") as fh:
            for key, value in data.items():
                fh.create_dataset(key, data=value)


def _write_subject(
    world: World, root: Path, label: str, trials_per_session: int,
    tr_choices: Sequence[str], progress: Progress,
) -> Bold5000Design:  # fmt: skip
    brain = world.brain(label)
    ids = world.subject_ids(label)
    n_test = world.config.n_shared
    design = bold5000_design(
        ids[:n_test], ids[n_test:], TEST_REPEATS, world.config.seed, label_key(label),
        trials_per_session,
    )  # fmt: skip
    names = [image_name(s, world.stimuli.category(s))[1] for s in design.stim_ids.tolist()]
    save_nifti(root / b5k.brainmask_path(label), brain.brainmask.astype(np.int16), brain.affine)
    save_text(root / b5k.imgnames_path(label), "\n".join(names) + "\n")
    masks = _roi_masks(brain)
    for key, vol in masks.items():
        save_nifti(root / b5k.roi_mask_path(label, key[:2], key[2:]), vol.astype(np.float32),
                   brain.affine)  # fmt: skip
    columns = {k: v[brain.brainmask] for k, v in masks.items()}  # per-voxel membership
    roi_data: dict[str, list[np.ndarray]] = {k: [] for k in masks}
    start = 0
    for s, n in enumerate(design.session_lengths):
        stim = design.stim_ids[start : start + n]
        psc = brain.simulate_betas(stim, np.full(n, s))
        volume = column_volume(brain.brainmask, psc.T, 0.0, np.float32)
        save_nifti(root / b5k.beta_session_path(label, s + 1), volume, brain.affine)
        for key, member in columns.items():
            roi_data[key].append(psc[:, member])
        start += n
        report(progress, f"{label} session {s + 1}/{len(design.session_lengths)}: {n} trials")
    if tr_choices:
        _write_roi_release(root, label, design, names, roi_data, tr_choices)
    return design


def write_bold5000(
    world: World,
    root: str | Path,
    subjects: Sequence[str] | None = None,
    trials_per_session: int = BOLD5000_TRIALS_PER_SESSION,
    tr_choices: Sequence[str] = (b5k.DEFAULT_TR,),
    progress: Progress = None,
) -> dict[str, Bold5000Design]:
    """Write ``world`` as a BOLD5000 tree (releases 1.0 and 2.0) under ``root``.

    Parameters
    ----------
    world : World
        The synthetic world.
    root : path
        Root of the tree (created); files are written atomically.
    subjects : sequence of str, optional
        Labels ``CSI1``..``CSI4``; default the world's subjects.
    trials_per_session : int
        Session length of release 2.0 (the last session holds the rest).
    tr_choices : sequence of str
        Release 1.0 ROI files to write (``'34'`` by default; empty: none).
    progress : callable, optional
        Called with a message after each file group.

    Returns
    -------
    dict of str to Bold5000Design
        Each subject's design.
    """
    root = Path(root)
    subjects = tuple(subjects) if subjects is not None else world.subjects
    for label in subjects:
        if label not in b5k.SUBJECTS:
            raise ValueError(f"not a BOLD5000 subject label: {label!r} (one of {b5k.SUBJECTS})")
    bad = [tr for tr in tr_choices if tr not in b5k.TR_CHOICES]
    if bad:
        raise ValueError(f"TR choices must be among {b5k.TR_CHOICES}, got {bad}")
    shown = np.unique(np.concatenate([world.subject_ids(label) for label in subjects]))
    _write_stimuli(world, root, shown, progress)
    return {
        label: _write_subject(world, root, label, trials_per_session, tr_choices, progress)
        for label in subjects
    }
