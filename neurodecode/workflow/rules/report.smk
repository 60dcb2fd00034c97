# One self-contained HTML report per subject at the top of the derivatives folder, with one
# section per capability that is on: the rule collects whatever outputs the rule files put in
# REPORT_INPUTS. The prepared cache lets sections show the release's images (and, on a
# synthetic release, score against the ground truth).


rule report:
    input:
        outputs=report_inputs,
        cache=PREPARED,
        root=DATA_ROOT,
    output:
        html=REPORT,
        sidecar=sidecar(REPORT),
    conda:
        ENV
    log:
        "logs/report/sub-{subject}.log",
    params:
        dataset=DATASET.name,
        grid=GRID,
        background=background_image,
    shell:
        "neurodecode report --subject {wildcards.subject:q} --dataset {params.dataset:q}"
        " --inputs {input.outputs:q} --cache . --space {params.grid:q}"
        " --background {params.background:q} --out {output.html:q} > {log:q} 2>&1"
