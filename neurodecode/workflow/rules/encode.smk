# Voxelwise encoding models: one ridge fit per subject and feature space, and one banded
# ridge per entry of `encode: banded` (several feature spaces fitted together). The keys of the
# `encode` section (schema-checked) are passed to `neurodecode encode` as flags.

ENCODE_FLAGS = flags(config.get("encode"), skip=("banded",))
BANDED = {model["name"]: model["spaces"] for model in config.get("encode", {}).get("banded", [])}
for _name, _spaces in BANDED.items():
    _unknown = sorted(set(_spaces) - set(SPACES))
    if _unknown:
        raise ValueError(f"config: encode/banded/{_name}: {_unknown} are not feature spaces")


rule encode:
    input:
        cache=PREPARED,
        features=FEATURES,
    output:
        scores=SCOREMAP,
        sidecar=sidecar(SCOREMAP),
        noise_ceiling=NOISECEILING,
        model=directory(ENCODER),
        rois=ENCODE_ROIS,
    conda:
        ENV
    log:
        "logs/encode/sub-{subject}_desc-{fspace}.log",
    params:
        grid=GRID,
        seed=SEED,
        options=ENCODE_FLAGS,
        device=device,
    shell:
        "neurodecode encode --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
        " --features {input.features:q} --desc {wildcards.fspace:q} --seed {params.seed}"
        " {params.options} --device {params.device:q} --out sub-{wildcards.subject:q}"
        " > {log:q} 2>&1"


if BANDED:

    BANDED_ENCODER = "sub-{subject}/sub-{subject}_desc-{banded}_model"
    BANDED_ROIS = "sub-{subject}/sub-{subject}_desc-{banded}_rois.tsv"
    REPORT_INPUTS += [BANDED_ROIS.replace("{banded}", name) for name in BANDED]

    wildcard_constraints:
        banded="|".join(BANDED),

    rule encode_banded:
        input:
            cache=PREPARED,
            features=lambda wc: expand(
                FEATURES, subject=wc.subject, fspace=BANDED[wc.banded]
            ),
        output:
            model=directory(BANDED_ENCODER),
            rois=BANDED_ROIS,
        conda:
            ENV
        log:
            "logs/encode/sub-{subject}_desc-{banded}.log",
        params:
            grid=GRID,
            seed=SEED,
            options=ENCODE_FLAGS,
            device=device,
        shell:
            "neurodecode encode --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
            " --features {input.features:q} --desc {wildcards.banded:q} --seed {params.seed}"
            " {params.options} --device {params.device:q} --out sub-{wildcards.subject:q}"
            " > {log:q} 2>&1"
