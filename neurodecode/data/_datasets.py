"""The dataset registry: everything the rest of neurodecode needs to know about a release.

Each entry ties a dataset name to its layout module, its subject reader, its verifier, what
``prepare`` asks the reader for, its defaults (grid, voxel columns), the environment variable
naming its root, its manifest and the files the workflow hands to ``evaluate`` and ``report``.
Stages, the workflow and the config schema ask this registry; no code outside it branches on a
dataset's name. A new release is one more :func:`register_dataset` call.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from neurodecode._registry import Registry

__all__ = [
    "DatasetSpec",
    "build_manifest",
    "get_dataset",
    "list_datasets",
    "register_dataset",
    "write_manifests",
]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One registered release.

    Parameters
    ----------
    name : str
        Registry name (``"nsd"``), used in configs and on the command line.
    title : str
        Human-readable name.
    layout : module
        The layout module: every path and convention of the release.
    load_subject : callable
        ``load_subject(root, subject, **options) -> Subject``.
    verify : callable
        ``verify(root, subjects, sessions, fmt, manifest) -> list[Problem]``.
    prepare_options : callable
        ``prepare_options(config) -> dict``: the reader options ``prepare`` opens a subject
        with, from a :class:`~neurodecode.data.PrepareConfig`.
    default_space : str
        Grid label of the betas when none is given.
    default_roi : str or None
        Voxel columns ``prepare`` keeps when none is given (None: every brain voxel).
    root_env : str
        Environment variable that may hold the release root.
    build_manifest : callable
        ``build_manifest() -> dict``: what the real release holds (``data_manifests/``).
    subjects : tuple of str
        The release's subject labels.
    beta_formats : tuple of str
        Session-file formats the reader takes (``prepare --fmt``); ``"auto"`` is always allowed.
    uniform_image_size : bool
        Whether every stimulus image has one size (NSD); when not (BOLD5000), feature
        extraction centre-crops and resizes each image first.
    evaluate_rois : callable
        ``evaluate_rois(root, subject, space, chosen) -> {"atlases", "labels", "masks"}``: the
        ROI files ``neurodecode evaluate`` summarises (raises ``ValueError`` for unknown names).
    background : callable
        ``background(root, subject, space) -> Path``: the report's anatomical underlay.
    """

    name: str
    title: str
    layout: ModuleType
    load_subject: Callable[..., Any]
    verify: Callable[..., list[Any]]
    prepare_options: Callable[[Any], dict[str, Any]]
    default_space: str
    default_roi: str | None
    root_env: str
    build_manifest: Callable[[], dict[str, Any]]
    subjects: tuple[str, ...]
    beta_formats: tuple[str, ...]
    uniform_image_size: bool
    evaluate_rois: Callable[..., dict[str, Any]]
    background: Callable[[Path, str, str], Path]

    def root_from_env(self) -> Path | None:
        """The release root from :attr:`root_env`, or None when it is unset."""
        value = os.environ.get(self.root_env)
        return Path(value) if value else None

    def load_stimuli(self, root: str | os.PathLike[str], subject: str) -> Any:
        """The stimulus source (``images(ids)``, ``captions(ids)``) of one subject."""
        return self.load_subject(root, subject, **self.stimulus_options).stimuli

    @property
    def stimulus_options(self) -> dict[str, Any]:
        return {}


_REGISTRY: Registry[DatasetSpec] = Registry("dataset", lambda spec: spec.name)


def register_dataset(spec: DatasetSpec, *, overwrite: bool = False) -> DatasetSpec:
    """Add a release to the registry (``overwrite`` to replace one of the same name)."""
    return _REGISTRY.register(spec, overwrite=overwrite)


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    _ensure_builtin()
    return _REGISTRY.names()


def get_dataset(name: str) -> DatasetSpec:
    """The registry entry of ``name``; an unknown name lists the registered ones."""
    _ensure_builtin()
    return _REGISTRY.get(name)


