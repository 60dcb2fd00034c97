"""The Natural Scenes Dataset release: every fact about its layout lives here.

Paths are relative to the release root and follow the public release exactly
(see DATA_FORMATS.md, part A). The synthetic writers import these same definitions, so
the synthetic tree and the real one cannot drift apart. Numbers that describe the *real*
release (sessions per subject, trials per session) are the defaults of readers and writers;
readers always take geometry and counts from the files themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = [
    "BETA_SCALE",
    "BETA_VERSIONS",
    "DEFAULT_BETA_VERSION",
    "DEFAULT_SPACE",
    "IMAGES_PER_SUBJECT",
    "IMAGE_BRICK_DATASET",
    "N_SHARED",
    "N_STIMULI",
    "REPEATS_PER_IMAGE",
    "RESPONSES_REQUIRED_COLUMNS",
    "ROI_ATLASES",
    "SESSIONS_COMPLETED",
    "STIM_INFO_COLUMNS",
    "SUBJECTS",
    "TRIALS_PER_SESSION",
    "betas_dir",
    "brainmask_path",
    "captions_path",
    "ctab_path",
    "expdesign_path",
    "ncsnr_path",
    "responses_path",
    "roi_path",
    "session_betas_path",
    "stim_info_path",
    "stimuli_path",
    "subject_number",
]

SUBJECTS: tuple[str, ...] = tuple(f"subj{i:02d}" for i in range(1, 9))
SESSIONS_COMPLETED: dict[str, int] = dict(
    zip(SUBJECTS, (40, 40, 32, 30, 40, 32, 40, 30), strict=True)
)
TRIALS_PER_SESSION = 750
IMAGES_PER_SUBJECT = 10_000
REPEATS_PER_IMAGE = 3
N_SHARED = 1000
N_STIMULI = 73_000
#: int16 betas hold round(PSC * 300); cast to float32 *before* dividing.
BETA_SCALE = 300.0
BETA_VERSIONS = ("betas_assumehrf", "betas_fithrf", "betas_fithrf_GLMdenoise_RR")
DEFAULT_BETA_VERSION = "betas_fithrf_GLMdenoise_RR"
SPACES = ("func1pt8mm", "func1mm")
DEFAULT_SPACE = "func1pt8mm"
IMAGE_BRICK_DATASET = "imgBrick"
HDF5_BETAS_DATASET = "betas"

#: Volume atlases under ``func*/roi`` and the label names the release's ctab files carry.
#: Readers take names from the ctab files; this table is what the writers produce.
ROI_ATLASES: dict[str, tuple[str, ...]] = {
    "nsdgeneral": ("nsdgeneral",),
    "prf-visualrois": ("V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"),
    "prf-eccrois": ("ecc0pt5", "ecc1", "ecc2", "ecc4", "ecc4+"),
    "floc-faces": ("OFA", "FFA-1", "FFA-2", "mTL-faces", "aTL-faces"),
    "floc-bodies": ("EBA", "FBA-1", "FBA-2", "mTL-bodies"),
    "floc-places": ("OPA", "PPA", "RSC"),
    "floc-words": ("OWFA", "VWFA-1", "VWFA-2", "mfs-words", "mTL-words"),
    "streams": (
        "early",
        "midventral",
        "midlateral",
        "midparietal",
        "ventral",
        "lateral",
        "parietal",
    ),
}

STIM_INFO_COLUMNS: tuple[str, ...] = (
    "cocoId",
    "cocoSplit",
    "cropBox",
    "loss",
    "nsdId",
    "flagged",
    "BOLD5000",
    "shared1000",
    *(f"subject{s}" for s in range(1, 9)),
    *(f"subject{s}_rep{r}" for s in range(1, 9) for r in range(3)),
)
RESPONSES_COLUMNS: tuple[str, ...] = (
    "SUBJECT", "SESSION", "RUN", "TRIAL", "73KID", "10KID", "TIME", "ISOLD", "ISCORRECT", "RT",
    "CHANGEMIND", "MEMORYRECENT", "MEMORYFIRST", "ISOLDCURRENT", "ISCORRECTCURRENT", "TOTAL1",
    "TOTAL2", "BUTTON", "MISSINGDATA",
)  # fmt: skip
#: A reader needs only these (names after CHANGEMIND are partly unverified).
RESPONSES_REQUIRED_COLUMNS = RESPONSES_COLUMNS[:6]
EXPDESIGN_REQUIRED_KEYS = ("masterordering", "subjectim", "sharedix")

BetaFormat = Literal["hdf5", "nii.gz"]


def subject_number(subject: str) -> int:
    """``'subj01'`` -> 1. Raises ``ValueError`` for anything else."""
    if len(subject) == 6 and subject.startswith("subj") and subject[4:].isdigit():
        number = int(subject[4:])
        if number >= 1:
            return number
    raise ValueError(f"not an NSD subject label: {subject!r} (expected 'subj01'..'subj08')")


def expdesign_path() -> Path:
    return Path("nsddata/experiments/nsd/nsd_expdesign.mat")


def stim_info_path() -> Path:
    return Path("nsddata/experiments/nsd/nsd_stim_info_merged.csv")


def responses_path(subject: str) -> Path:
    return Path(f"nsddata/ppdata/{subject}/behav/responses.tsv")


def ppdata_dir(subject: str, space: str = DEFAULT_SPACE) -> Path:
    return Path(f"nsddata/ppdata/{subject}/{space}")


def brainmask_path(subject: str, space: str = DEFAULT_SPACE) -> Path:
    return ppdata_dir(subject, space) / "brainmask.nii.gz"


def roi_path(subject: str, atlas: str, space: str = DEFAULT_SPACE, hemi: str | None = None) -> Path:
    prefix = f"{hemi}." if hemi else ""
    return ppdata_dir(subject, space) / "roi" / f"{prefix}{atlas}.nii.gz"


def ctab_path(subject: str, atlas: str) -> Path:
    return Path(f"nsddata/freesurfer/{subject}/label/{atlas}.mgz.ctab")


def betas_dir(
    subject: str, space: str = DEFAULT_SPACE, version: str = DEFAULT_BETA_VERSION
) -> Path:
    return Path(f"nsddata_betas/ppdata/{subject}/{space}/{version}")


def session_betas_path(
    subject: str,
    session: int,
    fmt: BetaFormat = "hdf5",
    space: str = DEFAULT_SPACE,
    version: str = DEFAULT_BETA_VERSION,
) -> Path:
    """``session`` is the 1-based session number of the file name (``betas_session01``)."""
    if fmt not in ("hdf5", "nii.gz"):
        raise ValueError(f"beta format must be 'hdf5' or 'nii.gz', got {fmt!r}")
    return betas_dir(subject, space, version) / f"betas_session{session:02d}.{fmt}"


def ncsnr_path(
    subject: str, space: str = DEFAULT_SPACE, version: str = DEFAULT_BETA_VERSION
) -> Path:
    return betas_dir(subject, space, version) / "ncsnr.nii.gz"


def stimuli_path() -> Path:
    return Path("nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5")


def captions_path(coco_split: str) -> Path:
    """COCO's own caption file for ``train2017`` or ``val2017`` (users place it here)."""
    return Path(f"nsddata_stimuli/stimuli/nsd/annotations/captions_{coco_split}.json")
