# Shared definitions: config validation, subject wildcards, the BIDS-derivatives layout, and
# the report inputs that optional capabilities add to. Paths are relative to the working
# directory (the derivatives folder); every stage writes its outputs atomically together with a
# JSON sidecar. Every value handed to a stage is quoted in the shell command (the q format
# flag, or shlex.quote in the helpers below), so no config string reaches the shell unquoted.
import functools
import shlex
from pathlib import Path

from snakemake.utils import validate

from neurodecode._provenance import sidecar_path
from neurodecode.data import get_dataset


validate(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))

DATASET = get_dataset(config["dataset"])  # an unknown name lists the registered datasets
DATA_ROOT = config["data_root"]
if not DATA_ROOT:
    raise ValueError(
        "config: data_root is empty; set it, or let `neurodecode run --data-root` resolve it"
    )
SUBJECTS = list(config["subjects"])
SPACES = [fs["name"] for fs in config["feature_spaces"]]
GRID = config["space"]
METRIC = config["evaluate"]["metric"]
SEED = config["seed"]


wildcard_constraints:
    subject="|".join(SUBJECTS),
    fspace="|".join(SPACES),


def sidecar(path):
    """The JSON sidecar a stage writes beside an output (the package's one naming rule)."""
    return str(sidecar_path(path))


VERIFY = "sub-{subject}/sub-{subject}_desc-verify_report.json"
PREPARED = f"sub-{{subject}}/sub-{{subject}}_space-{GRID}_desc-prepared_bold.h5"
FEATURES = "sub-{subject}/features/sub-{subject}_desc-{fspace}_features.h5"
STATMAP = f"sub-{{subject}}/sub-{{subject}}_space-{GRID}_desc-{{fspace}}_stat-{{stat}}_statmap.nii.gz"
SCOREMAP = STATMAP.replace("{stat}", METRIC)
NOISECEILING = STATMAP.replace("{stat}", "noiseceiling")
ENCODER = "sub-{subject}/sub-{subject}_desc-{fspace}_model"
ENCODE_ROIS = "sub-{subject}/sub-{subject}_desc-{fspace}_rois.tsv"
ROITABLE = f"sub-{{subject}}/sub-{{subject}}_desc-encoding_stat-{METRIC}_rois.tsv"
REPORT = "sub-{subject}.html"
ENV = "../envs/neurodecode.yaml"

#: Outputs each subject's report shows (patterns with {subject}); optional rule files add theirs.
REPORT_INPUTS = [ROITABLE]


def report_inputs(wildcards):
    return [p.format(subject=wildcards.subject) for p in REPORT_INPUTS]


def quoted(paths):
    """Shell-quoted, space-separated paths."""
    return " ".join(shlex.quote(str(p)) for p in paths)


def pairs(mapping):
    """Shell-quoted NAME=PATH[,PATH...] items for a stage's mapping flag."""
    items = []
    for name, value in mapping.items():
        value = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        items.append(shlex.quote(f"{name}={value}"))
    return " ".join(items)


def flags(section, skip=()):
    """A config section as stage flags (`n_splits: 5` -> `--n-splits 5`), every value quoted."""
    out = []
    for key, value in (section or {}).items():
        if key in skip:
            continue
        flag = f"--{str(key).replace('_', '-')}"
        if isinstance(value, bool):
            out.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, (list, tuple)):
            out += [flag, quoted(value)]
        else:
            out += [flag, shlex.quote(str(value))]
    return " ".join(out)


@functools.cache
def roi_files(subject):
    """ROIs of a subject for `neurodecode evaluate`, from the dataset registry: label volumes
    with their ctab files, and/or binary masks. Before the release exists (a dry run, a world
    still to synthesise) the layout's default paths stand in."""
    chosen = tuple(config["evaluate"].get("atlases") or ()) or None
    return DATASET.evaluate_rois(Path(DATA_ROOT), subject, GRID, chosen)


roi_files(SUBJECTS[0])  # unknown ROI names fail when the workflow is read, not at evaluate


def background_image(wildcards):
    """The subject's anatomical underlay on the functional grid (from the registry)."""
    return str(DATASET.background(Path(DATA_ROOT), wildcards.subject, GRID))


def evaluate_rois(wildcards):
    """The ROI flags of `neurodecode evaluate` for one subject."""
    rois = roi_files(wildcards.subject)
    out = []
    if rois["atlases"]:
        names = [os.path.basename(str(a)).split(".nii")[0] for a in rois["atlases"]]
        out += ["--atlases", quoted(rois["atlases"])]
        out += ["--labels", pairs(dict(zip(names, rois["labels"], strict=True)))]
    if rois["masks"]:
        out += ["--masks", pairs(rois["masks"])]
    return " ".join(out)


def feature_option(name, key, default=None):
    """A feature space's setting from the config (the spaces are a list of mappings)."""
    for fs in config["feature_spaces"]:
        if fs["name"] == name:
            return fs.get(key, default)
    raise KeyError(name)


def device(wildcards, resources):
    """cuda when the profile grants the job a `gpu` resource (profiles/slurm), else cpu."""
    return "cuda" if getattr(resources, "gpu", 0) else "cpu"
