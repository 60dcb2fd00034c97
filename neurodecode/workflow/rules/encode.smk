# Voxelwise encoding models: one fit per subject and feature space.


rule encode:
    input:
        cache=PREPARED,
        features=FEATURES,
    output:
        scores=SCOREMAP,
        sidecar=sidecar(SCOREMAP),
    conda:
        ENV
    log:
        "logs/encode/sub-{subject}_desc-{fspace}.log",
    params:
        metric=METRIC,
        seed=config["seed"],
    threads: 1
    shell:
        "neurodecode encode --cache {input.cache} --features {input.features}"
        " --metric {params.metric} --seed {params.seed} --threads {threads}"
        " --out {output.scores} > {log} 2>&1"
