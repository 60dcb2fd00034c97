# Per-ROI summary of the voxelwise scores: means, bootstrap CIs, noise ceilings, best space.


rule evaluate:
    input:
        root=DATA_ROOT,
        scores=expand(SCOREMAP, fspace=SPACES, allow_missing=True),
        noise_ceiling=expand(NOISECEILING, fspace=SPACES[0], allow_missing=True),
    output:
        table=ROITABLE,
        sidecar=sidecar(ROITABLE),
    conda:
        ENV
    log:
        "logs/evaluate/sub-{subject}.log",
    params:
        scores=lambda wc, input: named_inputs(SPACES, input.scores),
        atlases=lambda wc: " ".join(roi_files(wc)["atlases"]),
        labels=lambda wc: named_inputs(
            [os.path.basename(a).split(".nii")[0] for a in roi_files(wc)["atlases"]],
            roi_files(wc)["labels"],
        ),
        metric=METRIC,
        n_bootstrap=config["evaluate"].get("n_bootstrap", 1000),
        ci=config["evaluate"].get("ci", 0.95),
        seed=config["seed"],
    shell:
        "neurodecode evaluate --scores {params.scores} --atlas {params.atlases}"
        " --labels {params.labels} --noise-ceiling {input.noise_ceiling} --metric {params.metric}"
        " --n-bootstrap {params.n_bootstrap} --ci {params.ci} --seed {params.seed}"
        " --out {output.table} > {log} 2>&1"
