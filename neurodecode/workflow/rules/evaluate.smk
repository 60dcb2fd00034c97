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
        rois=evaluate_rois,
        metric=METRIC,
        n_bootstrap=config["evaluate"].get("n_bootstrap", 1000),
        ci=config["evaluate"].get("ci", 0.95),
        seed=config["seed"],
    shell:
        "neurodecode evaluate --scores {params.scores} {params.rois}"
        " --noise-ceiling {input.noise_ceiling} --metric {params.metric}"
        " --n-bootstrap {params.n_bootstrap} --ci {params.ci} --seed {params.seed}"
        " --out {output.table} > {log} 2>&1"