def _nsd_prepare_options(config: Any) -> dict[str, Any]:
    return {
        "space": config.space,
        "fmt": config.fmt,
        "sessions": config.sessions,
        "voxels": config.roi,
        "atlases": config.atlases,
    }


def _bold5000_prepare_options(config: Any) -> dict[str, Any]:
    return {"release": "glmsingle", "sessions": config.sessions, "voxels": config.roi}


def _nsd_verify(root: Any, subjects: Any, sessions: Any, fmt: Any, manifest: Any) -> list[Any]:
    from neurodecode.data._verify import verify_release

    return verify_release(root, subjects, sessions, fmt, manifest)


def _bold5000_verify(root: Any, subjects: Any, sessions: Any, fmt: Any, manifest: Any) -> list[Any]:
    from neurodecode.data._verify_bold5000 import verify_bold5000

    return verify_bold5000(root, subjects, sessions, manifest)


_BUILTIN_DONE = False


def _ensure_builtin() -> None:
    global _BUILTIN_DONE
    if _BUILTIN_DONE:
        return
    _BUILTIN_DONE = True
    from neurodecode.data import _bold5000, _nsd
    from neurodecode.data import _bold5000_layout as b5k
    from neurodecode.data import _nsd_layout as nsd
    from neurodecode.data._manifest import bold5000_manifest, nsd_manifest

    register_dataset(
        DatasetSpec(
            name="nsd",
            title="Natural Scenes Dataset",
            layout=nsd,
            load_subject=_nsd.load_nsd_subject,
            verify=_nsd_verify,
            prepare_options=_nsd_prepare_options,
            default_space=nsd.DEFAULT_SPACE,
            default_roi="nsdgeneral",
            root_env="NEURODECODE_NSD_ROOT",
            build_manifest=nsd_manifest,
            subjects=nsd.SUBJECTS,
            beta_formats=("hdf5", "nii.gz"),
            uniform_image_size=True,
            evaluate_rois=_nsd.evaluate_roi_files,
            background=_nsd.background_image,
        )
    )
    register_dataset(
        DatasetSpec(
            name="bold5000",
            title="BOLD5000",
            layout=b5k,
            load_subject=_bold5000.load_bold5000_subject,
            verify=_bold5000_verify,
            prepare_options=_bold5000_prepare_options,
            default_space="T1w",
            default_roi=None,
            root_env="NEURODECODE_BOLD5000_ROOT",
            build_manifest=bold5000_manifest,
            subjects=b5k.SUBJECTS,
            beta_formats=("nii.gz",),
            uniform_image_size=False,
            evaluate_rois=_bold5000.evaluate_roi_files,
            background=_bold5000.background_image,
        )
    )


def build_manifest(dataset: str) -> dict[str, Any]:
    """The manifest of the real ``dataset`` release (a registered dataset name)."""
    return get_dataset(dataset).build_manifest()


def load_manifest(dataset: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A dataset's manifest: ``path`` (e.g. one with checksums a user recorded), else the
    packaged one. Raises :class:`ReleaseError` naming the file when it is not a manifest."""
    from neurodecode.data._manifest import MANIFEST_DIR, read_manifest

    name = get_dataset(dataset).name
    return read_manifest(Path(path) if path is not None else MANIFEST_DIR / f"{name}.json")


def write_manifests(folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """(Re)write ``folder/<dataset>.json`` (default the packaged ones) for every dataset."""
    import json

    from neurodecode.data._manifest import MANIFEST_DIR

    folder = MANIFEST_DIR if folder is None else folder

    out = []
    for name in list_datasets():
        path = Path(folder) / f"{name}.json"
        path.write_text(json.dumps(build_manifest(name), indent=1) + "\n")
        out.append(path)
    return out


def dataset_names() -> Sequence[str]:
    """The registered names (for a Config's ``choices``)."""
    return list_datasets()
