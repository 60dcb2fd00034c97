# Shared definitions: config validation, subject wildcards and the BIDS-derivatives layout.
# Paths are relative to the working directory (the derivatives folder); every stage writes
# its outputs atomically together with a JSON sidecar (<output stem>.json).
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


# Release files are passed to stages as params with the release root as the declared input:
# a synthesised release is one directory() output, whose files Snakemake cannot see one by one.
def roi_files(wildcards):
    """ROI label volumes and their label tables, from the release's own layout module."""
    if DATASET != "nsd":
        raise ValueError(f"ROI summaries are wired for NSD only so far, not {DATASET}")
    from neurodecode.data import _nsd_layout as layout

    atlases = config["evaluate"].get("atlases", ["prf-visualrois", "floc-faces", "floc-places"])
    return {
        "atlases": [release_path(layout.roi_path(wildcards.subject, a, GRID)) for a in atlases],
        "labels": [release_path(layout.ctab_path(wildcards.subject, a)) for a in atlases],
    }


def background_image(wildcards):
    """The subject's anatomical underlay on the functional grid (the release brain mask)."""
    from neurodecode.data import _nsd_layout as layout

    return release_path(layout.brainmask_path(wildcards.subject, GRID))


def named_inputs(names, paths):
    """Command-line ``NAME=PATH`` pairs for the stage CLIs."""
    return " ".join(f"{n}={p}" for n, p in zip(names, paths, strict=True))


def feature_option(name, key, default=None):
    """A feature space's setting from the config (the spaces are a list of mappings)."""
    for fs in config["feature_spaces"]:
        if fs["name"] == name:
            return fs.get(key, default)
    raise KeyError(name)
