# Shared definitions: config validation, subject wildcards and the BIDS-derivatives layout.
# Paths are relative to the working directory (the derivatives folder); every stage writes
# its outputs atomically together with a JSON sidecar (<output stem>.json).
import functools
from pathlib import Path

from snakemake.utils import validate


validate(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))

DATASET = config["dataset"]
DATA_ROOT = config["data_root"]
if not DATA_ROOT:
    raise ValueError(
        "config: data_root is empty; set it, or let `neurodecode run --data-root` resolve it"
    )
SUBJECTS = list(config["subjects"])
SPACES = [fs["name"] for fs in config["feature_spaces"]]
GRID = config["space"]
METRIC = config["evaluate"]["metric"]


wildcard_constraints:
    subject="|".join(SUBJECTS),
    fspace="|".join(SPACES),


def sidecar(path):
    """The JSON sidecar every stage writes beside an output (x.nii.gz -> x.json)."""
    for suffix in (".nii.gz", ".h5", ".tsv", ".html", ".npz"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + ".json"
    raise ValueError(path)


VERIFY = "sub-{subject}/sub-{subject}_desc-verify_report.json"
PREPARED = f"sub-{{subject}}/sub-{{subject}}_space-{GRID}_desc-prepared_bold.h5"
FEATURES = "sub-{subject}/features/sub-{subject}_desc-{fspace}_features.h5"
SCOREMAP = (
    f"sub-{{subject}}/sub-{{subject}}_space-{GRID}_desc-{{fspace}}_stat-{METRIC}_statmap.nii.gz"
)
NOISECEILING = (
    f"sub-{{subject}}/sub-{{subject}}_space-{GRID}_desc-{{fspace}}_stat-noiseceiling_statmap.nii.gz"
)
ROITABLE = f"sub-{{subject}}/sub-{{subject}}_desc-encoding_stat-{METRIC}_rois.tsv"
REPORT = "sub-{subject}.html"
ENV = "../envs/neurodecode.yaml"


def release_path(relative):
    """A file of the release, given its path relative to the release root."""
    return os.path.join(DATA_ROOT, str(relative))


def layout():
    """The dataset's layout module: every path below comes from it."""
    from neurodecode.data import _bold5000_layout, _nsd_layout

    return {"nsd": _nsd_layout, "bold5000": _bold5000_layout}[DATASET]


def located(relative):
    """A release file; where DATA_FORMATS marks its folder unverified (BOLD5000 release 2.0 and
    the OpenNeuro masks), the file of that name anywhere under the root, as the readers do."""
    from neurodecode.data._volumes import find_file

    if DATASET == "nsd" or not os.path.isdir(DATA_ROOT):
        return release_path(relative)
    return str(find_file(Path(DATA_ROOT), Path(relative)))


# Release files are passed to stages as params with the release root as the declared input:
# a synthesised release is one directory() output, whose files Snakemake cannot see one by one.
@functools.cache
def roi_files(subject):
    """ROIs of a subject for `neurodecode evaluate`, from the release's own layout.

    NSD: label volumes (``atlases``) with their ctab files (``labels``); ``evaluate.atlases``
    picks the atlases. BOLD5000: one binary mask per hemisphere and ROI (``masks``: name ->
    files), summarised per hemisphere and for both together; ``evaluate.atlases`` picks ROI
    names among EarlyVis, LOC, OPA, PPA, RSC (default all). Mask files are found under the
    root as the reader finds them (CSI2/CSI3 spell some names differently); before the
    release exists (a dry run, a world still to synthesise) the layout's default paths stand in.
    """
    lay = layout()
    chosen = config["evaluate"].get("atlases")
    if DATASET == "nsd":
        atlases = chosen or ["prf-visualrois", "floc-faces", "floc-places"]
        return {
            "atlases": [release_path(lay.roi_path(subject, a, GRID)) for a in atlases],
            "labels": [release_path(lay.ctab_path(subject, a)) for a in atlases],
            "masks": {},
        }
    from neurodecode.data._bold5000 import BOLD5000Subject

    found = {}
    if os.path.isdir(DATA_ROOT):
        # the reader's own search, so that the workflow and `prepare` see the same masks
        hits = BOLD5000Subject._find_roi_masks(Path(DATA_ROOT), subject)
        found = {name: str(path) for name, path in hits.items()}
    masks = {}
    for roi in chosen or lay.ROI_NAMES:
        sides = []
        for hemi in lay.HEMISPHERES:
            path = found.get(hemi + roi)
            if path is None and not found:
                path = release_path(lay.roi_mask_path(subject, hemi, roi))
            if path is not None:
                masks[hemi + roi] = [path]
                sides.append(path)
        if len(sides) > 1:
            masks[roi] = sides
    return {"atlases": [], "labels": [], "masks": masks}


if DATASET == "bold5000":  # checked when the workflow is read, not when evaluate runs
    _unknown = sorted(set(config["evaluate"].get("atlases", ())) - set(layout().ROI_NAMES))
    if _unknown:
        raise ValueError(
            f"config: evaluate/atlases: {_unknown} are not BOLD5000 ROIs {layout().ROI_NAMES}"
        )


def background_image(wildcards):
    """The subject's anatomical underlay on the functional grid (the release brain mask)."""
    if DATASET == "nsd":
        return release_path(layout().brainmask_path(wildcards.subject, GRID))
    return located(layout().brainmask_path(wildcards.subject))


def evaluate_rois(wildcards):
    """The ROI flags of `neurodecode evaluate` for one subject."""
    rois = roi_files(wildcards.subject)
    flags = []
    if rois["atlases"]:
        names = [os.path.basename(a).split(".nii")[0] for a in rois["atlases"]]
        flags += ["--atlas", *rois["atlases"], "--labels", named_inputs(names, rois["labels"])]
    if rois["masks"]:
        flags += ["--mask", *(f"{n}={','.join(p)}" for n, p in rois["masks"].items())]
    return " ".join(flags)


def named_inputs(names, paths):
    """Command-line ``NAME=PATH`` pairs for the stage CLIs."""
    return " ".join(f"{n}={p}" for n, p in zip(names, paths, strict=True))


def feature_option(name, key, default=None):
    """A feature space's setting from the config (the spaces are a list of mappings)."""
    for fs in config["feature_spaces"]:
        if fs["name"] == name:
            return fs.get(key, default)
    raise KeyError(name)
