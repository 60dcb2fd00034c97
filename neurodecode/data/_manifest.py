"""Manifests of the real NSD and BOLD5000 releases, generated from the layout modules.

A manifest lists every file the readers use, relative to the release root, with what is known of
it: shape and dtype of beta files, expected bytes (exact for uncompressed HDF5 data,
``null`` where only an approximation exists), ``sha256`` (always ``null``: neither release
publishes checksums; the field is kept so a user can record their own) and tags
(subject, session, kind). The committed ``data_manifests/*.json`` are the output of
:func:`neurodecode.data._datasets.build_manifest`, which asks each registered dataset for
its builder here; a test checks that regenerating gives the committed files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data import _nsd_layout as nsd

__all__ = [
    "BOLD5000_GRIDS",
    "NSD_GRIDS",
    "bold5000_manifest",
    "nsd_manifest",
]

#: func1pt8mm (X, Y, Z) grid per subject (DATA_FORMATS A1).
NSD_GRIDS = {
    "subj01": (81, 104, 83), "subj02": (82, 106, 84), "subj03": (81, 106, 82),
    "subj04": (85, 99, 80), "subj05": (79, 97, 78), "subj06": (85, 113, 83),
    "subj07": (78, 95, 81), "subj08": (80, 103, 78),
}  # fmt: skip
#: 2 mm T1w grid per subject (DATA_FORMATS B1).
BOLD5000_GRIDS = {"CSI1": (71, 89, 72), "CSI2": (72, 92, 70), "CSI3": (72, 88, 67),
                  "CSI4": (70, 89, 70)}  # fmt: skip


#: The packaged manifests (``data_manifests/`` in a source checkout links here).
MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"


def read_manifest(file: Path) -> dict[str, Any]:
    """The manifest JSON at ``file``; :class:`ReleaseError` naming the file when it is not one."""
    import json

    from neurodecode.data._errors import ReleaseError

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(file, f"unreadable manifest ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ReleaseError(file, "not a manifest", "a JSON object with a 'files' list")
    return data


def _entry(path: Path, kind: str, **extra: Any) -> dict[str, Any]:
    return {"path": path.as_posix(), "kind": kind, "bytes": None, "sha256": None, **extra}


def nsd_manifest() -> dict[str, Any]:
    """The manifest of the real NSD release."""
    files = [_entry(nsd.expdesign_path(), "expdesign"), _entry(nsd.stim_info_path(), "stim_info")]
    t = nsd.TRIALS_PER_SESSION
    for subj in nsd.SUBJECTS:
        x, y, z = NSD_GRIDS[subj]
        tags = {"subject": subj}
        files += [
            _entry(nsd.responses_path(subj), "responses", tags=tags),
            _entry(nsd.brainmask_path(subj), "brainmask", shape=[x, y, z], tags=tags),
            _entry(nsd.roi_path(subj, "nsdgeneral"), "roi", shape=[x, y, z], tags=tags),
            _entry(nsd.ncsnr_path(subj), "ncsnr", shape=[x, y, z], dtype="float32", tags=tags),
        ]
        for s in range(1, nsd.SESSIONS_COMPLETED[subj] + 1):
            stags = {"subject": subj, "session": s}
            data_bytes = 2 * t * x * y * z
            files.append(_entry(nsd.session_betas_path(subj, s, "hdf5"), "betas", format="hdf5",
                                shape=[t, z, y, x], dtype="int16", min_bytes=data_bytes,
                                tags=stags))  # fmt: skip
            files.append(_entry(nsd.session_betas_path(subj, s, "nii.gz"), "betas",
                                format="nii.gz", shape=[x, y, z, t], dtype="int16",
                                uncompressed_bytes=352 + data_bytes, tags=stags))  # fmt: skip
    return {"dataset": "nsd", "checksums": "none published by the release", "files": files}


def bold5000_manifest() -> dict[str, Any]:
    """The manifest of the real BOLD5000 releases (1.0 ROI data and 2.0 GLMsingle betas)."""
    files = []
    for subj in b5k.SUBJECTS:
        tags = {"subject": subj}
        files += [
            _entry(b5k.roi_mat_path(subj), "roi_data", tags=tags),
            _entry(b5k.stim_list_path(subj), "stim_list", tags=tags),
            _entry(
                b5k.brainmask_path(subj), "brainmask", shape=list(BOLD5000_GRIDS[subj]), tags=tags
            ),
            _entry(b5k.imgnames_path(subj), "imgnames", tags=tags),
        ]
        for s in range(1, b5k.SESSIONS[subj] + 1):
            # Trials per session vary (333 or 370 per run set): only the grid is fixed.
            files.append(_entry(b5k.beta_session_path(subj, s), "betas", format="nii.gz",
                                shape=[*BOLD5000_GRIDS[subj], None],
                                tags={"subject": subj, "session": s}))  # fmt: skip
    return {"dataset": "bold5000", "checksums": "none published by the release", "files": files}
