"""Prepare inputs of a BOLD5000 subject (release 2.0 GLMsingle betas), through its Subject.

GLMsingle betas are already in percent signal change (no integer scaling). BOLD5000 has no
published ncsnr: the noise ceiling inputs are estimated from the repeated images by the
reader (:meth:`neurodecode.data.Subject.ncsnr`, NSD's definition on session-z-scored data).
Each ROI mask (``LHPPA``, ``PPA``...) becomes a one-label atlas of the cache, so that
overlapping names (a hemisphere and both hemispheres) stay separate ROIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from neurodecode.data._bold5000 import load_bold5000_subject

if TYPE_CHECKING:
    from neurodecode.data._prepare import PrepareConfig, PrepareInputs

__all__ = ["bold5000_prepare_inputs"]


def bold5000_prepare_inputs(config: PrepareConfig) -> PrepareInputs:
    """Gather what :func:`prepare_betas` needs for one BOLD5000 subject's GLMsingle betas.

    ``config.roi`` names one of the subject's ROIs (e.g. ``"PPA"``) to keep only its voxels;
    ``None`` keeps every brain-mask voxel.
    """
    from neurodecode.data._prepare import PrepareInputs

    subject = load_bold5000_subject(
        config.root, config.subject, release="glmsingle", sessions=config.sessions
    )
    columns = subject.columns(config.roi) if config.roi is not None else subject.columns()
    rois = {
        name: (mask[columns].astype(np.int32), [name])
        for name, mask in subject.rois.items()
        if mask[columns].any()
    }
    ncsnr = subject.ncsnr
    trials = subject.trials[["trial", "session", "trial_in_session", "stim_id", "repeat", "split"]]
    trials = trials.astype({"session": np.int64, "trial_in_session": np.int64})
    sessions = sorted(set(trials["session"].tolist()))

    def read_session(session: int, rows: np.ndarray) -> np.ndarray:
        return subject.read_betas(rows=rows, columns=columns)

    files = subject._files  # the session files the reader found (for provenance sizes)
    return PrepareInputs(
        session_paths=tuple(files[s] for s in sessions),
        trials=trials.reset_index(drop=True),
        ijk=subject.ijk[columns],
        affine=subject.affine,
        shape=subject.shape,
        rois=rois,
        ncsnr=None if ncsnr is None else np.asarray(ncsnr)[columns].astype(np.float32),
        beta_scale=1.0,
        read_session=read_session,
    )
