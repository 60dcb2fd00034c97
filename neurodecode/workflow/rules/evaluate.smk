# Per-ROI summary of the voxelwise scores: means, bootstrap CIs, noise ceilings, best space.


rule evaluate:
    input:
        cache=PREPARED,
        scores=expand(SCOREMAP, fspace=SPACES, allow_missing=True),
    output:
        table=ROITABLE,
        sidecar=sidecar(ROITABLE),
    conda:
        ENV
    log:
        "logs/evaluate/sub-{subject}.log",
    params:
        n_bootstrap=config["evaluate"].get("n_bootstrap", 1000),
        ci=config["evaluate"].get("ci", 0.95),
        seed=config["seed"],
    shell:
        "neurodecode evaluate --cache {input.cache} --scores {input.scores}"
        " --n-bootstrap {params.n_bootstrap} --ci {params.ci} --seed {params.seed}"
        " --out {output.table} > {log} 2>&1"
