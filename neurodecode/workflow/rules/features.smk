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
    shell:
        "neurodecode features --subject {wildcards.subject} --cache . --space {params.grid}"
        " --model {params.extractor} --out {output.features} --no-progress > {log} 2>&1"
