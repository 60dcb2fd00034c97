# One self-contained HTML report per subject at the top of the derivatives folder.


rule report:
    input:
        table=ROITABLE,
        scores=expand(SCOREMAP, fspace=SPACES, allow_missing=True),
        root=DATA_ROOT,
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
    shell:
        "neurodecode report --subject {wildcards.subject} --dataset {params.dataset}"
        " --table {input.table} --scores {params.scores} --background {params.background}"
        " --out {output.html} > {log} 2>&1"
