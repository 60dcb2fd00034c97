"""Dataset access: one Subject API over NSD and BOLD5000, splits, noise ceilings, stimuli.

``import neurodecode.data`` is cheap: h5py, nibabel, scipy, pandas and PIL are imported where
files are read. Nothing here imports torch or :mod:`neurodecode.synth`.
"""

from __future__ import annotations

import os

from neurodecode.data._bold5000 import BOLD5000Subject, load_bold5000_subject
from neurodecode.data._cache import PreparedSubject, RowView, load_prepared
from neurodecode.data._datasets import DatasetSpec, get_dataset, list_datasets, register_dataset
from neurodecode.data._errors import ReleaseError
from neurodecode.data._noise_ceiling import (
    inverse_repeats,
    ncsnr_from_repeats,
    noise_ceiling_from_ncsnr,
)
from neurodecode.data._nsd import NSDSubject, load_nsd_subject
from neurodecode.data._prepare import PrepareConfig, prepare_subject
from neurodecode.data._splits import Split, assignment_hash, make_split, trials_hash
from neurodecode.data._stimuli import BOLD5000Stimuli, NSDStimuli
from neurodecode.data._subject import Subject, VolumeGeometry
from neurodecode.data._verify import Problem, verify_release

__all__ = [
    "BOLD5000Stimuli",
    "BOLD5000Subject",
    "DatasetSpec",
    "NSDStimuli",
    "NSDSubject",
    "PrepareConfig",
    "PreparedSubject",
    "Problem",
    "ReleaseError",
    "RowView",
    "Split",
    "Subject",
    "VolumeGeometry",
    "assignment_hash",
    "get_dataset",
    "inverse_repeats",
    "list_datasets",
    "load_bold5000_subject",
    "load_nsd_subject",
    "load_prepared",
    "load_subject",
    "make_split",
    "ncsnr_from_repeats",
    "noise_ceiling_from_ncsnr",
    "prepare_subject",
    "register_dataset",
    "trials_hash",
    "verify_release",
]


def load_subject(dataset: str, subject: str, *, root: str | os.PathLike[str], **options) -> Subject:
    """Open one subject of a release with the dataset's registered reader.

    Parameters
    ----------
    dataset : str
        A registered dataset name (:func:`list_datasets`: ``"nsd"``, ``"bold5000"``...).
    subject : str
        The dataset's own label (``"subj01"``, ``"CSI1"``).
    root : path-like
        The release root (the folder holding ``nsddata/`` or ``ROIs/`` ...).
    **options
        Passed on to the reader (:func:`load_nsd_subject`, :func:`load_bold5000_subject`...).
    """
    return get_dataset(dataset).load_subject(root, subject, **options)
