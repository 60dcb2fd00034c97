# One self-contained HTML report per subject at the top of the derivatives folder. With a
# `contrastive` section the report adds the retrieval results and example images (read from
# the release through the prepared cache).


rule report:
    input:
        table=ROITABLE,
        scores=expand(SCOREMAP, fspace=SPACES, allow_missing=True),
        root=DATA_ROOT,
        contrastive=CONTRASTIVE if "contrastive" in config else [],
        cache=PREPARED if "contrastive" in config else [],
    output:
        html=REPORT,
        sidecar=sidecar(REPORT),
    conda:
        ENV
    log:
        "logs/report/sub-{subject}.log",
    params:
        dataset=DATASET,
        scores=lambda wc, input: named_inputs(SPACES, input.scores),
        background=background_image,
        contrastive=lambda wc, input: (
            f"--contrastive {input.contrastive} --cache-dir ." if input.contrastive else ""
        ),
    shell:
        "neurodecode report --subject {wildcards.subject} --dataset {params.dataset}"
        " --table {input.table} --scores {params.scores} --background {params.background}"
        " {params.contrastive} --out {output.html} > {log} 2>&1"
