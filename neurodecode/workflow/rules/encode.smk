# Voxelwise encoding models: one ridge fit per subject and feature space.


rule encode:
    input:
        cache=PREPARED,
        features=FEATURES,
    output:
        scores=SCOREMAP,
        sidecar=sidecar(SCOREMAP),
        noise_ceiling=NOISECEILING,
    conda:
        ENV
    log:
        "logs/encode/sub-{subject}_desc-{fspace}.log",
    params:
        grid=GRID,
        seed=config["seed"],
        device=lambda wc, resources: "cuda" if getattr(resources, "gpu", 0) else "cpu",
    threads: 1
    shell:
        "neurodecode encode --subject {wildcards.subject} --cache . --space {params.grid}"
        " --features {input.features} --desc {wildcards.fspace} --seed {params.seed}"
        " --device {params.device} --out sub-{wildcards.subject} > {log} 2>&1"
