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
        missing=lambda wc: feature_option(wc.fspace, "missing_captions", "error"),
        grid=GRID,
        device=device,
    shell:
        "neurodecode features --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
        " --model {params.extractor:q} --missing-captions {params.missing:q}"
        " --out {output.features:q} --device {params.device:q} --no-progress > {log:q} 2>&1"
