# Stimulus features: one file per feature space for the whole dataset, keyed by stimulus id.


rule features:
    input:
        DATA_ROOT,
    output:
        features=FEATURES,
        sidecar=sidecar(FEATURES),
    conda:
        ENV
    log:
        "logs/features/desc-{fspace}.log",
    params:
        dataset=DATASET,
        extractor=lambda wc: feature_option(wc.fspace, "extractor"),
        model=lambda wc: (
            f"--model {feature_option(wc.fspace, 'model')}"
            if feature_option(wc.fspace, "model")
            else ""
        ),
        subjects=" ".join(SUBJECTS),
    shell:
        "neurodecode features --dataset {params.dataset} --root {input} --subjects {params.subjects}"
        " --extractor {params.extractor} {params.model} --out {output.features} > {log} 2>&1"
