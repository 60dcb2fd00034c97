"""The BOLD Moments Dataset (OpenNeuro ds005165): every fact about its derivatives layout.

Paths are relative to the dataset root (the folder holding ``derivatives/``), as in the
OpenNeuro tree; the stimulus videos are a separate download that users put in ``stimuli/`` at
the root (the README's instruction, BIDS's place for them). What the files hold:

* ``derivatives/versionB/<space>/GLM/sub-XX/ses-NN/TYPED_FITHRF_GLMDENOISE_RR.npy``:
  GLMsingle's output, ``numpy.save`` of a dict; ``betasmd`` holds the single-trial betas (percent
  signal change), ``(X, Y, Z, trials)`` for a volume (``(vertices, 1, 1, trials)`` for a surface).
* ``.../ses-NN/sub-XX_ses-NN_conditionOrderDM.pkl``: ``(events_run, conditions)``; the trial
  axis of ``betasmd`` is the runs' ``trial_type`` lists (``"vid0444"``...) concatenated.
  ``DESIGNINFO.npy`` beside it is GLMsingle's design record (``stimorder`` ...).
* ``.../sub-XX/prepared_betas/sub-XX_organized_betas_task-{train,test}_normalized.pkl``:
  ``(betas (videos, repeats, voxels), ["vid0001", ...], group-mask image)``, each session
  z-scored by its training trials' mean and sd (ddof=1); voxels are the group mask's, in C order.
* ``.../prepared_betas/sub-XX_noiseceiling_task-{train,test}_n-{N}.pkl``: ``(ncsnr, noise
  ceiling in %)`` per voxel for averages of N trials.
* ``.../sub-XX/ROIs/ROI-{l,r}<name>_indices.pkl`` (and ``ROI-BMDgeneral_indices.pkl``):
  ``(ijk (n, 3), positions in the group-mask voxel vector, group-mask image)``.
* ``derivatives/versionB/MNI152/GLM/mask/groupMask_space-MNI152.nii``: the group mask.
* ``stimuli/{train,test}/NNNN.mp4``: videos 0001-1000 (train) and 1001-1102 (test).
* ``derivatives/stimuli_metadata/annotations.json``: per video (key ``"0001"``...) the ``set``,
  human ``text_descriptions``, objects, scenes, actions...

Sessions 2-5 hold the main experiment (session 1 the localizer): each has 3 test runs, then 10
training runs; over the four, every training video is shown 3 times and every test video 10.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "BETA_KEY",
    "BETA_TYPE",
    "DEFAULT_SPACE",
    "GENERAL_ROI",
    "HEMISPHERES",
    "MAIN_SESSIONS",
    "N_TEST_VIDEOS",
    "N_TRAIN_VIDEOS",
    "ROI_NAMES",
    "SPACES",
    "SUBJECTS",
    "TASKS",
    "annotations_path",
    "condition_name",
    "condition_order_path",
    "design_path",
    "group_mask_path",
    "noise_ceiling_path",
    "prepared_betas_path",
    "roi_path",
    "session_betas_path",
    "stimulus_path",
    "subject_dir",
    "video_number",
]

SUBJECTS: tuple[str, ...] = tuple(f"{i:02d}" for i in range(1, 11))
VERSION = "versionB"
#: Output spaces of the versionB GLM; only MNI152 is a volume (the others are surfaces).
SPACES: tuple[str, ...] = ("MNI152", "fsLR32k", "fsaverage")
VOLUME_SPACES: tuple[str, ...] = ("MNI152",)
DEFAULT_SPACE = "MNI152"
#: Sessions of the main experiment (session 1 holds the functional localizer).
MAIN_SESSIONS: tuple[int, ...] = (2, 3, 4, 5)
TEST_RUNS_PER_SESSION = 3
TRAIN_RUNS_PER_SESSION = 10
N_TRAIN_VIDEOS = 1000
N_TEST_VIDEOS = 102
TRAIN_REPEATS = 3
TEST_REPEATS = 10
TASKS: tuple[str, ...] = ("train", "test")
#: GLMsingle's beta version and the key of the betas in its output dict.
BETA_TYPE = "TYPED_FITHRF_GLMDENOISE_RR"
BETA_KEY = "betasmd"
#: Noise-ceiling files of the release: task -> the trial counts N of its ``n-N`` files.
NOISE_CEILING_N: dict[str, tuple[int, ...]] = {"train": (1, 3), "test": (1, 10)}
HEMISPHERES: tuple[str, ...] = ("l", "r")
#: ROIs of versionB MNI152, each per hemisphere (``lMT``, ``rMT``).
ROI_NAMES: tuple[str, ...] = (
    "V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4", "EBA", "FFA", "OFA", "STS", "LOC", "PPA",
    "RSC", "TOS", "V3ab", "IPS0", "IPS1-2-3", "7AL", "BA2", "PFt", "PFop", "MT",
)  # fmt: skip
#: The reliably responsive region of every subject (NSD's nsdgeneral analogue), no hemisphere.
GENERAL_ROI = "BMDgeneral"
#: Frames per second of our written videos (the release's are 3 s clips).
VIDEO_SECONDS = 3.0
_CONDITION = re.compile(r"^vid(?P<number>\d{4})$")
_ROI_FILE = re.compile(r"^ROI-(?P<name>.+)_indices\.pkl$")


def _check_subject(subject: str) -> str:
    if not (len(subject) == 2 and subject.isdigit() and int(subject) >= 1):
        raise ValueError(f"not a BOLD Moments subject label: {subject!r} (expected '01'..'10')")
    return subject


def _check_space(space: str) -> str:
    if space not in SPACES:
        raise ValueError(f"unknown BOLD Moments space {space!r}; one of {SPACES}")
    return space


def glm_dir(space: str = DEFAULT_SPACE) -> Path:
    return Path("derivatives") / VERSION / _check_space(space) / "GLM"


def subject_dir(subject: str, space: str = DEFAULT_SPACE) -> Path:
    return glm_dir(space) / f"sub-{_check_subject(subject)}"


def session_dir(subject: str, session: int, space: str = DEFAULT_SPACE) -> Path:
    return subject_dir(subject, space) / f"ses-{session:02d}"


def session_betas_path(
    subject: str, session: int, space: str = DEFAULT_SPACE, beta_type: str = BETA_TYPE
) -> Path:
    return session_dir(subject, session, space) / f"{beta_type}.npy"


def design_path(subject: str, session: int, space: str = DEFAULT_SPACE) -> Path:
    return session_dir(subject, session, space) / "DESIGNINFO.npy"


def condition_order_path(subject: str, session: int, space: str = DEFAULT_SPACE) -> Path:
    name = f"sub-{subject}_ses-{session:02d}_conditionOrderDM.pkl"
    return session_dir(subject, session, space) / name


def prepared_betas_path(subject: str, task: str, space: str = DEFAULT_SPACE) -> Path:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    name = f"sub-{subject}_organized_betas_task-{task}_normalized.pkl"
    return subject_dir(subject, space) / "prepared_betas" / name


def noise_ceiling_path(subject: str, task: str, n: int, space: str = DEFAULT_SPACE) -> Path:
    name = f"sub-{subject}_noiseceiling_task-{task}_n-{n}.pkl"
    return subject_dir(subject, space) / "prepared_betas" / name


def roi_dir(subject: str, space: str = DEFAULT_SPACE) -> Path:
    return subject_dir(subject, space) / "ROIs"


def roi_path(subject: str, roi: str, hemi: str | None, space: str = DEFAULT_SPACE) -> Path:
    """``ROI-lMT_indices.pkl``; ``hemi=None`` for :data:`GENERAL_ROI`."""
    if hemi is not None and hemi not in HEMISPHERES:
        raise ValueError(f"hemisphere must be one of {HEMISPHERES} or None, got {hemi!r}")
    return roi_dir(subject, space) / f"ROI-{hemi or ''}{roi}_indices.pkl"


def roi_file_name(path: Path) -> str | None:
    """``ROI-lMT_indices.pkl`` -> ``'lMT'`` (None for other files)."""
    match = _ROI_FILE.match(Path(path).name)
    return match["name"] if match else None


def group_mask_path(space: str = DEFAULT_SPACE) -> Path:
    if space not in VOLUME_SPACES:
        raise ValueError(f"{space} is a surface space: it has no volume mask")
    return glm_dir(space) / "mask" / f"groupMask_space-{space}.nii"


def video_number(stim_id: int) -> int:
    """The 1-based video number (file ``NNNN.mp4``, condition ``vidNNNN``) of a stimulus id."""
    return int(stim_id) + 1


def stim_id_of(number: int) -> int:
    """0-based stimulus id of a video number: converted once, here."""
    return int(number) - 1


def task_of(number: int) -> str:
    """``'train'`` for videos 1..1000, ``'test'`` above (the release's split)."""
    return "train" if int(number) <= N_TRAIN_VIDEOS else "test"


def condition_name(number: int) -> str:
    """``444`` -> ``'vid0444'`` (the trial types of the design files)."""
    return f"vid{int(number):04d}"


def parse_condition(name: str) -> int:
    """``'vid0444'`` -> ``444``; ``ValueError`` for anything else (e.g. localizer conditions)."""
    match = _CONDITION.match(str(name))
    if not match:
        raise ValueError(f"{name!r} is not a video condition (vidNNNN)")
    return int(match["number"])


def stimulus_path(number: int) -> Path:
    """``stimuli/train/0444.mp4`` (the test videos live in ``stimuli/test``)."""
    return Path("stimuli") / task_of(number) / f"{int(number):04d}.mp4"


def annotations_path() -> Path:
    return Path("derivatives") / "stimuli_metadata" / "annotations.json"
