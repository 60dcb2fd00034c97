# One self-contained HTML report per subject at the top of the derivatives folder.


rule report:
    input:
        table=ROITABLE,
        scores=expand(SCOREMAP, fspace=SPACES, allow_missing=True),
        cache=PREPARED,
    output:
        html=REPORT,
        sidecar=sidecar(REPORT),
    conda:
        ENV
    log:
        "logs/report/sub-{subject}.log",
    params:
        dataset=DATASET,
    shell:
        "neurodecode report --subject {wildcards.subject} --dataset {params.dataset}"
        " --table {input.table} --scores {input.scores} --cache {input.cache}"
        " --out {output.html} > {log} 2>&1"
