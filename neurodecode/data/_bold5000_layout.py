"""The BOLD5000 releases: every fact about their layout lives here.

Release 1.0 (``BOLD5000_ROIs.zip``) holds ROI-level responses as .mat/.h5 files; release 2.0
holds GLMsingle single-trial betas as NIfTI volumes (see DATA_FORMATS.md, part B). Paths are
relative to the root the user points at. Where the public description leaves a folder name
open (release 2.0 and the OpenNeuro ROI masks), the default below is what our writers
produce, and readers fall back to searching the root for the exact file name.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DEFAULT_BETA_TYPE",
    "DEFAULT_TR",
    "ROI_NAMES",
    "ROI_NAME_ALIASES",
    "SESSIONS",
    "STIMULUS_SOURCES",
    "SUBJECTS",
    "TRIALS",
    "beta_session_path",
    "brainmask_path",
    "captions_path",
    "imgnames_path",
    "roi_mask_path",
    "roi_mat_path",
    "stim_list_path",
    "stimulus_path",
    "subject_number",
]

SUBJECTS: tuple[str, ...] = ("CSI1", "CSI2", "CSI3", "CSI4")
SESSIONS: dict[str, int] = {"CSI1": 15, "CSI2": 15, "CSI3": 15, "CSI4": 9}
TRIALS: dict[str, int] = {"CSI1": 5254, "CSI2": 5254, "CSI3": 5254, "CSI4": 3108}
STIMULI_PER_RUN = 37
#: The signal 4-8 s after onset: the conventional choice for release 1.0 ROI data.
DEFAULT_TR = "34"
TR_CHOICES = ("1", "2", "3", "4", "5", "34")
BETA_TYPES = ("TYPEA-ASSUMEHRF", "TYPEC-FITHRF-GLMDENOISE", "TYPED-FITHRF-GLMDENOISE-RR")
DEFAULT_BETA_TYPE = "TYPED-FITHRF-GLMDENOISE-RR"
HEMISPHERES = ("LH", "RH")
ROI_NAMES = ("EarlyVis", "LOC", "OPA", "PPA", "RSC")
#: CSI2/CSI3 mask files use other spellings; normalise them on load.
ROI_NAME_ALIASES = {"LO": "LOC", "RRSC": "RSC"}
#: Folder per image source under Presented_Stimuli, with the file-name pattern of each.
STIMULUS_SOURCES = {
    "COCO": "COCO_train2014_{coco_id:012d}.jpg",
    "ImageNet": "{synset}_{index}.JPEG",
    "Scene": "{name}.jpg",
}
#: Repeated presentations may carry this prefix in the stimulus lists (unverified).
REPEAT_PREFIX = "rep_"
#: Our default folder for release 2.0 files (the public description names files, not folders).
GLMSINGLE_DIR = Path("BOLD5000_GLMsingle")
#: OpenNeuro ds001499 derivatives holding the volume ROI masks.
ROI_MASK_DIR = Path("derivatives/spm")


def subject_number(subject: str) -> int:
    """``'CSI1'`` -> 1 (also accepts the v1 stimulus-list spelling ``'CSI01'``)."""
    if subject.startswith("CSI") and subject[3:].isdigit() and int(subject[3:]) >= 1:
        return int(subject[3:])
    raise ValueError(f"not a BOLD5000 subject label: {subject!r} (expected 'CSI1'..'CSI4')")


def roi_mat_path(subject: str, tr: str = DEFAULT_TR, fmt: str = "mat") -> Path:
    if fmt not in ("mat", "h5"):
        raise ValueError(f"ROI file format must be 'mat' or 'h5', got {fmt!r}")
    return Path(f"ROIs/{subject}/{fmt}/{subject}_ROIs_TR{tr}.{fmt}")


def stim_list_path(subject: str) -> Path:
    # Release 1.0 spells the subject with a zero pad here only: CSI01_stim_lists.txt.
    return Path(f"ROIs/stim_lists/CSI{subject_number(subject):02d}_stim_lists.txt")


def beta_session_path(subject: str, session: int, beta_type: str = DEFAULT_BETA_TYPE) -> Path:
    return GLMSINGLE_DIR / subject / f"{subject}_GLMbetas-{beta_type}_ses-{session:02d}.nii.gz"


def brainmask_path(subject: str) -> Path:
    return GLMSINGLE_DIR / subject / f"{subject}_brainmask.nii.gz"


def imgnames_path(subject: str) -> Path:
    return GLMSINGLE_DIR / subject / f"{subject}_imgnames.txt"


def roi_mask_path(subject: str, hemi: str, roi: str) -> Path:
    return ROI_MASK_DIR / f"sub-{subject}" / f"sub-{subject}_mask-{hemi}{roi}.nii.gz"


STIMULI_ROOT = Path("BOLD5000_Stimuli")


def stimulus_path(source: str, filename: str) -> Path:
    if source not in STIMULUS_SOURCES:
        raise ValueError(
            f"unknown BOLD5000 image source {source!r}; one of {list(STIMULUS_SOURCES)}"
        )
    return STIMULI_ROOT / "Scene_Stimuli" / "Presented_Stimuli" / source / filename


def labels_path(kind: str) -> Path:
    """``kind`` is ``'imagenet'`` or ``'scene'``."""
    return STIMULI_ROOT / "Image_Labels" / f"{kind}_final_labels.txt"


def captions_path(coco_split: str = "train2014") -> Path:
    """COCO 2014 caption JSON for the 2,000 COCO images (our default place; users put it here)."""
    return STIMULI_ROOT / "annotations" / f"captions_{coco_split}.json"
