# Stimulus features: one file per subject and feature space, keyed by stimulus id.


rule features:
    input:
        cache=PREPARED,
    output:
        features=FEATURES,
        sidecar=sidecar(FEATURES),
    conda:
        ENV
    log:
        "logs/features/sub-{subject}_desc-{fspace}.log",
    params:
        extractor=lambda wc: feature_option(wc.fspace, "extractor"),
        grid=GRID,
        device=lambda wc, resources: "cuda" if getattr(resources, "gpu", 0) else "cpu",
    shell:
        "neurodecode features --subject {wildcards.subject} --cache . --space {params.grid}"
        " --model {params.extractor} --out {output.features} --device {params.device} --no-progress > {log} 2>&1"
